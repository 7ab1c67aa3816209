// Keeps the per-node copies of VolumeGroupSnapshotClasses (src/rules/node-classes.ts says why):
// one copy of each class of a driver per node whose CSINode lists that driver, made again when
// the class changes and removed when the class or the node goes. Runs on the leader beside the
// schedules: a pass on every class or CSINode event and at least every resync period.
import type { Connection } from "../kube/connection.ts";
import { errorMessage, type Logger } from "../kube/log.ts";
import { ApiError, getJson } from "../kube/rest.ts";
import { desiredNodeClasses, planNodeClasses, type VolumeGroupSnapshotClass } from "../rules/index.ts";
import { sendJson } from "./api.ts";
import { runPasses } from "./loop.ts";

const CLASSES = "/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshotclasses";
const CSINODES = "/apis/storage.k8s.io/v1/csinodes";

interface CsiNode {
  metadata: { name: string };
  spec?: { drivers?: { name: string }[] | null };
}

/** One pass: reads the classes and CSINodes, creates and removes copies. Returns what it did. */
export async function syncNodeClasses(
  conn: Connection,
  log: Logger,
): Promise<{ created: string[]; removed: string[] }> {
  const classes = (await getJson<{ items: VolumeGroupSnapshotClass[] }>(conn, CLASSES))?.items;
  if (!classes) return { created: [], removed: [] }; // the group snapshot CRDs are not installed
  const nodes = (await getJson<{ items: CsiNode[] }>(conn, CSINODES))?.items ?? [];
  const byDriver = new Map<string, string[]>();
  for (const n of nodes)
    for (const d of n.spec?.drivers ?? [])
      byDriver.set(d.name, [...(byDriver.get(d.name) ?? []), n.metadata.name]);
  const plan = planNodeClasses(classes, desiredNodeClasses(classes, byDriver));
  for (const name of plan.remove) {
    try {
      await sendJson(conn, "DELETE", `${CLASSES}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
    log.info("removed a per-node VolumeGroupSnapshotClass", { class: name });
  }
  for (const c of plan.create) {
    try {
      await sendJson(conn, "POST", CLASSES, c);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
    log.info("made a per-node VolumeGroupSnapshotClass", {
      class: c.metadata.name,
      copyOf: c.metadata.labels?.["vol.kubectl.io/copy-of"],
      node: c.metadata.labels?.["snapshot.storage.kubernetes.io/managed-by"],
    });
  }
  return { created: plan.create.map((c) => c.metadata.name), removed: plan.remove };
}

/** Runs passes until `signal` aborts. */
export async function runNodeClassLoop(
  o: { conn: Connection; log: Logger; resyncMs: number },
  signal: AbortSignal,
): Promise<void> {
  const watches = [`${CLASSES}?watch=1`, `${CSINODES}?watch=1`];
  await runPasses({ conn: o.conn, log: o.log, watches }, signal, async () => {
    try {
      await syncNodeClasses(o.conn, o.log);
      return Date.now() + o.resyncMs;
    } catch (err) {
      o.log.warn("cannot keep the per-node VolumeGroupSnapshotClasses, retrying", {
        error: errorMessage(err),
      });
      return Date.now() + Math.min(o.resyncMs, 2000);
    }
  });
}

// The mutating handler for snapshot contents of a node-local driver: fills in the
// snapshot.storage.kubernetes.io/managed-by label that snapshot-controller leaves out of group
// snapshot contents (see src/rules/managed-by.ts), so the csi-snapshotter of the members' node
// acts on them; a group's content is pointed at its node's copy of its class. A content that
// has the label, or whose node cannot be derived, is admitted as it is (with a warning saying
// why no label was set); one whose volumes cannot be read in time is refused, to be retried
// (admitted unlabelled it would be stuck for good). The configuration fails closed for the same
// reason (manifests/base/webhook-configurations.yaml).
import fastJsonPatch from "fast-json-patch";
import {
  contentClassFor,
  managedByFor,
  NODE_KEYS,
  SNAPSHOT_MANAGED_BY,
  type SnapshotContentLike,
} from "../rules/index.ts";
import { within } from "./deadline.ts";
import type { Handler } from "./handlers.ts";

export const labelContent: Handler = async (req, lookups, deadline) => {
  const content = req.subject.object as SnapshotContentLike | undefined;
  const driver = content?.spec?.driver;
  if (req.operation !== "CREATE" || !content || !driver || content.metadata?.labels?.[SNAPSHOT_MANAGED_BY]) {
    return { response: { allowed: true }, findings: [] };
  }
  const derive = async (lookup: typeof lookups.cached) =>
    managedByFor(content, driver, NODE_KEYS, (await lookup.persistentVolumes?.()) ?? []);
  let got = await within(derive(lookups.cached), deadline);
  // A volume provisioned a moment ago may not be in the cache yet: ask the API itself.
  if (got && !got.node && lookups.direct)
    got = (await within(derive(lookups.direct), deadline).catch(() => undefined)) ?? got;
  if (!got) {
    // Admitted without the label, it would never be acted on (nor its class changed: it is
    // immutable), so it is refused; snapshot-controller and csi-snapshotter retry the create.
    const name = content.metadata?.name ?? "";
    const message = `${req.subject.kind} "${name}": its volumes could not be read in time to label it with its node, so it is refused and will be retried by its creator`;
    return {
      response: { allowed: false, status: { code: 503, reason: "ServiceUnavailable", message } },
      findings: [],
      late: true,
    };
  }
  const warnings = got.findings.map((f) => f.message);
  if (!got.node) return { response: { allowed: true, warnings }, findings: got.findings };
  const labelled = structuredClone(content);
  labelled.metadata ??= {};
  labelled.metadata.labels = { ...labelled.metadata.labels, [SNAPSHOT_MANAGED_BY]: got.node };
  // A group's content names its class, which that node's csi-snapshotter must be able to list:
  // its node's copy (kept by vol-controller, see src/rules/node-classes.ts).
  if (req.subject.kind === "VolumeGroupSnapshotContent" && labelled.spec?.volumeGroupSnapshotClassName) {
    const classes = await lookups.cached.volumeGroupSnapshotClasses?.().catch(() => undefined);
    const copy = contentClassFor(labelled.spec.volumeGroupSnapshotClassName, got.node, classes);
    if (copy) labelled.spec.volumeGroupSnapshotClassName = copy;
  }
  const patch = fastJsonPatch.compare(content as object, labelled as object);
  return { response: { allowed: true, patch, warnings }, findings: got.findings };
};

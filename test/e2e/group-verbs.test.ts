import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../src/localcluster/cluster.ts";
import { type Ctx, podYaml, type Result } from "../../src/localcluster/scenarios.ts";
import { waitUntil } from "../../src/localcluster/session.ts";
import { clusterWithNamespace } from "./start.ts";

const NS = "groups";
let cluster: Cluster;
let ctx: Ctx;
const transcript: string[] = [];

async function must(r: Promise<Result>, what: string): Promise<Result> {
  const res = await r;
  expect(res.code, `${what}\n${res.stderr}\n--- transcript ---\n${transcript.slice(-30).join("\n")}`).toBe(0);
  return res;
}

/** A pod mounting `claim` at /data (on `node` when given), Ready; the node it runs on. */
async function pod(name: string, claim: string, node?: string): Promise<string> {
  await must(ctx.kubectl(["apply", "-f", "-"], podYaml(name, claim, node ? { node } : {})), `pod ${name}`);
  await must(
    ctx.kubectl(["wait", "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]),
    `pod ${name} Ready`,
  );
  return (await ctx.kubectl(["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"])).stdout.trim();
}

const sh = async (podName: string, script: string) =>
  (await must(ctx.kubectl(["exec", podName, "--", "sh", "-c", script]), `exec ${podName}: ${script}`)).stdout;

const claim = (name: string) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, labels: { app: "db" } },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "vol-local",
      resources: { requests: { storage: "1Gi" } },
    },
  });

describe.sequential("group snapshots on real nodes", () => {
  beforeAll(async () => {
    ({ cluster, ctx } = await clusterWithNamespace(NS, 1, transcript));
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 240_000);

  it("snapshot -l --wait, restore vgs/NAME --wait, and pods read the restored data", async () => {
    for (const c of ["data", "wal"]) await must(ctx.kubectl(["apply", "-f", "-"], claim(c)), `claim ${c}`);
    const node = await pod("db-data", "data");
    await pod("db-wal", "wal", node);
    await sh("db-data", "echo data-1 > /data/f && sync");
    await sh("db-wal", "echo wal-1 > /data/f && sync");

    const snap = await must(
      ctx.vol(["snapshot", "-l", "app=db", "--name", "db-group", "--wait"]),
      "snapshot -l",
    );
    expect(snap.stdout).toBe("volumegroupsnapshot.groupsnapshot.storage.k8s.io/db-group created\n");
    expect(snap.stderr).toMatch(
      /volumegroupsnapshot\/db-group: ready to use: 2 members \(pvc\/data ready.*pvc\/wal ready/,
    );

    await sh("db-data", "echo data-2 >> /data/f && sync");
    await sh("db-wal", "echo wal-2 >> /data/f && sync");

    const restore = await must(ctx.vol(["restore", "vgs/db-group", "--wait"]), "restore vgs/db-group");
    expect(restore.stdout).toBe(
      "persistentvolumeclaim/data-db-group created\npersistentvolumeclaim/wal-db-group created\n",
    );
    expect(restore.stderr).toMatch(/pvc\/data-db-group: Bound to /);
    expect(restore.stderr).toMatch(/pvc\/wal-db-group: Bound to /);

    expect(await pod("read-data", "data-db-group")).toBe(node);
    await pod("read-wal", "wal-db-group");
    expect(await sh("read-data", "cat /data/f")).toBe("data-1\n");
    expect(await sh("read-wal", "cat /data/f")).toBe("wal-1\n");
    expect(await sh("db-data", "cat /data/f")).toBe("data-1\ndata-2\n");

    const tree = await must(ctx.vol(["tree", "vgs/db-group"]), "tree vgs/db-group");
    const names = tree.stdout.split("\n").map((l) => l.split(/\s{3,}/)[0]);
    expect(names.slice(1, 6)).toEqual([
      "volumegroupsnapshot/db-group",
      expect.stringMatching(/^├─volumesnapshot\/\S+$/),
      "│ └─pvc/data-db-group",
      expect.stringMatching(/^└─volumesnapshot\/\S+$/),
      "  └─pvc/wal-db-group",
    ]);
  }, 420_000);

  it("a group snapshot taken while the webhook is down waits (its content is refused, not stuck) and is cut once the webhook is back", async () => {
    const webhook = ["-n", "vol-system", "deployment/vol-webhook"];
    await must(ctx.kubectl(["scale", ...webhook, "--replicas=0"]), "scale the webhook to 0");
    await must(
      ctx.kubectl([
        "wait",
        "--for=delete",
        "pod",
        "-n",
        "vol-system",
        "-l",
        "app.kubernetes.io/name=vol-webhook",
        "--timeout=60s",
      ]),
      "webhook pods gone",
    );
    try {
      await must(
        ctx.vol(["snapshot", "-l", "app=db", "--name", "db-outage"]),
        "snapshot -l while the webhook is down",
      );
      // snapshot-controller tries to make the group's content and the API server refuses it (the
      // webhook fails closed). The outage is kept short: the controller's retries back off
      // exponentially (to 5 minutes) the longer it lasts.
      let group: { status?: { readyToUse?: boolean; error?: { message?: string } } } = {};
      await waitUntil(
        "the group's content refused",
        async () => {
          const r = await must(ctx.kubectl(["get", "vgs", "db-outage", "-o", "json"]), "get");
          group = JSON.parse(r.stdout);
          return /content-managed-by\.vol\.kubectl\.io/.test(group.status?.error?.message ?? "");
        },
        60_000,
        () => JSON.stringify(group.status),
        500,
      );
      transcript.push(`db-outage status while the webhook is down: ${JSON.stringify(group.status)}`);
      expect(group.status?.readyToUse ?? false).toBe(false);
      const contents = await must(
        ctx.kubectl([
          "get",
          "volumegroupsnapshotcontents",
          "-o",
          `jsonpath={range .items[?(@.spec.volumeGroupSnapshotRef.name=="db-outage")]}{.metadata.name}{"\\n"}{end}`,
        ]),
        "contents",
      );
      // Refused, not admitted unlabelled: nothing half-made waits for a node that never comes.
      expect(contents.stdout.trim()).toBe("");
    } finally {
      await must(ctx.kubectl(["scale", ...webhook, "--replicas=2"]), "scale the webhook back");
    }
    // A Ready webhook again (on one node only one replica of the two can run: hostNetwork).
    await waitUntil(
      "a Ready webhook",
      async () =>
        Number(
          (await ctx.kubectl(["get", ...webhook, "-o", "jsonpath={.status.readyReplicas}"])).stdout || "0",
        ) >= 1,
      120_000,
    );
    // Cut at the controller's next retry, with its status error cleared.
    let ready: { status?: { readyToUse?: boolean; error?: unknown } } = {};
    await waitUntil(
      "db-outage ready once the webhook is back",
      async () => {
        const r = await must(ctx.kubectl(["get", "vgs", "db-outage", "-o", "json"]), "get");
        ready = JSON.parse(r.stdout);
        return ready.status?.readyToUse === true;
      },
      330_000,
      () => JSON.stringify(ready.status),
      1000,
    );
    transcript.push(`db-outage status after the outage: ${JSON.stringify(ready.status)}`);
    expect(ready.status?.error).toBeUndefined();
    await must(
      ctx.kubectl(["delete", "vgs", "db-outage", "--wait=true", "--timeout=120s"]),
      "delete db-outage",
    );
  }, 600_000);

  it("a group schedule on the deployed vol-controller takes one group snapshot of the claims at its slot", async () => {
    const made = await must(
      ctx.vol([
        "schedule",
        "-l",
        "app=db",
        "--group",
        "--name",
        "db-every-minute",
        "--every",
        "1m",
        "--keep",
        "1",
      ]),
      "schedule --group",
    );
    expect(made.stdout).toBe("snapshotschedule.vol.kubectl.io/db-every-minute created\n");
    // The first slot is the next whole minute; the group and both members are then ready.
    let status: { result?: string; kept?: string[]; message?: string } = {};
    await waitUntil(
      "the first slot of db-every-minute Succeeded",
      async () => {
        const r = await ctx.kubectl([
          "get",
          "snapshotschedule",
          "db-every-minute",
          "-o",
          "jsonpath={.status}",
        ]);
        status = r.stdout ? JSON.parse(r.stdout) : {};
        return status.result === "Succeeded";
      },
      150_000,
      () => JSON.stringify(status),
      1000,
    );
    expect(status.kept).toEqual([expect.stringMatching(/^db-every-minute-\d{8}-\d{4}00$/)]);
    expect(status.message).toBe("1 group snapshot ready to use");
    const group = status.kept![0]!;
    const tree = await must(ctx.vol(["tree", `vgs/${group}`]), `tree vgs/${group}`);
    expect(tree.stdout).toMatch(new RegExp(`volumegroupsnapshot/${group}\\s.*\\sdb-every-minute\\n`));
    const members = await must(
      ctx.kubectl([
        "get",
        "volumesnapshots",
        "-o",
        `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="${group}")]}{.spec.source.persistentVolumeClaimName}={.status.readyToUse}{"\\n"}{end}`,
      ]),
      "members",
    );
    expect(members.stdout.trim().split("\n").sort()).toEqual(["data=true", "wal=true"]);
    await must(ctx.kubectl(["delete", "snapshotschedule", "db-every-minute"]), "delete the schedule");
  }, 240_000);
});

// Group snapshots against a real kube-apiserver (etcd, kube-controller-manager binding the
// claims, the upstream snapshot and group snapshot CRDs v8.6.0): the webhook as its own process,
// registered with the shipped configurations (set to Fail), and `kubectl vol` run from its
// sources. Each mistake — a selector that matches nothing, a claim not Bound, mixed drivers,
// claims on two nodes, no class — is denied by the webhook and refused by the plugin with the
// same message; a valid group is created by the plugin with the right spec. No snapshot-
// controller runs: the test writes the members and statuses the way it would.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { Session, waitUntil } from "../../src/localcluster/session.ts";
import { pointedAt, shippedConfigurations } from "../../src/webhook/config.ts";
import { type Result, runCommand } from "./plugin-binary.ts";
import { kubectlResult, startWebhook } from "./webhook-process.ts";

const NS = "shop";
const VOL = "vol.kubectl.io";
const OTHER = "other.csi.example.com";
const GROUPS = "groupsnapshot.storage.k8s.io/v1";
const SHIPPED = await shippedConfigurations();
const HOOK =
  SHIPPED.validating.webhooks?.find((w) =>
    w.rules?.some((r) => r.resources?.includes("volumegroupsnapshots")),
  )?.name ?? "";

let cp: ControlPlane;
let session: Session;
let env: NodeJS.ProcessEnv;

/** `kubectl vol` from its sources, on Node 24. */
const vol = (args: string[]): Promise<Result> =>
  runCommand(process.execPath, [path.join(repoRoot, "cmd/kubectl-vol/main.ts"), ...args], env, 60_000);

const kubectl = (args: string[], input?: string): Promise<Result> => kubectlResult(cp, args, input);
const apply = async (objects: object[]) => {
  const r = await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  );
  if (r.code !== 0) throw new Error(r.stderr);
};
// biome-ignore lint/suspicious/noExplicitAny: objects read back from kubectl as JSON
async function get(kind: string, name: string): Promise<Record<string, any> | undefined> {
  const r = await kubectl(["get", kind, name, "-n", NS, "-o", "json"]);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}
const patchStatus = async (kind: string, name: string, status: object) => {
  const r = await kubectl([
    "patch",
    kind,
    name,
    "-n",
    NS,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
};

/** A pre-bound CSI volume on `node` (node-local, as our driver makes them) and its claim, labelled. */
function boundPair(name: string, app: string, driver: string, node: string, sc: string) {
  return [
    {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `pv-${name}` },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: sc,
        persistentVolumeReclaimPolicy: "Retain",
        claimRef: { namespace: NS, name },
        csi: { driver, volumeHandle: `vol-${name}` },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: "topology.vol.kubectl.io/node", operator: "In", values: [node] }] },
            ],
          },
        },
      },
    },
    claim(name, app, sc),
  ];
}
function claim(name: string, app: string, sc: string) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: NS, labels: { app } },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: sc,
      resources: { requests: { storage: "1Gi" } },
    },
  };
}
const group = (name: string, app: string, cls?: string) => ({
  apiVersion: GROUPS,
  kind: "VolumeGroupSnapshot",
  metadata: { name, namespace: NS },
  spec: {
    source: { selector: { matchLabels: { app } } },
    ...(cls ? { volumeGroupSnapshotClassName: cls } : {}),
  },
});

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: true });
  env = { PATH: path.dirname(process.execPath), KUBECONFIG: cp.kubeconfig, HOME: cp.session.dir };
  session = await Session.create("kubectl-vol-groups");
  const { url, caPem } = await startWebhook(cp, session);
  const { validating } = pointedAt(SHIPPED, { url, caBundle: caPem });
  // Fail closed: a webhook that does not answer fails the test instead of passing as an admission.
  await apply([
    { ...validating, webhooks: validating.webhooks?.map((w) => ({ ...w, failurePolicy: "Fail" })) },
  ]);

  await apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    ...[
      ["local", VOL],
      ["other", OTHER],
    ].map(([name, provisioner]) => ({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name },
      provisioner,
      volumeBindingMode: "Immediate",
    })),
    {
      apiVersion: GROUPS,
      kind: "VolumeGroupSnapshotClass",
      metadata: {
        name: "vol-groups",
        annotations: { "groupsnapshot.storage.kubernetes.io/is-default-class": "true" },
      },
      driver: VOL,
      deletionPolicy: "Delete",
    },
    ...boundPair("data", "db", VOL, "n1", "local"),
    ...boundPair("wal", "db", VOL, "n1", "local"),
    ...boundPair("m1", "mixed", VOL, "n1", "local"),
    ...boundPair("m2", "mixed", OTHER, "n1", "other"),
    ...boundPair("s1", "spread", VOL, "n1", "local"),
    ...boundPair("s2", "spread", VOL, "n2", "local"),
    ...boundPair("o1", "noclass", OTHER, "n1", "other"),
    ...boundPair("p1", "pending", VOL, "n1", "local"),
    claim("p2", "pending", "nowhere"),
  ]);
  await waitUntil(
    "the claims to be Bound",
    async () => {
      const r = await kubectl(["get", "pvc", "-n", NS, "-o", "json"]);
      const items = (
        JSON.parse(r.stdout) as { items: { metadata: { name: string }; status?: { phase?: string } }[] }
      ).items;
      const bound = items.filter((c) => c.status?.phase === "Bound").map((c) => c.metadata.name);
      return ["data", "wal", "m1", "m2", "s1", "s2", "o1", "p1"].every((n) => bound.includes(n));
    },
    90_000,
  );
  // The API server picks the configuration up asynchronously: wait until it denies.
  await waitUntil(
    "the webhook configuration to take effect",
    async () =>
      (
        await kubectl(["create", "--dry-run=server", "-f", "-"], JSON.stringify(group("probe", "none")))
      ).stderr.includes(HOOK),
    30_000,
  );
}, 240_000);

afterAll(async () => {
  await session?.stop();
  await cp?.stop();
});

describe("a group snapshot that cannot be taken", () => {
  const g = (name: string) => `VolumeGroupSnapshot "${name}" in namespace "${NS}"`;
  it.each([
    [
      "a selector that matches no claim",
      "none",
      `${g("g")} selects no PVC in namespace "${NS}" (selector "app=none"; none of its 9 PVCs has those labels): label the claims to snapshot together with app=none, or fix the selector`,
    ],
    [
      "a claim that is not Bound",
      "pending",
      `${g("g")} needs every member Bound, and PVC "p2" (Pending) in namespace "${NS}" is not: wait until it is Bound, or take the selector's labels off it`,
    ],
    [
      "claims of two CSI drivers",
      "mixed",
      `${g("g")} mixes CSI drivers (PVCs "m1" on driver "${VOL}" and "m2" on driver "${OTHER}", in namespace "${NS}"): one group snapshot is cut by one driver, so narrow the selector to the claims of one driver`,
    ],
    [
      "claims on two nodes",
      "spread",
      `${g("g")} spans nodes (PVCs "s1" on node "n1" and "s2" on node "n2", in namespace "${NS}"): driver "${VOL}" keeps each volume on its node, so one group snapshot can only hold the claims of one node; narrow the selector to one node's claims`,
    ],
    [
      "no VolumeGroupSnapshotClass for the driver",
      "noclass",
      `${g("g")}: no VolumeGroupSnapshotClass is for driver "${OTHER}" (the classes are "vol-groups" (driver "${VOL}")): create a VolumeGroupSnapshotClass with driver: ${OTHER}`,
    ],
  ])("%s: denied by the webhook and refused by the plugin with the same message", async (_, app, message) => {
    const denied = await kubectl(["create", "-f", "-"], JSON.stringify(group("g", app)));
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(`admission webhook "${HOOK}" denied the request: ${message}`);
    const refused = await vol(["snapshot", "-l", `app=${app}`, "--name", "g", "-n", NS]);
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toContain(`error: ${message}\n`);
    expect(await get("vgs", "g")).toBeUndefined();
  });
});

describe("a group snapshot of app=db", () => {
  it("is created by the plugin with the selector and the driver's default class", async () => {
    const r = await vol(["snapshot", "-l", "app=db", "--name", "db-group", "-n", NS]);
    expect(r).toMatchObject({
      code: 0,
      stdout: "volumegroupsnapshot.groupsnapshot.storage.k8s.io/db-group created\n",
    });
    const made = await get("volumegroupsnapshot", "db-group");
    expect(made?.spec).toEqual({
      source: { selector: { matchLabels: { app: "db" } } },
      volumeGroupSnapshotClassName: "vol-groups",
    });
    // --dry-run=client prints the object and creates nothing.
    const dry = await vol([
      "snapshot",
      "-l",
      "app=db",
      "--name",
      "dry",
      "-n",
      NS,
      "--dry-run=client",
      "-o",
      "json",
    ]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ kind: "VolumeGroupSnapshot", metadata: { name: "dry" } });
    expect(await get("vgs", "dry")).toBeUndefined();
  });

  it("waits with each member until ready, then restores one claim per member, all or nothing", async () => {
    const waiting = vol([
      "snapshot",
      "-l",
      "app=db",
      "--name",
      "db-wait",
      "-n",
      NS,
      "--wait",
      "--timeout",
      "60s",
    ]);
    await waitUntil("the group to exist", async () => (await get("vgs", "db-wait")) !== undefined, 30_000);
    const owner = await get("vgs", "db-wait");
    // What snapshot-controller does: one member per claim, owned by the group, then statuses.
    for (const c of ["data", "wal"]) {
      await apply([
        {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshotContent",
          metadata: { name: `content-${c}` },
          spec: {
            driver: VOL,
            deletionPolicy: "Delete",
            source: { snapshotHandle: `snap-${c}` },
            sourceVolumeMode: "Filesystem",
            volumeSnapshotRef: { name: `snapshot-${c}`, namespace: NS },
          },
        },
        {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          metadata: {
            name: `snapshot-${c}`,
            namespace: NS,
            ownerReferences: [
              { apiVersion: GROUPS, kind: "VolumeGroupSnapshot", name: "db-wait", uid: owner?.metadata.uid },
            ],
          },
          spec: { source: { persistentVolumeClaimName: c } },
        },
      ]);
    }
    await patchStatus("volumesnapshot", "snapshot-data", {
      readyToUse: true,
      restoreSize: "1Gi",
      boundVolumeSnapshotContentName: "content-data",
    });
    await new Promise((r) => setTimeout(r, 1500));
    await patchStatus("volumesnapshot", "snapshot-wal", {
      readyToUse: true,
      restoreSize: "1Gi",
      boundVolumeSnapshotContentName: "content-wal",
    });
    await patchStatus("volumegroupsnapshot", "db-wait", { readyToUse: true });
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain(
      "volumegroupsnapshot/db-wait: not ready: 1 of 2 members ready (pvc/data ready (1Gi), pvc/wal being cut)",
    );
    expect(done.stderr).toContain(
      "volumegroupsnapshot/db-wait: ready to use: 2 members (pvc/data ready (1Gi), pvc/wal ready (1Gi))",
    );

    // A claim of the name the second member's restore wants: that create fails, the first is undone.
    await apply([claim("wal-db-wait", "other", "local")]);
    const failed = await vol(["restore", "vgs/db-wait", "-n", NS]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /already exists; VolumeGroupSnapshot "db-wait" in namespace "shop" was not restored: deleted the claims this run had created \(pvc\/data-db-wait\)/,
    );
    await waitUntil(
      "the rolled-back claim to go",
      async () => (await get("pvc", "data-db-wait")) === undefined,
      30_000,
    );

    const restored = await vol(["restore", "vgs/db-wait", "--suffix", "r", "-n", NS]);
    expect(restored).toMatchObject({
      code: 0,
      stdout: "persistentvolumeclaim/data-r created\npersistentvolumeclaim/wal-r created\n",
    });
    const r = await get("pvc", "data-r");
    expect(r?.spec.dataSource).toEqual({
      apiGroup: "snapshot.storage.k8s.io",
      kind: "VolumeSnapshot",
      name: "snapshot-data",
    });
    expect(r?.spec.storageClassName).toBe("local");
    expect(r?.metadata.annotations["vol.kubectl.io/group-snapshot"]).toBe("db-wait");

    const tree = await vol(["tree", "vgs/db-wait", "-n", NS]);
    expect(tree.code).toBe(0);
    const names = tree.stdout.split("\n").map((l) => l.split(/\s{3,}/)[0]);
    expect(names.slice(1, 6)).toEqual([
      "volumegroupsnapshot/db-wait",
      "├─volumesnapshot/snapshot-data",
      "│ └─pvc/data-r",
      "└─volumesnapshot/snapshot-wal",
      "  └─pvc/wal-r",
    ]);
    const list = await vol(["list", "-n", NS]);
    expect(list.stdout).toMatch(/volumegroupsnapshot\/db-wait\s+-l app=db\s+true/);
    expect(list.stdout).toMatch(/volumesnapshot\/snapshot-data\s+pvc\/data\s+true\s+1Gi\s+\S+\s+db-wait/);
  });
});

// SnapshotSchedules end to end on the real system (src/localcluster/system.ts): etcd,
// kube-apiserver, kube-controller-manager, the upstream snapshot-controller and csi-snapshotter
// (group snapshots on), our driver on loop-mounted btrfs, our admission webhook — and
// vol-controller as real processes, each with the ServiceAccount token and the RBAC of
// manifests/base/controller.yaml (so the least-privilege rules are what these tests run with).
// Periods are seconds here (--min-interval=1s).
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { loadAllYaml } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { freePort, type Proc, waitUntil } from "../../src/localcluster/session.ts";
import { type System, startSystem } from "../../src/localcluster/system.ts";

const run = promisify(execFile);
const NS = "sched";
const node24 = process.execPath;

let sys: System;
let saKubeconfig: string;
let seq = 0;

interface Snap {
  metadata: {
    name: string;
    uid: string;
    creationTimestamp: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { source: { persistentVolumeClaimName: string } };
  status?: { readyToUse?: boolean; error?: { message?: string } };
}
interface Schedule {
  status?: {
    lastRunTime?: string;
    nextRunTime?: string;
    result?: string;
    reason?: string;
    message?: string;
    kept?: string[];
    keptCount?: number;
  };
}

async function apply(obj: object): Promise<void> {
  await sys.kubectl(["apply", "-f", "-"], JSON.stringify(obj));
}

/** What a schedule labelled (snapshots, or group snapshots), not being deleted, oldest slot first. */
async function labelledBy<
  T extends { metadata: { deletionTimestamp?: string; annotations?: Record<string, string> } },
>(resource: "volumesnapshots" | "volumegroupsnapshots", schedule: string): Promise<T[]> {
  const { stdout } = await sys.kubectl([
    "get",
    resource,
    "-n",
    NS,
    "-l",
    `vol.kubectl.io/schedule=${schedule}`,
    "-o",
    "json",
  ]);
  return ((JSON.parse(stdout) as { items: T[] }).items ?? [])
    .filter((s) => !s.metadata.deletionTimestamp)
    .sort((a, b) => slotOf(a) - slotOf(b));
}
const snapsOf = (schedule: string) => labelledBy<Snap>("volumesnapshots", schedule);
const groupsOf = (schedule: string) => labelledBy<Group>("volumegroupsnapshots", schedule);
const slotOf = (s: { metadata: { annotations?: Record<string, string> } }) =>
  Date.parse(s.metadata.annotations?.["vol.kubectl.io/schedule-slot"] ?? "");
const ready = (s: Snap) => s.status?.readyToUse === true;

async function scheduleStatus(name: string): Promise<Schedule["status"]> {
  const { stdout } = await sys.kubectl(["get", "snapshotschedule", name, "-n", NS, "-o", "json"]);
  return (JSON.parse(stdout) as Schedule).status;
}

/** A bound claim on `node` (the scheduler's selected-node annotation, set as it would). */
async function boundClaim(name: string, node: string, app: string): Promise<void> {
  await apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: NS,
      labels: { backup: "yes", app },
      annotations: { "volume.kubernetes.io/selected-node": node },
    },
    spec: {
      storageClassName: "vol-local",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "64Mi" } },
    },
  });
  await waitUntil(
    `PVC ${name} Bound`,
    async () =>
      (await sys.kubectl(["get", "pvc", name, "-n", NS, "-o", "jsonpath={.status.phase}"])).stdout ===
      "Bound",
    90_000,
  );
}

async function schedule(name: string, spec: object): Promise<void> {
  await apply({
    apiVersion: "vol.kubectl.io/v1alpha1",
    kind: "SnapshotSchedule",
    metadata: { name, namespace: NS },
    spec,
  });
}

interface Controller {
  proc: Proc;
  id: string;
  port: number;
}

async function startController(): Promise<Controller> {
  const id = `vol-controller-${++seq}`;
  const port = await freePort();
  const proc = sys.cp.session.start(id, node24, [
    path.join(repoRoot, "cmd/vol-controller/main.ts"),
    `--kubeconfig=${saKubeconfig}`,
    "--leader-election-namespace=vol-system",
    `--leader-election-id=${id}`,
    "--lease-duration=3s",
    "--renew-deadline=2s",
    "--retry-period=1s",
    "--resync-period=10s",
    "--min-interval=1s",
    "--bind-address=127.0.0.1",
    `--port=${port}`,
  ]);
  await waitUntil(
    `${id} /readyz`,
    async () => {
      if (!proc.running) throw new Error(`${id} exited:\n${proc.logTail()}`);
      return (await httpGet(port, "/readyz")).code === 200;
    },
    30_000,
    () => proc.logTail(),
  );
  return { proc, id, port };
}

function httpGet(port: number, p: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: "127.0.0.1", port, path: p, timeout: 2000 }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
      })
      .on("error", () => resolve({ code: 0, body: "" }));
  });
}

async function leaseHolder(): Promise<string> {
  const { stdout } = await sys.kubectl([
    "get",
    "lease",
    "vol-controller",
    "-n",
    "vol-system",
    "-o",
    "jsonpath={.spec.holderIdentity}",
  ]);
  return stdout;
}

/** `kubectl vol ...` from the source (Node 24), with the admin kubeconfig. */
async function vol(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(node24, [
      path.join(repoRoot, "cmd/kubectl-vol/main.ts"),
      "--kubeconfig",
      sys.kubeconfig,
      "-n",
      NS,
      ...args,
    ]);
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** The slot period of a schedule with `every: <n>s`, and slots as seconds for messages. */
const period = (seconds: number) => seconds * 1000;
const stamps = (list: Snap[]) => list.map((s) => new Date(slotOf(s)).toISOString().slice(11, 19));

beforeAll(async () => {
  sys = await startSystem({ fs: "btrfs" });
  await sys.kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/snapshotschedule-crd.yaml")]);
  await sys.kubectl(["create", "namespace", "vol-system"]);
  await sys.kubectl(["create", "namespace", NS]);
  // The controller's ServiceAccount and RBAC exactly as the base kustomization renders them.
  const { stdout } = await sys.kubectl(["kustomize", path.join(repoRoot, "manifests/base")]);
  const docs = loadAllYaml(stdout) as { kind: string; metadata: { name: string } }[];
  const rbac = docs.filter(
    (d) =>
      d.metadata.name.startsWith("vol-controller") &&
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(d.kind),
  );
  expect(rbac.map((d) => d.kind).sort()).toEqual([
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ServiceAccount",
  ]);
  await sys.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac }));
  await sys.kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd/snapshotschedules.vol.kubectl.io",
  ]);
  const token = (
    await sys.kubectl(["create", "token", "vol-controller", "-n", "vol-system", "--duration=2h"])
  ).stdout.trim();
  saKubeconfig = sys.cp.session.path("vol-controller.kubeconfig");
  await writeFile(
    saKubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${sys.cp.server}", certificate-authority: "${sys.cp.ca.cert}"}}]
users: [{name: vol-controller, user: {token: "${token}"}}]
contexts: [{name: c, context: {cluster: c, user: vol-controller}}]
current-context: c
`,
  );
  await Promise.all([
    boundClaim("db", "node-a", "shop"),
    boundClaim("logs", "node-a", "shop"),
    boundClaim("frail", "node-b", "frail"),
  ]);
}, 400_000);

afterAll(async () => {
  await sys?.stop();
});

describe.sequential("snapshot schedules", () => {
  let leader: Controller;

  it("the plugin validates and writes schedules: a class of another driver is refused, a missing claim and an empty selector are warned about", async () => {
    await apply({
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshotClass",
      metadata: { name: "elsewhere" },
      driver: "other.csi.example",
      deletionPolicy: "Delete",
    });
    // Nothing is made (server dry run): a schedule of a missing claim would only fail its runs.
    const missing = await vol(["schedule", "nope", "--every", "1h", "--keep", "3", "--dry-run=server"]);
    expect(missing).toMatchObject({ code: 0 });
    expect(missing.stderr).toMatch(
      /Warning: PVC "nope" not found in namespace "sched" yet: runs fail until it exists/,
    );
    const other = await vol(["schedule", "db", "--every", "1h", "--keep", "3", "--class", "elsewhere"]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/elsewhere/);
    expect(other.stderr).toMatch(/other\.csi\.example|vol\.kubectl\.io/);
    const empty = await vol([
      "schedule",
      "-l",
      "team=none",
      "--name",
      "none",
      "--every",
      "1h",
      "--keep",
      "3",
    ]);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toMatch(/Warning: the selector "team=none" matches no PVC in namespace "sched"/);
    expect(empty.stdout).toBe("snapshotschedule.vol.kubectl.io/none created\n");
    const suspend = await vol(["schedule", "none", "--suspend"]);
    expect(suspend.stdout).toBe("snapshotschedule.vol.kubectl.io/none configured\n");
    const { stdout } = await sys.kubectl(["get", "snapshotschedule", "none", "-n", NS, "-o", "json"]);
    expect(JSON.parse(stdout).spec).toEqual({
      selector: { matchLabels: { team: "none" } },
      every: "1h",
      keep: 3,
      suspend: true,
    });
    // A group schedule is checked by the group snapshot rules: claims on two nodes cannot be one
    // group snapshot of a node-local driver — refused by the plugin and, as applied, the webhook.
    const wide = await vol([
      "schedule",
      "-l",
      "backup=yes",
      "--group",
      "--name",
      "wide",
      "--every",
      "1h",
      "--keep",
      "3",
    ]);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toMatch(
      /the group snapshot of SnapshotSchedule "wide" spans nodes \(PVCs "db", "logs" on node "node-a" and "frail" on node "node-b"/,
    );
    await expect(
      schedule("wide", { selector: { matchLabels: { backup: "yes" } }, group: true, every: "1h", keep: 3 }),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/denied the request: .*spans nodes/) });
    await expect(schedule("both", { claim: "db", group: true, every: "1h", keep: 1 })).rejects.toMatchObject({
      stderr: expect.stringMatching(/group takes the claims of selector as one group snapshot/),
    });
    // The CRD's own CEL rules refuse a schedule with both a claim and a selector.
    await expect(schedule("both", { claim: "db", selector: {}, every: "1h", keep: 1 })).rejects.toMatchObject(
      { stderr: expect.stringMatching(/exactly one of claim and selector/) },
    );
  }, 180_000);

  it("a short period makes snapshots on time, prunes to keep, and honours the keep annotation", async () => {
    leader = await startController();
    const every = 6;
    const made = await vol(["schedule", "db", "--every", `${every}s`, "--keep", "2"]);
    expect(made.code).toBe(0);
    expect(made.stderr).toMatch(/below one minute/);
    // Five slots: five snapshots made, each within a few seconds of its slot, pruned to two.
    await waitUntil(
      "five slots of schedule db",
      async () => (await scheduleStatus("db"))?.lastRunTime !== undefined && (await allSlots("db")).size >= 5,
      60_000,
      () => leader.proc.logTail(),
      500,
    );
    await waitUntil(
      "schedule db pruned to 2 ready snapshots",
      async () => {
        const list = await snapsOf("db");
        return list.filter(ready).length === 2 && list.length <= 3;
      },
      20_000,
      () => leader.proc.logTail(),
    );
    for (const [slot, created] of createdAt) {
      if (!slot.startsWith("db/")) continue;
      const lateness = created.created - created.slot;
      expect(lateness, `${slot} taken ${lateness} ms after its slot`).toBeLessThan(4000);
      expect(lateness).toBeGreaterThan(-1000); // never before (creationTimestamp has whole seconds)
    }
    const slots = [...(await allSlots("db"))].sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(period(every));
    const st = await scheduleStatus("db");
    expect(st).toMatchObject({ keptCount: 2, result: expect.stringMatching(/Succeeded|Running/) });
    expect(Date.parse(st?.nextRunTime ?? "") - Date.parse(st?.lastRunTime ?? "")).toBe(period(every));
    // kubectl get shows the printer columns.
    const table = (await sys.kubectl(["get", "snapshotschedules", "-n", NS])).stdout;
    expect(table.split("\n")[0]).toMatch(/^NAME\s+TARGET\s+LAST\s+NEXT\s+KEPT\s+RESULT\s+AGE$/);
    expect(table).toMatch(/\ndb\s+db\s+\S+\s+\S+Z\s+2\s+(Succeeded|Running)\s/);

    // Pin the oldest kept snapshot: it stays through later slots and no longer counts.
    const pinned = (await snapsOf("db")).filter(ready)[0]!;
    await sys.kubectl([
      "annotate",
      "volumesnapshot",
      pinned.metadata.name,
      "-n",
      NS,
      "vol.kubectl.io/keep=true",
    ]);
    const lastBefore = Date.parse((await scheduleStatus("db"))?.lastRunTime ?? "");
    await waitUntil(
      "three more slots",
      async () =>
        Date.parse((await scheduleStatus("db"))?.lastRunTime ?? "") >= lastBefore + 3 * period(every),
      40_000,
    );
    await waitUntil(
      "two ready snapshots besides the pinned one",
      async () => {
        const rest = (await snapsOf("db")).filter((s) => s.metadata.name !== pinned.metadata.name);
        return rest.filter(ready).length === 2;
      },
      20_000,
    );
    const after = await snapsOf("db");
    expect(after.map((s) => s.metadata.name)).toContain(pinned.metadata.name);
    expect((await scheduleStatus("db"))?.kept).not.toContain(pinned.metadata.name);

    // list and tree mark what a schedule made.
    const listed = await vol(["list"]);
    expect(listed.stdout.split("\n")[0]).toMatch(/SCHEDULE$/);
    expect(listed.stdout).toMatch(new RegExp(`volumesnapshot/${pinned.metadata.name}\\s.*\\sdb\\n`));
    const sched = await vol(["schedule", "--list"]);
    expect(sched.stdout).toMatch(/^NAME\s+TARGET\s+SCHEDULE\s+KEEP\s+LAST\s+NEXT\s+KEPT\s+RESULT\n/);
    expect(sched.stdout).toMatch(/\ndb\s+pvc\/db\s+every 6s\s+2\s/);
    const metrics = await httpGet(leader.port, "/metrics");
    expect(metrics.body).toMatch(/^vol_controller_leader 1$/m);
    expect(metrics.body).toMatch(/^vol_controller_snapshots_created_total [1-9]/m);
    expect(metrics.body).toMatch(/^vol_controller_snapshots_deleted_total [1-9]/m);
    expect((await httpGet(leader.port, "/healthz")).code).toBe(200);
    await sys.kubectl(["delete", "snapshotschedule", "db", "-n", NS]);
  }, 180_000);

  it("leader failover (the leader killed) neither skips nor doubles a slot", async () => {
    const standby = await startController();
    expect(await leaseHolder()).toBe(leader.id);
    const every = 8;
    await schedule("failover", { claim: "logs", every: `${every}s`, keep: 20 });
    await waitUntil("two slots of failover", async () => (await allSlots("failover")).size >= 2, 30_000);
    // Kill the leader (no chance to release the Lease) right after it took a slot.
    leader.proc.child.kill("SIGKILL");
    await leader.proc.exited;
    const killedAt = Date.now();
    await waitUntil("the standby to lead", async () => (await leaseHolder()) === standby.id, 15_000);
    await waitUntil(
      "three slots after the kill",
      async () => [...(await allSlots("failover"))].filter((s) => s > killedAt).length >= 3,
      40_000,
      () => standby.proc.logTail(),
    );
    const list = await snapsOf("failover");
    const slots = list.map(slotOf);
    expect(new Set(slots).size, `one snapshot per slot: ${stamps(list)}`).toBe(slots.length);
    for (let i = 1; i < slots.length; i++) {
      expect(slots[i]! - slots[i - 1]!, `no slot skipped: ${stamps(list)}`).toBe(period(every));
    }
    await sys.kubectl(["delete", "snapshotschedule", "failover", "-n", NS]);
    leader = standby;
  }, 120_000);

  it("a controller restart after missed slots runs once, then keeps the period", async () => {
    const every = 5;
    await schedule("restart", { claim: "logs", every: `${every}s`, keep: 20 });
    await waitUntil("a first slot", async () => (await allSlots("restart")).size >= 1, 20_000);
    // SIGTERM: the loop stops and the Lease is released at once.
    await leader.proc.stop();
    expect(leader.proc.exitCode).toBe(0);
    expect(await leaseHolder()).toBe("");
    const before = await snapsOf("restart");
    const lastBefore = slotOf(before[before.length - 1]!);
    await sleep(4 * period(every) + 500);
    expect((await snapsOf("restart")).length).toBe(before.length);
    const restartedAt = Date.now();
    leader = await startController();
    await waitUntil(
      "the restarted controller to run",
      async () => (await snapsOf("restart")).length > before.length,
      15_000,
    );
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    await waitUntil(
      "two slots after the catch-up",
      async () => (await snapsOf("restart")).length >= before.length + 3,
      20_000,
    );
    const after = (await snapsOf("restart")).slice(before.length);
    const slots = after.map(slotOf);
    // Four or more slots were missed; only the latest of them ran (the first after the gap),
    // and from there every slot once.
    expect(slots[0]! - lastBefore, `missed slots run once: ${stamps(after)}`).toBeGreaterThanOrEqual(
      4 * period(every),
    );
    expect(slots[0]).toBeGreaterThanOrEqual(Math.floor(restartedAt / period(every)) * period(every));
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(period(every));
    await sys.kubectl(["delete", "snapshotschedule", "restart", "-n", NS]);
  }, 120_000);

  it("the newest ready snapshot survives when later ones fail; failures never count as kept", async () => {
    const every = 5;
    await schedule("frail", { claim: "frail", every: `${every}s`, keep: 2 });
    await waitUntil(
      "two ready snapshots of frail",
      async () => (await snapsOf("frail")).filter(ready).length >= 2,
      40_000,
      () => leader.proc.logTail(),
    );
    // node-b's driver goes away: every later snapshot of frail fails (never becomes ready).
    const node = sys.nodes.find((n) => n.name === "node-b")!;
    await node.driver.stop();
    const stoppedAt = Date.now();
    await waitUntil(
      "four slots after the driver stopped",
      async () =>
        Date.parse((await scheduleStatus("frail"))?.lastRunTime ?? "") >= stoppedAt + 3 * period(every),
      60_000,
      () => leader.proc.logTail(),
    );
    await sleep(1000);
    const list = await snapsOf("frail");
    const good = list.filter(ready);
    const failing = list.filter((s) => !ready(s));
    // The last good snapshots are still there and are what is kept, newest first...
    expect(good.length, `ready: ${stamps(good)}`).toBe(2);
    expect(slotOf(good[1]!)).toBeLessThan(stoppedAt + 1000);
    const st = await scheduleStatus("frail");
    expect(st?.kept).toEqual([good[1]!.metadata.name, good[0]!.metadata.name]);
    expect(st?.keptCount).toBe(2);
    // ...while the runs since failed: they did not count and did not push out a good one; those
    // beyond keep were pruned, the latest stay to be seen.
    expect(failing.length, `not ready: ${stamps(failing)}`).toBeGreaterThanOrEqual(1);
    // keep (2) of them, and the oldest one still being cut, left to finish.
    expect(failing.length).toBeLessThanOrEqual(3);
    for (const f of failing) expect(slotOf(f)).toBeGreaterThan(slotOf(good[1]!));
    expect(st?.result).toMatch(/Failed|Running/);
    await sys.kubectl(["delete", "snapshotschedule", "frail", "-n", NS]);
  }, 120_000);

  it("a group schedule takes one VolumeGroupSnapshot of the selected claims per slot, prunes whole groups to keep, and keeps the newest ready group when later ones fail", async () => {
    const every = 5;
    const made = await vol([
      "schedule",
      "-l",
      "app=shop",
      "--group",
      "--name",
      "shop",
      "--every",
      `${every}s`,
      "--keep",
      "2",
    ]);
    expect(made, made.stderr).toMatchObject({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/shop created\n",
    });
    await waitUntil(
      "four slots of the group schedule, pruned to 2 ready groups",
      async () => {
        const groups = await groupsOf("shop");
        for (const g of groups) groupSlots.add(slotOf(g));
        const members = await membersBy();
        return (
          groupSlots.size >= 4 &&
          groups.filter((g) => groupReady(g, members)).length === 2 &&
          // 2 ready, at most keep (2) newest not ready and the oldest still being cut.
          groups.length <= 5
        );
      },
      180_000,
      () => leader.proc.logTail(),
      500,
    );
    const slots = [...groupSlots].sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(period(every));
    // Each group holds db and logs, each member a VolumeSnapshot owned by the group.
    const members = await membersBy();
    const groups = await groupsOf("shop");
    for (const g of groups.filter((x) => groupReady(x, members))) {
      expect(
        (members.get(g.metadata.name) ?? []).map((m) => m.spec.source.persistentVolumeClaimName).sort(),
      ).toEqual(["db", "logs"]);
    }
    // Pruned groups went with their members: only the members of groups still there remain.
    await waitUntil(
      "the members of pruned groups gone",
      async () => {
        const alive = new Set((await groupsOf("shop")).map((g) => g.metadata.name));
        return [...(await membersBy()).keys()].every((g) => alive.has(g) || !g.startsWith("shop-"));
      },
      30_000,
    );
    const st = await scheduleStatus("shop");
    const readyNames = (await groupsOf("shop"))
      .filter((g) => groupReady(g, members))
      .map((g) => g.metadata.name)
      .reverse();
    expect(st?.keptCount).toBe(2);
    expect(st?.kept?.length).toBe(2);
    expect(readyNames).toEqual(expect.arrayContaining(st?.kept ?? []));
    // list, tree and schedule --list show what the schedule made.
    const listed = await vol(["list"]);
    expect(listed.stdout).toMatch(new RegExp(`volumegroupsnapshot/${st?.kept?.[0]}\\s.*\\sshop\\n`));
    const sched = await vol(["schedule", "--list"]);
    expect(sched.stdout).toMatch(/\nshop\s+group -l app=shop\s+every 5s\s+2\s/);

    // node-a's driver goes away: every later group fails or never becomes ready.
    const node = sys.nodes.find((n) => n.name === "node-a")!;
    await node.driver.stop();
    const stoppedAt = Date.now();
    await waitUntil(
      "four slots after the driver stopped",
      async () =>
        Date.parse((await scheduleStatus("shop"))?.lastRunTime ?? "") >= stoppedAt + 3 * period(every),
      60_000,
      () => leader.proc.logTail(),
    );
    await sleep(1000);
    const after = await groupsOf("shop");
    const afterMembers = await membersBy();
    const good = after.filter((g) => groupReady(g, afterMembers));
    const failing = after.filter((g) => !groupReady(g, afterMembers));
    expect(good.length, `ready: ${good.map((g) => g.metadata.name)}`).toBe(2);
    for (const g of good) expect(slotOf(g)).toBeLessThan(stoppedAt + 1000);
    const last = await scheduleStatus("shop");
    expect(last?.kept).toEqual([good[1]!.metadata.name, good[0]!.metadata.name]);
    expect(failing.length, `not ready: ${failing.map((g) => g.metadata.name)}`).toBeGreaterThanOrEqual(1);
    expect(failing.length).toBeLessThanOrEqual(3);
    for (const f of failing) expect(slotOf(f)).toBeGreaterThan(slotOf(good[1]!));
    expect(last?.result).toMatch(/Failed|Running/);
    await sys.kubectl(["delete", "snapshotschedule", "shop", "-n", NS]);
  }, 420_000);
});

interface Group {
  metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  status?: { readyToUse?: boolean; error?: { message?: string } };
}
interface Member extends Snap {
  metadata: Snap["metadata"] & { ownerReferences?: { kind: string; name: string }[] };
}
const groupSlots = new Set<number>();

/** The namespace's member snapshots by the group that owns them. */
async function membersBy(): Promise<Map<string, Member[]>> {
  const { stdout } = await sys.kubectl(["get", "volumesnapshots", "-n", NS, "-o", "json"]);
  const out = new Map<string, Member[]>();
  for (const m of (JSON.parse(stdout) as { items: Member[] }).items) {
    const owner = m.metadata.ownerReferences?.find((o) => o.kind === "VolumeGroupSnapshot")?.name;
    if (owner && !m.metadata.deletionTimestamp) out.set(owner, [...(out.get(owner) ?? []), m]);
  }
  return out;
}

/** Ready to restore from: the group and each of its (two) members. */
function groupReady(g: Group, members: Map<string, Member[]>): boolean {
  const m = members.get(g.metadata.name) ?? [];
  return g.status?.readyToUse === true && m.length === 2 && m.every(ready);
}

/** Every slot a schedule has taken so far, remembered across pruning, with when it was created. */
const seen = new Map<string, Set<number>>();
const createdAt = new Map<string, { slot: number; created: number }>();
async function allSlots(schedule: string): Promise<Set<number>> {
  const set = seen.get(schedule) ?? new Set<number>();
  seen.set(schedule, set);
  for (const s of await snapsOf(schedule)) {
    set.add(slotOf(s));
    createdAt.set(`${schedule}/${s.metadata.name}`, {
      slot: slotOf(s),
      created: Date.parse(s.metadata.creationTimestamp),
    });
  }
  return set;
}

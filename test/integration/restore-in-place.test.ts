// `kubectl vol restore SNAPSHOT --in-place` against the real control plane with the whole system
// but no kubelet (src/localcluster/system.ts): the driver, the upstream csi-provisioner,
// csi-snapshotter and snapshot-controller, the webhook. Pods never run here, so these tests use
// claims no pod mounts (the scaling steps have nothing to do) and read and write the volumes
// through the driver's node service as a kubelet would; the workloads' part is on real nodes in
// test/e2e/restore-in-place.test.ts. Covered: the data comes back from the snapshot, the undo
// brings back the data before, the old volume is kept (Retain, Released) until deleted; the
// plugin killed after each step and then --continue or --abort ends consistent with nothing
// lost; and the refusals with their messages.
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { waitUntil } from "../../src/localcluster/session.ts";
import { type System, startSystem } from "../../src/localcluster/system.ts";
import { type Result, runCommand } from "./plugin-binary.ts";

const NS = "inplace";
const NODE = "node-a";
const RECORD = "vol.kubectl.io/restore-in-place";
let sys: System;
let env: NodeJS.ProcessEnv;

const vol = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Result> =>
  runCommand(
    process.execPath,
    [path.join(repoRoot, "cmd/kubectl-vol/main.ts"), "-n", NS, ...args],
    { ...env, ...extra },
    180_000,
  );

// biome-ignore lint/suspicious/noExplicitAny: objects read back from kubectl as JSON
type Obj = Record<string, any>;
async function get(kind: string, name: string, ns: string | undefined = NS): Promise<Obj | undefined> {
  try {
    const { stdout } = await sys.kubectl(["get", kind, name, ...(ns ? ["-n", ns] : []), "-o", "json"]);
    return JSON.parse(stdout) as Obj;
  } catch (err) {
    if (/NotFound/.test((err as { stderr?: string }).stderr ?? "")) return undefined;
    throw err;
  }
}

/** A claim placed on NODE (as the scheduler would), Bound, holding `text` in hello.txt. */
async function claimWith(name: string, text: string, storageClass = "vol-local", ns = NS): Promise<void> {
  const pvc = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: ns,
      labels: { app: name },
      annotations: { "volume.kubernetes.io/selected-node": NODE, team: "payments" },
    },
    spec: {
      storageClassName: storageClass,
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "64Mi" } },
    },
  };
  await sys.kubectl(["apply", "-f", "-"], JSON.stringify(pvc));
  await waitUntil(
    `${name} Bound`,
    async () => (await get("pvc", name, ns))?.status?.phase === "Bound",
    60_000,
  );
  await write(name, text, ns);
}

/** Writes hello.txt on the claim's volume through the driver's node service, then unpublishes it. */
async function write(claim: string, text: string, ns = NS): Promise<void> {
  const m = await sys.mount(ns, claim);
  await writeFile(path.join(m.path, "hello.txt"), text);
  await m.unmount();
}

async function read(claim: string): Promise<string> {
  const m = await sys.mount(NS, claim, { readonly: true });
  try {
    return await readFile(path.join(m.path, "hello.txt"), "utf8");
  } finally {
    await m.unmount();
  }
}

async function snapshot(claim: string, name: string): Promise<void> {
  const r = await vol(["snapshot", claim, "--name", name, "--wait", "--timeout", "60s"]);
  expect(r.code, r.stderr).toBe(0);
}

/** The state an in-place restore must end in: a Bound claim, no record anywhere. */
async function consistent(claim: string): Promise<Obj> {
  const pvc = await get("pvc", claim);
  expect(pvc?.status?.phase).toBe("Bound");
  expect(pvc?.metadata?.annotations?.[RECORD]).toBeUndefined();
  const snaps = JSON.parse(
    (await sys.kubectl(["get", "volumesnapshots", "-n", NS, "-o", "json"])).stdout,
  ) as {
    items: Obj[];
  };
  expect(snaps.items.filter((s) => s.metadata.annotations?.[RECORD]).map((s) => s.metadata.name)).toEqual([]);
  return pvc as Obj;
}

beforeAll(async () => {
  sys = await startSystem({ nodes: [NODE], fs: "btrfs" });
  env = { ...process.env, KUBECONFIG: sys.kubeconfig, NO_COLOR: "1" };
  await sys.kubectl(["create", "namespace", NS]);
  await waitUntil(
    "the default ServiceAccount",
    async () => !!(await get("serviceaccount", "default")),
    30_000,
  );
}, 600_000);

afterAll(async () => {
  await sys?.stop();
}, 120_000);

describe.sequential("restore in place (no kubelet: claims no pod mounts)", () => {
  it("prints the plan and changes nothing with --dry-run=client; asks for --yes without a terminal", async () => {
    await claimWith("plan", "one\n");
    await snapshot("plan", "plan-1");
    const before = await get("pvc", "plan");
    const dry = await vol(["restore", "plan-1", "--in-place", "--dry-run=client"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'Restore PVC "plan" in namespace "inplace" in place from VolumeSnapshot "plan-1" (64Mi',
    );
    expect(dry.stdout).toMatch(
      /1\. snapshot {2}PVC "plan" as it is now, into VolumeSnapshot "plan-before-restore-\d{8}-\d{6}"/,
    );
    expect(dry.stdout).toContain("3. stop      nothing (no pod mounts the claim)");
    expect(dry.stdout).toContain(`once satisfied: kubectl delete pv ${before?.spec.volumeName}`);
    const server = await vol(["restore", "plan-1", "--in-place", "--dry-run=server"]);
    expect(server.code, server.stderr).toBe(0);
    expect(server.stdout).toContain(
      "(server dry run: the safety snapshot was accepted; nothing was changed)",
    );
    const snaps = (await sys.kubectl(["get", "volumesnapshots", "-n", NS, "-o", "name"])).stdout;
    expect(snaps).not.toContain("plan-before-restore-");
    const noTty = await vol(["restore", "plan-1", "--in-place"]);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain("--yes is required when stdin is not a terminal");
    const after = await get("pvc", "plan");
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.metadata.annotations?.[RECORD]).toBeUndefined();
  });

  it("puts the claim back to the snapshot, keeps the old volume, and the undo brings the later data back", async () => {
    await claimWith("data", "v1\n");
    await snapshot("data", "data-v1");
    await write("data", "v2\n");
    const old = (await get("pvc", "data")) as Obj;
    const oldPv = old.spec.volumeName as string;

    const r = await vol(["restore", "data-v1", "--in-place", "--yes", "--wait", "--timeout", "90s"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("persistentvolumeclaim/data restored in place from volumesnapshot/data-v1");
    const safety =
      /VolumeSnapshot "(data-before-restore-\d{8}-\d{6})" \(undo: kubectl vol restore \1 --in-place -n inplace\)/.exec(
        r.stdout,
      )?.[1];
    expect(safety, r.stdout).toBeDefined();
    expect(r.stdout).toContain(
      `PersistentVolume "${oldPv}" with the old data (once satisfied: kubectl delete pv ${oldPv})`,
    );

    const now = await consistent("data");
    expect(now.metadata.uid).not.toBe(old.metadata.uid);
    expect(now.metadata.labels).toEqual({ app: "data" });
    expect(now.metadata.annotations).toMatchObject({
      team: "payments",
      "vol.kubectl.io/restored-in-place-from": "data-v1",
      "vol.kubectl.io/replaced-volume": oldPv,
      "vol.kubectl.io/previous-uids": old.metadata.uid,
      "vol.kubectl.io/source-kind": "VolumeSnapshot",
      "vol.kubectl.io/source-name": "data-v1",
    });
    expect(now.spec.dataSource).toEqual({
      apiGroup: "snapshot.storage.k8s.io",
      kind: "VolumeSnapshot",
      name: "data-v1",
    });
    expect(await read("data")).toBe("v1\n");
    const kept = (await get("pv", oldPv, undefined)) as Obj;
    expect(kept.spec.persistentVolumeReclaimPolicy).toBe("Retain");
    expect(kept.status.phase).toBe("Released");
    expect((await get("volumesnapshot", safety as string))?.status?.readyToUse).toBe(true);

    // The undo: the safety snapshot was taken of the claim before (its uid is among previous-uids).
    const undo = await vol(["restore", safety as string, "--in-place", "--yes", "--timeout", "90s"]);
    expect(undo.code, undo.stderr).toBe(0);
    await consistent("data");
    expect(await read("data")).toBe("v2\n");

    // The old volume goes when asked.
    const del = await sys.kubectl(["delete", "pv", oldPv]);
    expect(del.stdout).toContain(`persistentvolume "${oldPv}" deleted`);
    expect(await get("pv", oldPv, undefined)).toBeUndefined();
  }, 300_000);

  const STEPS = ["snapshot", "retain", "scale-down", "delete-claim", "create-claim", "scale-up"];
  for (const step of STEPS) {
    for (const how of ["continue", "abort"] as const) {
      it(`killed after step ${step}, --${how} ends consistent with nothing lost`, async () => {
        const claim = `k-${step}-${how}`.slice(0, 40);
        await claimWith(claim, "before\n");
        await snapshot(claim, `${claim}-s`);
        await write(claim, "after\n");
        const killed = await vol(["restore", `${claim}-s`, "--in-place", "--yes"], {
          KUBECTL_VOL_TEST_CRASH_AFTER: step,
        });
        expect(killed.code, killed.stderr).not.toBe(0);
        // Running it again says what is in progress.
        const again = await vol(["restore", `${claim}-s`, "--in-place", "--yes"]);
        expect(again.code).toBe(1);
        expect(again.stderr).toContain(`'kubectl vol restore --in-place --continue ${claim} -n inplace'`);
        expect(again.stderr).toContain(`'kubectl vol restore --in-place --abort ${claim} -n inplace'`);

        const r = await vol(["restore", "--in-place", `--${how}`, claim, "--timeout", "90s"]);
        if (how === "abort" && step === "scale-up") {
          // Nothing left to roll back: it says to finish, then how to undo.
          expect(r.code).toBe(1);
          expect(r.stderr).toContain("there is nothing left to roll back");
          const fin = await vol(["restore", "--in-place", "--continue", claim, "--timeout", "90s"]);
          expect(fin.code, fin.stderr).toBe(0);
        } else {
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        }
        await consistent(claim);
        const restored = how === "continue" || step === "scale-up";
        expect(await read(claim)).toBe(restored ? "before\n" : "after\n");
        // Nothing lost: the data from before the restore is still somewhere — the claim itself
        // (rolled back), or the retained old volume and the safety snapshot.
        const snaps = JSON.parse(
          (await sys.kubectl(["get", "volumesnapshots", "-n", NS, "-o", "json"])).stdout,
        ) as {
          items: Obj[];
        };
        const safety = snaps.items.find((s) => s.metadata.name.startsWith(`${claim}-before-restore-`));
        expect(safety?.status?.readyToUse).toBe(true);
        if (restored) {
          const pvc = (await get("pvc", claim)) as Obj;
          const oldPv = pvc.metadata.annotations["vol.kubectl.io/replaced-volume"];
          expect((await get("pv", oldPv, undefined))?.spec.persistentVolumeReclaimPolicy).toBe("Retain");
        } else {
          const pv = (await get("pv", (await get("pvc", claim))?.spec.volumeName, undefined)) as Obj;
          expect(pv.spec.persistentVolumeReclaimPolicy).toBe("Delete");
        }
      }, 300_000);
    }
  }

  // A Deployment's pod is scheduled here but never runs, and once deleted it never goes (no
  // kubelet confirms it): the wait for "no pod mounts the claim" cannot end, which is what these
  // two need.
  async function stuckDeployment(name: string): Promise<void> {
    await claimWith(`${name}-data`, "kept\n");
    await snapshot(`${name}-data`, `${name}-s`);
    const d = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            automountServiceAccountToken: false,
            containers: [{ name: "app", image: "registry.invalid/app:v1" }],
            volumes: [{ name: "data", persistentVolumeClaim: { claimName: `${name}-data` } }],
          },
        },
      },
    };
    await sys.kubectl(["apply", "-f", "-"], JSON.stringify(d));
    await waitUntil(
      `a pod of ${name} on ${NODE}`,
      async () =>
        (
          await sys.kubectl([
            "get",
            "pods",
            "-n",
            NS,
            "-l",
            `app=${name}`,
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
          ])
        ).stdout.includes(NODE),
      60_000,
    );
  }
  const replicas = async (name: string) =>
    (await sys.kubectl(["get", "deployment", name, "-n", NS, "-o", "jsonpath={.spec.replicas}"])).stdout;
  const policy = async (claim: string) =>
    (await get("pv", (await get("pvc", claim))?.spec.volumeName, undefined))?.spec
      .persistentVolumeReclaimPolicy;

  it("a step that fails before the claim is deleted rolls back by itself: the workload is scaled back", async () => {
    await stuckDeployment("fails");
    const r = await vol(["restore", "fails-s", "--in-place", "--yes", "--timeout", "8s"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('3. stop      Deployment "fails" (1 → 0 replicas; pods fails-');
    expect(r.stderr).toContain("timed out after 8s waiting for pvc/fails-data to be mounted by no pod");
    expect(r.stderr).toContain(
      'rolled back: PVC "fails-data" keeps its data and its workloads were scaled back',
    );
    expect(await replicas("fails")).toBe("1");
    expect(await policy("fails-data")).toBe("Delete");
    await consistent("fails-data");
  }, 120_000);

  it("Ctrl-C while waiting leaves the recorded state and prints the commands; --abort then scales back", async () => {
    await stuckDeployment("ctrlc");
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, "cmd/kubectl-vol/main.ts"), "-n", NS, "restore", "ctrlc-s", "--in-place", "--yes"],
      { env },
    );
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (!sent && stderr.includes("still mounted by pod")) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s])),
    );
    expect([1, 130], `exit ${code} signal ${signal}\n${stderr}`).toContain(code);
    expect(stderr).toContain(
      `error: interrupted: the in-place restore of PVC "ctrlc-data" in namespace "inplace" stopped at step "scale-down"`,
    );
    expect(stderr).toContain(
      "run 'kubectl vol restore --in-place --continue ctrlc-data -n inplace' to finish it, or 'kubectl vol restore --in-place --abort ctrlc-data -n inplace' to roll it back",
    );
    expect(await replicas("ctrlc")).toBe("0");
    expect(await policy("ctrlc-data")).toBe("Retain");
    const r = await vol(["restore", "--in-place", "--abort", "ctrlc-data"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await replicas("ctrlc")).toBe("1");
    expect(await policy("ctrlc-data")).toBe("Delete");
    await consistent("ctrlc-data");
  }, 120_000);

  it("refuses a claim a bare pod mounts, naming the pod", async () => {
    await claimWith("bare", "x\n");
    await snapshot("bare", "bare-1");
    await sys.consume(NS, "bare");
    const r = await vol(["restore", "bare-1", "--in-place", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: Pod "use-bare" in namespace "inplace" mounts PVC "bare" and has no controller to stop it and start it again: delete it (and create it again after the restore), then run the restore again\n',
    );
  });

  it("refuses a snapshot of an earlier claim of the same name", async () => {
    await claimWith("again", "first\n");
    await snapshot("again", "again-1");
    const first = (await get("pvc", "again")) as Obj;
    await sys.kubectl(["delete", "pvc", "again", "-n", NS, "--wait=true"]);
    await claimWith("again", "second\n");
    const second = (await get("pvc", "again")) as Obj;
    const r = await vol(["restore", "again-1", "--in-place", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: VolumeSnapshot "again-1" in namespace "inplace" was taken of an earlier claim named "again" (uid ${first.metadata.uid}), not of the current PVC "again" in namespace "inplace" (uid ${second.metadata.uid}): restore it into a new claim with 'kubectl vol restore again-1 --name NAME', or restore PVC "again" in namespace "inplace" from a snapshot of its own\n`,
    );
  });

  it("refuses a snapshot that is not ready", async () => {
    // A snapshot whose class is for a driver nothing serves is never cut. The webhook would deny
    // it, so it is made in a namespace the webhook skips.
    const raw = "inplace-raw";
    await sys.kubectl(["create", "namespace", raw]);
    await sys.kubectl(["label", "namespace", raw, "vol.kubectl.io/webhook=skip"]);
    await claimWith("slow", "x\n", "vol-local", raw);
    await sys.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshotClass",
        metadata: { name: "nowhere" },
        driver: "nowhere.example.com",
        deletionPolicy: "Delete",
      }),
    );
    await sys.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshot",
        metadata: { name: "slow-1", namespace: raw },
        spec: { volumeSnapshotClassName: "nowhere", source: { persistentVolumeClaimName: "slow" } },
      }),
    );
    const r = await vol(["-n", raw, "restore", "slow-1", "--in-place", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: VolumeSnapshot "slow-1" in namespace "${raw}" is not ready to use yet: wait until it is (kubectl get volumesnapshot slow-1 -n ${raw}), then run the restore again\n`,
    );
  });

  it("refuses when the claim's class now belongs to another driver", async () => {
    const cls = (provisioner: string) =>
      JSON.stringify({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "swap" },
        provisioner,
        volumeBindingMode: "WaitForFirstConsumer",
      });
    await sys.kubectl(["apply", "-f", "-"], cls("vol.kubectl.io"));
    await claimWith("moved", "x\n", "swap");
    await snapshot("moved", "moved-1");
    await sys.kubectl(["delete", "storageclass", "swap"]);
    await sys.kubectl(["apply", "-f", "-"], cls("other.example.com"));
    const r = await vol(["restore", "moved-1", "--in-place", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: VolumeSnapshot "moved-1" in namespace "inplace" was cut by driver "vol.kubectl.io" but PVC "moved" in namespace "inplace" is provisioned by "other.example.com" (StorageClass "swap"), which cannot restore it: restore into a new claim of a class of "vol.kubectl.io" with 'kubectl vol restore moved-1 --name NAME --storage-class CLASS'\n`,
    );
    // Nothing changed.
    expect((await get("pvc", "moved"))?.metadata.annotations?.[RECORD]).toBeUndefined();
  });
});

// The harness is real: a kube-apiserver at the pinned version, the upstream snapshot CRDs with
// their own validation, and kube-controller-manager binding claims.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig, VersionApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { waitUntil } from "../../src/localcluster/session.ts";

const pvc = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...extra },
});

describe("control plane harness", () => {
  let cp: ControlPlane;
  let kc: KubeConfig;
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it("serves the pinned Kubernetes version", async () => {
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toMatch(/^v1\.36\.\d+$/);
    expect(v.major).toBe("1");
    expect(v.minor).toBe("36");
  });

  it("stores and returns a PVC and a VolumeSnapshot", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedPersistentVolumeClaim({ namespace: "default", body: pvc("data") });
    const got = await core.readNamespacedPersistentVolumeClaim({ namespace: "default", name: "data" });
    expect(got.spec?.resources?.requests?.storage).toBe("1Gi");
    expect(got.status?.phase).toBe("Pending");

    const custom = kc.makeApiClient(CustomObjectsApi);
    const snap = {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name: "data-snap" },
      spec: { source: { persistentVolumeClaimName: "data" } },
    };
    const target = {
      group: "snapshot.storage.k8s.io",
      version: "v1",
      namespace: "default",
      plural: "volumesnapshots",
    };
    await custom.createNamespacedCustomObject({ ...target, body: snap });
    const read = (await custom.getNamespacedCustomObject({ ...target, name: "data-snap" })) as typeof snap;
    expect(read.spec.source.persistentVolumeClaimName).toBe("data");
  });

  it("rejects a VolumeSnapshot with two sources through the CRD's own validation", async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const bad = {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name: "two-sources" },
      spec: { source: { persistentVolumeClaimName: "data", volumeSnapshotContentName: "content" } },
    };
    const err = await custom
      .createNamespacedCustomObject({
        group: "snapshot.storage.k8s.io",
        version: "v1",
        namespace: "default",
        plural: "volumesnapshots",
        body: bad,
      })
      .then(
        () => undefined,
        (e: { code?: number; body?: string }) => e,
      );
    expect(err?.code).toBe(422);
    expect(String(err?.body)).toMatch(
      /exactly one of volumeSnapshotContentName and persistentVolumeClaimName/,
    );
  });

  it("binds a claim to a pre-created PV through kube-controller-manager", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createPersistentVolume({
      body: {
        metadata: { name: "pv-manual" },
        spec: {
          capacity: { storage: "2Gi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "manual",
          persistentVolumeReclaimPolicy: "Retain",
          hostPath: { path: "/tmp/never-mounted" },
        },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: "default",
      body: pvc("bound-claim", { storageClassName: "manual" }),
    });
    await waitUntil(
      "claim bound-claim to be Bound",
      async () => {
        const c = await core.readNamespacedPersistentVolumeClaim({
          namespace: "default",
          name: "bound-claim",
        });
        return c.status?.phase === "Bound";
      },
      60_000,
    );
    const c = await core.readNamespacedPersistentVolumeClaim({ namespace: "default", name: "bound-claim" });
    expect(c.spec?.volumeName).toBe("pv-manual");
  });

  it("runs the pinned kubectl against it", async () => {
    const { stdout } = await cp.kubectl(["version", "-o", "json"]);
    const v = JSON.parse(stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(v.clientVersion.gitVersion).toMatch(/^v1\.36\./);
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.36\./);
  });
});

describe("control plane teardown", () => {
  it("stop() ends every process and removes its dir", async () => {
    const cp = await startControlPlane({ snapshotCRDs: false });
    const pids = cp.session.pids();
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await cp.stop();
    expect(existsSync(cp.session.dir)).toBe(false);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});

describe("control plane after its owner is killed", () => {
  it("leaves no process and no dir when the owning process gets SIGKILL", async () => {
    const child = spawn(
      process.execPath,
      [path.join(import.meta.dirname, "../env/fixtures/hold-control-plane.ts")],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes("\n")) resolve(buf.split("\n")[0] ?? "");
      });
      child.once("exit", (code) => reject(new Error(`fixture exited early with ${code}`)));
    });
    const { dir, pids } = JSON.parse(line) as { dir: string; pids: number[] };
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(dir)).toBe(true);
    child.kill("SIGKILL");
    await waitUntil(
      "children and dir of the killed owner to be gone",
      async () => {
        return !existsSync(dir) && pids.every((p) => !alive(p));
      },
      20_000,
    );
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// `kubectl vol restore SNAPSHOT --in-place` on real nodes (kubelets with containerd, the system
// from manifests/): a StatefulSet and a Deployment whose busybox pods write to their claims;
// snapshot; change the data; restore in place; the pods come back reading the snapshot's data;
// the undo brings the changed data back; the old volumes are Retained, then deleted when asked.
// Then the plugin killed in the middle of a run with workloads, finished by --continue or rolled
// back by --abort; and a DaemonSet, which cannot be scaled, refused. (Every step and every
// refusal without pods: test/integration/restore-in-place.test.ts.)
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import type { Cluster } from "../../src/localcluster/cluster.ts";
import { BUSYBOX_IMAGE } from "../../src/localcluster/images/images.ts";
import type { Ctx } from "../../src/localcluster/scenarios.ts";
import { waitUntil } from "../../src/localcluster/session.ts";
import { type Result, runCommand } from "../integration/plugin-binary.ts";
import { clusterWithNamespace } from "./start.ts";

const NS = "inplace";
let cluster: Cluster;
let ctx: Ctx;
const transcript: string[] = [];

const vol = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Result> => {
  const r = await runCommand(
    process.execPath,
    [path.join(repoRoot, "cmd/kubectl-vol/main.ts"), "-n", NS, ...args],
    { ...process.env, KUBECONFIG: cluster.kubeconfig, NO_COLOR: "1", ...extra },
    300_000,
  );
  transcript.push(`$ kubectl vol ${args.join(" ")} (exit ${r.code})\n${r.stdout}${r.stderr}`);
  return r;
};

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await ctx.kubectl(args, input);
  transcript.push(`$ kubectl ${args.join(" ")} (exit ${r.code})\n${r.stdout}${r.stderr}`);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const container = {
  name: "app",
  image: BUSYBOX_IMAGE,
  imagePullPolicy: "Never",
  command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
  volumeMounts: [{ name: "data", mountPath: "/data" }],
};
const podSpec = (volumes: object[] = []) => ({
  terminationGracePeriodSeconds: 2,
  automountServiceAccountToken: false,
  containers: [container],
  volumes,
});
const claimSpec = {
  accessModes: ["ReadWriteOnce"],
  storageClassName: "vol-local",
  resources: { requests: { storage: "64Mi" } },
};

const statefulSet = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "db", namespace: NS },
  spec: {
    replicas: 1,
    serviceName: "db",
    selector: { matchLabels: { app: "db" } },
    template: { metadata: { labels: { app: "db" } }, spec: podSpec() },
    volumeClaimTemplates: [{ metadata: { name: "data" }, spec: claimSpec }],
  },
};
const deployment = (name: string, claim: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: NS },
  spec: {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: podSpec([{ name: "data", persistentVolumeClaim: { claimName: claim } }]),
    },
  },
});
const claim = (name: string) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace: NS },
  spec: claimSpec,
});

/** The one running, ready pod with label app=`app` (waits for it). */
async function podOf(app: string): Promise<string> {
  let name = "";
  await waitUntil(
    `a Ready pod of ${app}`,
    async () => {
      const list = JSON.parse(await kubectl(["get", "pods", "-l", `app=${app}`, "-o", "json"])) as {
        items: {
          metadata: { name: string; deletionTimestamp?: string };
          status: { conditions?: { type: string; status: string }[] };
        }[];
      };
      const ready = list.items.filter(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      name = ready.length === 1 ? (ready[0]?.metadata.name ?? "") : "";
      return name !== "";
    },
    180_000,
  );
  return name;
}

const sh = async (app: string, script: string) =>
  kubectl(["exec", await podOf(app), "--", "sh", "-c", script]);
const pvName = async (c: string) =>
  (await kubectl(["get", "pvc", c, "-o", "jsonpath={.spec.volumeName}"])).trim();

/** The safety snapshot the report names. */
function safetyOf(r: Result): string {
  const m = /VolumeSnapshot "([^"]+-before-restore-\d{8}-\d{6})" \(undo:/.exec(r.stdout);
  if (!m?.[1]) throw new Error(`no safety snapshot in:\n${r.stdout}\n${r.stderr}`);
  return m[1];
}

beforeAll(async () => {
  ({ cluster, ctx } = await clusterWithNamespace(NS, 2, transcript));
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
}, 300_000);

function withTranscript(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      (err as Error).message += `\n--- transcript ---\n${transcript.slice(-30).join("\n")}`;
      throw err;
    }
  };
}

describe.sequential("restore in place on real nodes", () => {
  it(
    "a StatefulSet and a Deployment come back on the snapshot's data; the undo brings the later data back; the old volumes are kept until deleted",
    withTranscript(async () => {
      await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "v1",
          kind: "List",
          items: [statefulSet, claim("web-data"), deployment("web", "web-data")],
        }),
      );
      await sh("db", "echo v1 > /data/hello.txt && sync");
      await sh("web", "echo v1 > /data/hello.txt && sync");
      expect((await vol(["snapshot", "data-db-0", "--name", "db-v1", "--wait"])).code).toBe(0);
      expect((await vol(["snapshot", "web-data", "--name", "web-v1", "--wait"])).code).toBe(0);
      await sh("db", "echo v2 > /data/hello.txt && sync");
      await sh("web", "echo v2 > /data/hello.txt && sync");
      const oldDb = await pvName("data-db-0");
      const oldWeb = await pvName("web-data");
      const webPod = await podOf("web");

      const dry = await vol(["restore", "db-v1", "--in-place", "--dry-run=client"]);
      expect(dry.stdout).toContain('3. stop      StatefulSet "db" (1 → 0 replicas; pods db-0)');
      const rdb = await vol(["restore", "db-v1", "--in-place", "--yes", "--wait"]);
      expect(rdb.code, rdb.stderr).toBe(0);
      expect(rdb.stderr).toContain("statefulset/db: 1/1 ready");
      const rweb = await vol(["restore", "web-v1", "--in-place", "--yes", "--wait"]);
      expect(rweb.code, rweb.stderr).toBe(0);
      expect(await sh("db", "cat /data/hello.txt")).toBe("v1\n");
      expect(await sh("web", "cat /data/hello.txt")).toBe("v1\n");
      expect(await podOf("web")).not.toBe(webPod);
      for (const pv of [oldDb, oldWeb]) {
        expect(
          (
            await kubectl([
              "get",
              "pv",
              pv,
              "-o",
              "jsonpath={.spec.persistentVolumeReclaimPolicy} {.status.phase}",
            ])
          ).trim(),
        ).toBe("Retain Released");
      }

      // The undo of the StatefulSet's restore: its safety snapshot, in place.
      const undo = await vol(["restore", safetyOf(rdb), "--in-place", "--yes", "--wait"]);
      expect(undo.code, undo.stderr).toBe(0);
      expect(await sh("db", "cat /data/hello.txt")).toBe("v2\n");

      expect(await kubectl(["delete", "pv", oldWeb])).toContain(`persistentvolume "${oldWeb}" deleted`);
      expect((await ctx.kubectl(["get", "pv", oldWeb])).code).not.toBe(0);
    }),
    900_000,
  );

  for (const [step, how] of [
    ["scale-down", "abort"],
    ["delete-claim", "continue"],
  ] as const) {
    it(
      `killed after step ${step} with the Deployment stopped, --${how} starts it again with nothing lost`,
      withTranscript(async () => {
        const app = `k-${how}`;
        await kubectl(
          ["apply", "-f", "-"],
          JSON.stringify({
            apiVersion: "v1",
            kind: "List",
            items: [claim(`${app}-data`), deployment(app, `${app}-data`)],
          }),
        );
        await sh(app, "echo before > /data/hello.txt && sync");
        expect((await vol(["snapshot", `${app}-data`, "--name", `${app}-s`, "--wait"])).code).toBe(0);
        await sh(app, "echo after > /data/hello.txt && sync");
        const killed = await vol(["restore", `${app}-s`, "--in-place", "--yes"], {
          KUBECTL_VOL_TEST_CRASH_AFTER: step,
        });
        expect(killed.code).not.toBe(0);
        expect((await kubectl(["get", "deployment", app, "-o", "jsonpath={.spec.replicas}"])).trim()).toBe(
          "0",
        );
        const r = await vol(["restore", "--in-place", `--${how}`, `${app}-data`, "--wait"]);
        expect(r.code, r.stderr).toBe(0);
        expect((await kubectl(["get", "deployment", app, "-o", "jsonpath={.spec.replicas}"])).trim()).toBe(
          "1",
        );
        expect(await sh(app, "cat /data/hello.txt")).toBe(how === "abort" ? "after\n" : "before\n");
        const annotations = (
          await kubectl(["get", "pvc", `${app}-data`, "-o", "jsonpath={.metadata.annotations}"])
        ).trim();
        expect(annotations).not.toContain("vol.kubectl.io/restore-in-place");
      }),
      600_000,
    );
  }

  it(
    "refuses a claim a DaemonSet mounts, naming it",
    withTranscript(async () => {
      const ds = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "agent", namespace: NS },
        spec: {
          selector: { matchLabels: { app: "agent" } },
          template: {
            metadata: { labels: { app: "agent" } },
            spec: {
              ...podSpec([{ name: "data", persistentVolumeClaim: { claimName: "web-data" } }]),
              nodeSelector: {
                "kubernetes.io/hostname": (
                  await kubectl(["get", "pod", await podOf("web"), "-o", "jsonpath={.spec.nodeName}"])
                ).trim(),
              },
            },
          },
        },
      };
      await kubectl(["apply", "-f", "-"], JSON.stringify(ds));
      await podOf("agent");
      const r = await vol(["restore", "web-v1", "--in-place", "--yes"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^error: DaemonSet "agent" in namespace "inplace" mounts PVC "web-data" \(pod "agent-\w+"\) and a DaemonSet cannot be scaled to zero: stop it \(delete it, or give it a nodeSelector that matches no node\), then run the restore again\n$/,
      );
    }),
    300_000,
  );
});

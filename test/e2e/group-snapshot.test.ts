// A VolumeGroupSnapshot on real nodes (kubelets with containerd, the system from manifests/),
// made with plain kubectl YAML: a busybox pod appends a rising number n to claim A, then n to
// claim B, fsyncing each, without pause; a group snapshot of both (selected by label) is taken
// while it writes; its members are restored into new claims (dataSource: the member
// VolumeSnapshot) and read by another pod. In every trial A's last number minus B's is 0 or 1:
// the two members hold one instant. The driver logs the time writes were held for each group.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, SYSTEM_NAMESPACE, startCluster } from "../../src/localcluster/cluster.ts";
import { type Ctx, jsonOf, makeCtx, must, podYaml, sh, waitBound } from "../../src/localcluster/scenarios.ts";
import { waitUntil } from "../../src/localcluster/session.ts";

const NS = "groups";
const TRIALS = 5;
let cluster: Cluster;
let ctx: Ctx;
const transcript: string[] = [];

const claimYaml = (name: string, labels: Record<string, string>, from?: string) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, labels },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: "vol-local",
    resources: { requests: { storage: "64Mi" } },
    ...(from
      ? { dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: from } }
      : {}),
  },
});

/** A pod mounting claim `a` at /a and `b` at /b, running `script`. */
const pod = (name: string, a: string, b: string, script: string) =>
  podYaml(name, "", { mounts: { [a]: "/a", [b]: "/b" }, script });

const WRITER =
  "trap 'exit 0' TERM; n=0; while true; do n=$((n+1)); echo $n >> /a/seq; sync -d /a/seq; echo $n >> /b/seq; sync -d /b/seq; done";
const IDLE = "trap 'exit 0' TERM; while true; do sleep 1; done";

const apply = (what: string, obj: object) =>
  must(ctx, `kubectl apply -f ${what}.yaml`, ctx.kubectl(["apply", "-f", "-"], JSON.stringify(obj)));

async function runPod(name: string, a: string, b: string, script: string): Promise<void> {
  await must(
    ctx,
    `kubectl apply -f ${name}.yaml`,
    ctx.kubectl(["apply", "-f", "-"], pod(name, a, b, script)),
  );
  const w = await ctx.kubectl(["wait", "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]);
  expect(w.code, `${w.stderr}\n${(await ctx.kubectl(["describe", "pod", name])).stdout.slice(-1500)}`).toBe(
    0,
  );
}

const lastOf = async (pod: string, file: string): Promise<number> =>
  Number((await sh(ctx, pod, `tail -n 1 ${file}`)).trim());

interface Snap {
  metadata: { name: string };
  spec: { source: { persistentVolumeClaimName?: string } };
  status?: { volumeGroupSnapshotName?: string; readyToUse?: boolean };
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, log: (l) => transcript.push(l) });
  ctx = await makeCtx(
    cluster,
    NS,
    (l) => transcript.push(l),
    (cmd, r) => transcript.push(`$ ${cmd}\n${r.stdout}${r.stderr}`),
  );
  await cluster.kubectl(["create", "namespace", NS]);
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
}, 300_000);

describe.sequential("group snapshots on real nodes", () => {
  it("restores claims A and B from each group at one instant (A − B is 0 or 1), trial after trial", {
    timeout: 900_000,
  }, async () => {
    try {
      // The shipped default class serves: each node's csi-snapshotter lists only the classes
      // labelled for its node, so vol-controller keeps a copy per node and the webhook points
      // each group's content at its node's copy (src/rules/node-classes.ts).
      const node = cluster.nodes[0]?.name as string;
      await waitUntil(
        "vol-controller's copy of the default class for the node",
        async () => {
          const r = await ctx.kubectl([
            "get",
            "volumegroupsnapshotclass",
            `vol-group-snapshots.${node}`,
            "-o",
            "name",
          ]);
          return r.code === 0;
        },
        60_000,
      );
      for (const c of ["data-a", "data-b"]) await apply(c, claimYaml(c, { app: "db" }));
      await runPod("writer", "data-a", "data-b", WRITER);
      await waitUntil("the writer to write", async () => (await lastOf("writer", "/b/seq")) > 20, 60_000);
      const diffs: number[] = [];
      for (let i = 1; i <= TRIALS; i++) {
        const group = `db-${i}`;
        await apply(group, {
          apiVersion: "groupsnapshot.storage.k8s.io/v1",
          kind: "VolumeGroupSnapshot",
          metadata: { name: group },
          spec: {
            source: { selector: { matchLabels: { app: "db" } } },
          },
        });
        const w = await ctx.kubectl([
          "wait",
          "--for=jsonpath={.status.readyToUse}=true",
          `volumegroupsnapshot/${group}`,
          "--timeout=120s",
        ]);
        if (w.code !== 0) {
          const sys = (args: string[]) =>
            ctx.kubectlIn(SYSTEM_NAMESPACE, args).then((r) => r.stdout + r.stderr);
          const tail = (t: string, re: RegExp) =>
            t
              .split("\n")
              .filter((l) => re.test(l))
              .slice(-15)
              .join("\n");
          throw new Error(
            [
              w.stderr,
              (await ctx.kubectl(["get", "volumegroupsnapshotcontents", "-o", "yaml"])).stdout,
              (await ctx.kubectl(["get", "volumesnapshotcontents", "-o", "yaml"])).stdout.slice(-3000),
              tail(await sys(["logs", "ds/vol-csi-node", "-c", "csi-snapshotter"]), /roup|rror/),
              tail(await sys(["logs", "ds/vol-csi-node", "-c", "vol-csi"]), /roup|rror/),
              tail(await sys(["logs", "deploy/vol-snapshot-controller"]), /roup|rror/),
              tail(await sys(["logs", "deploy/vol-webhook"]), /ontent|rror/),
            ].join("\n----\n"),
          );
        }
        // Ready may be seen a moment before both members say which group they belong to.
        let snaps: Snap[] = [];
        await waitUntil(
          `both members of ${group}`,
          async () => {
            snaps = (await jsonOf<{ items: Snap[] }>(ctx, NS, ["get", "volumesnapshots"])).items.filter(
              (s) => s.status?.volumeGroupSnapshotName === group,
            );
            return snaps.length === 2;
          },
          60_000,
        );
        const member = (claim: string) => {
          const s = snaps.find((x) => x.spec.source.persistentVolumeClaimName === claim);
          if (!s) throw new Error(`no member of ${group} for claim ${claim} among ${JSON.stringify(snaps)}`);
          return s.metadata.name;
        };
        await apply(`restored-a-${i}`, claimYaml(`restored-a-${i}`, { trial: String(i) }, member("data-a")));
        await apply(`restored-b-${i}`, claimYaml(`restored-b-${i}`, { trial: String(i) }, member("data-b")));
        await runPod(`reader-${i}`, `restored-a-${i}`, `restored-b-${i}`, IDLE);
        for (const c of [`restored-a-${i}`, `restored-b-${i}`]) await waitBound(ctx, c);
        const a = await lastOf(`reader-${i}`, "/a/seq");
        const b = await lastOf(`reader-${i}`, "/b/seq");
        transcript.push(`trial ${i}: A=${a} B=${b}`);
        expect(a).toBeGreaterThan(0);
        diffs.push(a - b);
        await must(
          ctx,
          `kubectl delete pod reader-${i}`,
          ctx.kubectl(["delete", "pod", `reader-${i}`, "--timeout=90s"]),
        );
        await must(
          ctx,
          `kubectl delete pvc -l trial=${i}`,
          ctx.kubectl(["delete", "pvc", "-l", `trial=${i}`, "--timeout=90s"]),
        );
        await must(
          ctx,
          `kubectl delete volumegroupsnapshot ${group}`,
          ctx.kubectl(["delete", "volumegroupsnapshot", group, "--timeout=90s"]),
        );
      }
      expect(
        diffs.filter((d) => d !== 0 && d !== 1),
        `A − B per trial: ${diffs.join(" ")}`,
      ).toEqual([]);
      // The writer was continued after every group.
      const before = await lastOf("writer", "/a/seq");
      await waitUntil("the writer to go on", async () => (await lastOf("writer", "/a/seq")) > before, 30_000);
      // The driver logged the time writes were held, per group, and held the writer.
      const logs = await ctx.kubectlIn(SYSTEM_NAMESPACE, ["logs", "ds/vol-csi-node", "-c", "vol-csi"]);
      const cuts = logs.stdout
        .split("\n")
        .filter((l) => l.includes("group snapshot cut at one instant"))
        .map((l) => JSON.parse(l) as { freezeWindowMs: number; processesHeld: number[] });
      expect(cuts.length).toBeGreaterThanOrEqual(TRIALS);
      for (const c of cuts) expect(c.processesHeld.length).toBeGreaterThan(0);
      transcript.push(`freeze windows (ms): ${cuts.map((c) => c.freezeWindowMs).join(" ")}`);
      // Deleting the groups deleted their members' snapshots on the node.
      await waitUntil(
        "the groups' snapshots to go",
        async () =>
          (await jsonOf<{ items: unknown[] }>(ctx, NS, ["get", "volumesnapshots"])).items.length === 0,
        120_000,
      );
    } catch (err) {
      (err as Error).message += `\n--- transcript ---\n${transcript.slice(-40).join("\n")}`;
      throw err;
    }
    console.log(transcript.filter((l) => /^trial|^freeze/.test(l)).join("\n"));
  });
});

// End to end on real nodes: the local cluster (kubelets with containerd), the system installed
// from manifests/ as pods, and every scenario of src/localcluster/scenarios.ts driven by
// `kubectl vol`, `kubectl apply` and `kubectl exec` into busybox pods.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../../src/localcluster/cluster.ts";
import { type Ctx, makeCtx, scenarios } from "../../src/localcluster/scenarios.ts";

let cluster: Cluster;
let ctx: Ctx;
const transcript: string[] = [];

beforeAll(async () => {
  cluster = await startCluster({ log: (l) => transcript.push(l) });
  ctx = await makeCtx(
    cluster,
    "e2e",
    (l) => transcript.push(l),
    (cmd, r) => transcript.push(`$ ${cmd}\n${r.stdout}${r.stderr}`),
  );
  await cluster.kubectl(["create", "namespace", "e2e"]);
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
}, 240_000);

describe.sequential("end to end on real nodes", () => {
  it("every node is Ready with kubelet v1.36.3 and every system pod runs from manifests/", async () => {
    const nodes = JSON.parse((await cluster.kubectl(["get", "nodes", "-o", "json"])).stdout) as {
      items: { status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }[];
    };
    expect(nodes.items).toHaveLength(2);
    for (const n of nodes.items) {
      expect(n.status.nodeInfo.kubeletVersion).toBe("v1.36.3");
      expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
    }
    const pods = JSON.parse(
      (await cluster.kubectl(["get", "pods", "-n", "vol-system", "-o", "json"])).stdout,
    ) as {
      items: { metadata: { name: string }; status: { phase: string } }[];
    };
    const names = pods.items.map((p) => p.metadata.name);
    for (const prefix of ["vol-csi-node-", "vol-snapshot-controller-", "vol-webhook-"]) {
      expect(
        names.some((n) => n.startsWith(prefix)),
        `a pod ${prefix}* runs`,
      ).toBe(true);
    }
    expect(pods.items.every((p) => p.status.phase === "Running")).toBe(true);
  });

  for (const s of scenarios) {
    it(`scenario ${s.id}: ${s.title}`, async () => {
      try {
        await s.run(ctx);
      } catch (err) {
        (err as Error).message += `\n--- transcript ---\n${transcript.slice(-40).join("\n")}`;
        throw err;
      }
    }, 300_000);
  }
});

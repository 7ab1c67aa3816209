// What the end-to-end files share: a local cluster with real nodes, a namespace of the test's,
// and the scenario context on it, everything the cluster logs and runs recorded in `transcript`.
import { type Cluster, startCluster } from "../../src/localcluster/cluster.ts";
import { type Ctx, makeCtx } from "../../src/localcluster/scenarios.ts";

export async function clusterWithNamespace(
  namespace: string,
  nodes: number,
  transcript: string[],
): Promise<{ cluster: Cluster; ctx: Ctx }> {
  const cluster = await startCluster({ nodes, log: (l) => transcript.push(l) });
  const ctx = await makeCtx(
    cluster,
    namespace,
    (l) => transcript.push(l),
    (cmd, r) => transcript.push(`$ ${cmd}\n${r.stdout}${r.stderr}`),
  );
  await cluster.kubectl(["create", "namespace", namespace]);
  return { cluster, ctx };
}

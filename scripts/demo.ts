// `npm run demo`: the main job, end to end, on a local cluster with real nodes that it starts
// and stops itself: kubelets with containerd, the system installed from manifests/ as pods (our
// CSI driver on loop-mounted btrfs with the upstream sidecars, the snapshot-controller, our
// admission webhook), busybox pods that use the volumes, and `kubectl vol` — replaying the
// snapshot-and-restore walkthrough, a clone, the webhook at work, and the lineage.
import { startCluster } from "../src/localcluster/cluster.ts";
import { demoScenarios, makeCtx } from "../src/localcluster/scenarios.ts";
import { prepare } from "./prepare.ts";

prepare(); // system tools (apt, as root) and the upstream parts, with progress; one line if not

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

console.log(bold("== 0. start a local cluster with real nodes"));
const cluster = await startCluster({ log: (l) => console.log(`   ${dim(secs())} ${l}`) });
let code = 0;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log(bold("\n== stop the cluster and remove its state"));
  await cluster.stop();
};
process.once("SIGINT", () => void stop().then(() => process.exit(130)));
try {
  const nodes = await cluster.kubectl(["get", "nodes", "-o", "wide"]);
  console.log("   $ kubectl get nodes -o wide");
  for (const l of nodes.stdout.trimEnd().split("\n")) console.log(`     ${l}`);
  const pods = await cluster.kubectl(["get", "pods", "-n", "vol-system", "-o", "wide"]);
  console.log("   $ kubectl get pods -n vol-system -o wide");
  for (const l of pods.stdout.trimEnd().split("\n")) console.log(`     ${l}`);
  await cluster.kubectl(["create", "namespace", "demo"]);
  const ctx = await makeCtx(
    cluster,
    "demo",
    (line) => console.log(`   ${line}`),
    (cmd, r) => {
      console.log(`   $ ${cmd}`);
      for (const l of `${r.stdout}${r.stderr}`.trimEnd().split("\n")) if (l) console.log(`     ${l}`);
    },
  );
  for (const s of demoScenarios) {
    console.log(bold(`\n== ${s.id}. ${s.title}`) + dim(`  (${secs()})`));
    await s.run(ctx);
    console.log(`   ✓ ${s.title}`);
  }
  console.log(bold(`\nall scenarios passed in ${secs()}`));
} catch (err) {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await stop();
}
process.exit(code);

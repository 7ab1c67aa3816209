// `npm run demo`: the main job, end to end, on a local cluster it starts and stops itself:
// the upstream snapshot-controller and CSI sidecars, our CSI driver on two simulated nodes (on
// loop-mounted btrfs, so snapshots and clones are instant), our admission webhook, and
// `kubectl vol` — replaying the snapshot-and-restore walkthrough, a clone, the webhook at work,
// and the lineage.

import { clone, lineage, makeCtx, walkthrough, webhook } from "../src/localcluster/scenarios.ts";
import { startSystem } from "../src/localcluster/system.ts";

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

console.log(bold("== 0. start a local cluster"));
const sys = await startSystem({
  fs: process.env.DEMO_FS === "dir" ? "dir" : "btrfs",
  log: (l) => console.log(`   ${dim(secs())} ${l}`),
});
let code = 0;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log(bold("\n== stop the cluster and remove its state"));
  await sys.stop();
};
process.once("SIGINT", () => void stop().then(() => process.exit(130)));
try {
  await sys.kubectl(["create", "namespace", "demo"]);
  const ctx = await makeCtx(
    sys,
    "demo",
    (line) => console.log(`   ${line}`),
    (cmd, r) => {
      console.log(`   $ ${cmd}`);
      for (const l of `${r.stdout}${r.stderr}`.trimEnd().split("\n")) if (l) console.log(`     ${l}`);
    },
  );
  for (const s of [walkthrough, clone, webhook, lineage]) {
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

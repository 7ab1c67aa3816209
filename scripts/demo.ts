// `npm run demo`: the main job, end to end, on a local control plane it starts and stops itself.
// Each step prints what it does and what came back. Parts not built yet say so and are skipped.
import { existsSync } from "node:fs";
import path from "node:path";
import { startControlPlane } from "../test/env/control-plane.ts";

const root = path.resolve(import.meta.dirname, "..");
const step = (n: number, text: string) => console.log(`\n== ${n}. ${text}`);

step(1, "start a local control plane (etcd, kube-apiserver, kube-controller-manager, snapshot CRDs)");
const t0 = Date.now();
const cp = await startControlPlane({ controllerManager: true });
let code = 0;
const stop = async () => {
  await cp.stop();
};
process.once("SIGINT", () => void stop().then(() => process.exit(130)));
try {
  console.log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${cp.server}`);
  const v = JSON.parse((await cp.kubectl(["version", "-o", "json"])).stdout) as {
    serverVersion: { gitVersion: string };
  };
  console.log(`server version ${v.serverVersion.gitVersion}`);

  step(2, "the snapshot API is installed");
  console.log((await cp.kubectl(["api-resources", "--api-group=snapshot.storage.k8s.io"])).stdout.trimEnd());

  step(3, "the parts of kubectl-vol");
  for (const [part, file] of [
    ["CSI driver", "cmd/vol-csi/main.ts"],
    ["admission webhook", "cmd/vol-webhook/main.ts"],
    ["kubectl vol plugin", "cmd/kubectl-vol/main.ts"],
  ] as const) {
    console.log(`${part.padEnd(20)} ${existsSync(path.join(root, file)) ? "present" : "not built yet"}`);
  }
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  step(4, "stop the control plane and remove its state");
  await stop();
  console.log("done");
}
process.exit(code);

// Stands in for @kubernetes/client-node in the plugin's core bundle (scripts/build.ts puts it
// in place of connection.ts's dynamic import): loads the kubectl-vol-client bundle, an asset of
// the single executable with its code cache, only when a kubeconfig user needs the full client.
import type { KubeConfig as FullKubeConfig } from "@kubernetes/client-node";
import { CLIENT_BUNDLE, loadBundle } from "./bundles.ts";

export const { KubeConfig } = loadBundle<{ KubeConfig: typeof FullKubeConfig }>(
  CLIENT_BUNDLE,
  __dirname,
  require,
);

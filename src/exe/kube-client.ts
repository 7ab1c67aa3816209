// The entry of the kubectl-vol-client bundle: the full Kubernetes client, which the plugin's
// core needs only for a kubeconfig user with an exec or auth-provider plugin
// (src/kube/connection.ts). Its own bundle, so that loading the core parses none of it.
export { KubeConfig } from "@kubernetes/client-node";

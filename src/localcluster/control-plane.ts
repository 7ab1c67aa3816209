// A real Kubernetes control plane for tests and for `npm run cluster:up`: etcd and
// kube-apiserver (RBAC on, client-certificate auth), optionally kube-controller-manager and
// kube-scheduler, on free loopback ports, with the upstream snapshot CRDs installed.
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import https from "node:https";
import { promisify } from "node:util";
import { assets } from "./assets.ts";
import { type CA, type CertFiles, createCA, createKeyPair } from "./certs.ts";
import { freePort, Session, waitUntil } from "./session.ts";

const run = promisify(execFile);

export interface ControlPlaneOptions {
  /** Start kube-controller-manager (PV binding, garbage collection, ...). */
  controllerManager?: boolean;
  /** Start kube-scheduler. */
  scheduler?: boolean;
  /** Install the snapshot CRDs (default true). */
  snapshotCRDs?: boolean;
  /** Parent folder of the session dir (default: the OS temp dir). */
  parentDir?: string;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=CrossNamespaceVolumeDataSource=true`. */
  apiserverArgs?: string[];
  /**
   * For real kubelets: the Node authorizer and NodeRestriction, a client certificate for calls
   * to kubelets (logs, exec), kubelets reached at their InternalIP, and the node lifecycle
   * controller (it lifts a new node's not-ready taint).
   */
  realNodes?: boolean;
}

export interface ControlPlane {
  session: Session;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Path of an admin kubeconfig (system:masters). */
  kubeconfig: string;
  ca: CA;
  admin: CertFiles;
  /** Runs the pinned kubectl against this control plane. */
  kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function kubeconfigYaml(server: string, caFile: string, client: CertFiles, user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: kubectl-vol-test
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: ${user}
  user:
    client-certificate: ${client.cert}
    client-key: ${client.key}
contexts:
- name: kubectl-vol-test
  context:
    cluster: kubectl-vol-test
    user: ${user}
    namespace: default
current-context: kubectl-vol-test
`;
}

async function httpsOk(url: string, ca: string, client?: { cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, cert: client?.cert, key: client?.key, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = await assets(
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "snapshot-crds",
  );
  const session = await Session.create("kubectl-vol-cp", opts.parentDir);
  try {
    return await boot(session, bins, opts);
  } catch (err) {
    await session.stop();
    throw err;
  }
}

async function boot(
  session: Session,
  bins: Awaited<
    ReturnType<
      typeof assets<
        "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kubectl" | "snapshot-crds"
      >
    >
  >,
  opts: ControlPlaneOptions,
): Promise<ControlPlane> {
  const [etcdPort, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const ca = await createCA(session.dir);
  const [serving, admin, kcm, sched, sa, kubeletClient] = await Promise.all([
    ca.issue("apiserver", { cn: "kube-apiserver", sans: ["IP:127.0.0.1", "DNS:localhost"] }),
    ca.issue("admin", { cn: "kubectl-vol-admin", org: "system:masters", client: true }),
    ca.issue("kcm", { cn: "system:kube-controller-manager", client: true }),
    ca.issue("scheduler", { cn: "system:kube-scheduler", client: true }),
    createKeyPair(session.dir, "sa"),
    ca.issue("apiserver-kubelet-client", {
      cn: "kube-apiserver-kubelet-client",
      org: "system:masters",
      client: true,
    }),
  ]);
  const caPem = await ca.pem();

  const etcd = session.start("etcd", bins.etcd, [
    `--data-dir=${session.path("etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ]);

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = session.start("kube-apiserver", bins["kube-apiserver"], [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    `--client-ca-file=${ca.cert}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${sa.pub}`,
    `--service-account-signing-key-file=${sa.priv}`,
    "--service-cluster-ip-range=10.96.0.0/24",
    ...(opts.realNodes
      ? [
          "--authorization-mode=Node,RBAC",
          "--enable-admission-plugins=NodeRestriction",
          `--kubelet-client-certificate=${kubeletClient.cert}`,
          `--kubelet-client-key=${kubeletClient.key}`,
          "--kubelet-preferred-address-types=InternalIP",
        ]
      : ["--authorization-mode=RBAC"]),
    "--allow-privileged=true",
    `--cert-dir=${session.path("apiserver-certs")}`,
    "--v=1",
    ...(opts.apiserverArgs ?? []),
  ]);
  const adminPem = { cert: await readFile(admin.cert, "utf8"), key: await readFile(admin.key, "utf8") };
  await waitUntil(
    "kube-apiserver /readyz",
    async () => {
      if (!etcd.running) throw new Error(`etcd exited:\n${etcd.logTail()}`);
      if (!apiserver.running) throw new Error(`kube-apiserver exited:\n${apiserver.logTail()}`);
      return httpsOk(`${server}/readyz`, caPem, adminPem);
    },
    90_000,
    () => `kube-apiserver log:\n${apiserver.logTail()}\netcd log:\n${etcd.logTail(10)}`,
  );

  const kubeconfig = session.path("kubeconfig");
  await writeFile(kubeconfig, kubeconfigYaml(server, ca.cert, admin, "admin"));
  const kubectl = async (args: string[], input?: string) => {
    const child = run(bins.kubectl, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 32 << 20 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    return child;
  };

  if (opts.snapshotCRDs ?? true) {
    const files = (await readdir(bins["snapshot-crds"])).filter((f) => f.endsWith(".yaml"));
    for (const f of files) await kubectl(["apply", "--server-side", "-f", `${bins["snapshot-crds"]}/${f}`]);
    await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
  }

  if (opts.controllerManager) {
    const cfg = session.path("kcm.kubeconfig");
    await writeFile(cfg, kubeconfigYaml(server, ca.cert, kcm, "system:kube-controller-manager"));
    session.start("kube-controller-manager", bins["kube-controller-manager"], [
      `--kubeconfig=${cfg}`,
      `--authentication-kubeconfig=${cfg}`,
      `--authorization-kubeconfig=${cfg}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--leader-elect=false",
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${sa.priv}`,
      `--root-ca-file=${ca.cert}`,
      `--controllers=*,${opts.realNodes ? "" : "-nodelifecycle,"}-service,-route,-cloud-node-lifecycle`,
      "--pvclaimbinder-sync-period=2s",
      "--v=1",
    ]);
  }
  if (opts.scheduler) {
    const cfg = session.path("scheduler.kubeconfig");
    await writeFile(cfg, kubeconfigYaml(server, ca.cert, sched, "system:kube-scheduler"));
    session.start("kube-scheduler", bins["kube-scheduler"], [
      `--kubeconfig=${cfg}`,
      `--authentication-kubeconfig=${cfg}`,
      `--authorization-kubeconfig=${cfg}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--leader-elect=false",
      "--v=1",
    ]);
  }

  return { session, server, kubeconfig, ca, admin, kubectl, stop: () => session.stop() };
}

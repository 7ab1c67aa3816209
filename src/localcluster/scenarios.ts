// The end-to-end scenarios on the local cluster with real nodes, shared by `npm run demo` (which
// prints each step) and the e2e test (which runs them all). Each step runs what a person would
// type — `kubectl vol …`, `kubectl apply`, `kubectl exec` into busybox pods that mount the
// volumes — and checks the result; a check that fails throws with what was expected and what
// came back.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { assets, repoRoot } from "./assets.ts";
import { type Cluster, SYSTEM_NAMESPACE } from "./cluster.ts";
import { BUSYBOX_IMAGE } from "./images/images.ts";
import type { RealNode } from "./node.ts";
import { waitUntil } from "./session.ts";

const run = promisify(execFile);

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Ctx {
  cluster: Cluster;
  namespace: string;
  /** `kubectl -n <namespace> <args>` with the cluster's kubeconfig; never throws (look at `code`). */
  kubectl(args: string[], input?: string): Promise<Result>;
  /** `kubectl -n <namespace> <args>` in another namespace. */
  kubectlIn(namespace: string, args: string[], input?: string): Promise<Result>;
  /** `kubectl vol <args>`: the plugin found on PATH by the pinned kubectl. */
  vol(args: string[]): Promise<Result>;
  /** A step: a person-readable line (the demo prints it, the test records it). */
  say(line: string): void;
  /** Shows a command and what it printed. */
  show(cmd: string, r: Result): void;
}

export class CheckFailed extends Error {}

export function expectThat(ok: boolean, what: string, got: unknown): void {
  if (!ok)
    throw new CheckFailed(
      `${what}; got ${typeof got === "string" ? JSON.stringify(got) : JSON.stringify(got, null, 1)}`,
    );
}

/** A bin dir holding `kubectl-vol` (the plugin) so the pinned kubectl finds it on PATH. */
export async function pluginPath(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const shim = path.join(dir, "kubectl-vol");
  const script = `#!/bin/sh\nexec "${process.execPath}" "${path.join(repoRoot, "cmd/kubectl-vol/main.ts")}" "$@"\n`;
  await writeFile(shim, script);
  await chmod(shim, 0o755);
  return dir;
}

export async function makeCtx(
  cluster: Cluster,
  namespace: string,
  say: (l: string) => void,
  show: Ctx["show"],
): Promise<Ctx> {
  const { kubectl: kubectlBin } = await assets("kubectl");
  const bin = await pluginPath(cluster.cp.session.path("bin"));
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    KUBECONFIG: cluster.kubeconfig,
    NO_COLOR: "1",
  };
  const exec = async (args: string[], input?: string): Promise<Result> => {
    const p = run(kubectlBin, args, { env, maxBuffer: 16 << 20, timeout: 180_000 });
    if (input !== undefined) p.child.stdin?.end(input);
    return p.then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: typeof e.code === "number" ? e.code : 1,
        stdout: e.stdout ?? "",
        stderr: e.stderr ?? String(e),
      }),
    );
  };
  return {
    cluster,
    namespace,
    kubectl: (args, input) => exec(["-n", namespace, ...args], input),
    kubectlIn: (ns, args, input) => exec(["-n", ns, ...args], input),
    vol: (args) =>
      exec(["vol", "-n", namespace, ...args, ...(args.includes("--wait") ? ["--timeout", "120s"] : [])]),
    say,
    show,
  };
}

export async function must(ctx: Ctx, cmd: string, r: Promise<Result>): Promise<Result> {
  const res = await r;
  ctx.show(cmd, res);
  expectThat(res.code === 0, `\`${cmd}\` should succeed (exit ${res.code})`, res.stderr || res.stdout);
  return res;
}

/** `kubectl -n NAMESPACE ARGS -o json`, parsed; a failure fails the check. */
export async function jsonOf<T>(ctx: Ctx, namespace: string, args: string[]): Promise<T> {
  const r = await ctx.kubectlIn(namespace, [...args, "-o", "json"]);
  expectThat(r.code === 0, `kubectl ${args.join(" ")} should succeed`, r.stderr);
  return JSON.parse(r.stdout) as T;
}

async function phase(ctx: Ctx, claim: string): Promise<string> {
  const r = await ctx.kubectl(["get", "pvc", claim, "-o", "jsonpath={.status.phase}"]);
  return r.stdout.trim();
}

export async function waitBound(ctx: Ctx, claim: string): Promise<void> {
  await waitUntil(`claim ${claim} to be Bound`, async () => (await phase(ctx, claim)) === "Bound", 120_000);
}

export const claimYaml = (name: string, opts: { size?: string; block?: boolean } = {}) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "vol-local",
      resources: { requests: { storage: opts.size ?? "1Gi" } },
      ...(opts.block ? { volumeMode: "Block" } : {}),
    },
  });

export interface PodOptions {
  /** Run on this node (kubernetes.io/hostname), which a WaitForFirstConsumer claim follows. */
  node?: string;
  /** Use the claim as a raw block device at /dev/xvda instead of a file system at /data. */
  block?: boolean;
  /** More claims to mount, each at its path (claim → path). */
  mounts?: Record<string, string>;
  /** A shell script the pod runs first (instead of only idling). */
  script?: string;
  /** With `script`: the script runs to its end, then the pod is Ready and idles. */
  readyAfterScript?: boolean;
}

const IDLE = "trap 'exit 0' TERM; while true; do sleep 1; done";

/**
 * A busybox pod that mounts `claim` at /data (or /dev/xvda; none when `claim` is "") and each
 * of `opts.mounts`, runs `opts.script` if any, and idles until deleted. The one pod every test
 * and bench on real nodes runs.
 */
export function podYaml(name: string, claim: string, opts: PodOptions = {}): string {
  const mounts: [string, string][] = [
    ...(claim && !opts.block ? ([[claim, "/data"]] as [string, string][]) : []),
    ...Object.entries(opts.mounts ?? {}),
  ];
  const claims = [...(claim ? [claim] : []), ...Object.keys(opts.mounts ?? {})];
  const volumeName = (c: string) => `v${claims.indexOf(c)}`;
  const script = !opts.script
    ? IDLE
    : opts.readyAfterScript
      ? `${opts.script} && sync && touch /tmp/done; ${IDLE}`
      : opts.script;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      ...(opts.node ? { nodeSelector: { "kubernetes.io/hostname": opts.node } } : {}),
      containers: [
        {
          name: "app",
          image: BUSYBOX_IMAGE,
          imagePullPolicy: "Never",
          command: ["/bin/sh", "-c", script],
          ...(opts.readyAfterScript
            ? { readinessProbe: { exec: { command: ["cat", "/tmp/done"] }, periodSeconds: 1 } }
            : {}),
          ...(opts.block && claim
            ? { volumeDevices: [{ name: volumeName(claim), devicePath: "/dev/xvda" }] }
            : {}),
          ...(mounts.length
            ? { volumeMounts: mounts.map(([c, mountPath]) => ({ name: volumeName(c), mountPath })) }
            : {}),
        },
      ],
      volumes: claims.map((c) => ({ name: volumeName(c), persistentVolumeClaim: { claimName: c } })),
    },
  });
}

/** Creates a pod using `claim` and waits until it runs; returns the node it runs on. */
export async function startPod(
  ctx: Ctx,
  name: string,
  claim: string,
  opts: PodOptions = {},
): Promise<string> {
  await must(
    ctx,
    `kubectl apply -f ${name}.yaml`,
    ctx.kubectl(["apply", "-f", "-"], podYaml(name, claim, opts)),
  );
  const wait = await ctx.kubectl(["wait", "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]);
  if (wait.code !== 0) {
    const d = await ctx.kubectl(["describe", "pod", name]);
    expectThat(
      false,
      `pod ${name} should become Ready`,
      `${wait.stderr}\n${d.stdout.split("\n").slice(-15).join("\n")}`,
    );
  }
  return (await ctx.kubectl(["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"])).stdout.trim();
}

/** `kubectl exec POD -- sh -c SCRIPT`, shown as typed; returns what it printed. */
export async function sh(ctx: Ctx, pod: string, script: string): Promise<string> {
  const r = await must(
    ctx,
    `kubectl exec ${pod} -- sh -c '${script}'`,
    ctx.kubectl(["exec", pod, "--", "sh", "-c", script]),
  );
  return r.stdout;
}

export async function deletePod(ctx: Ctx, name: string): Promise<void> {
  await must(
    ctx,
    `kubectl delete pod ${name}`,
    ctx.kubectl(["delete", "pod", name, "--wait=true", "--timeout=90s"]),
  );
}

function nodeNamed(ctx: Ctx, name: string): RealNode {
  const n = ctx.cluster.nodes.find((x) => x.name === name);
  if (!n) throw new CheckFailed(`no node ${name} in the local cluster`);
  return n;
}

async function volumeHandle(ctx: Ctx, claim: string): Promise<{ pv: string; handle: string }> {
  const pv = (await ctx.kubectl(["get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}"])).stdout.trim();
  const handle = (
    await ctx.kubectl(["get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeHandle}"])
  ).stdout.trim();
  return { pv, handle };
}

/** Mount targets inside the node's mount namespace that name the PV (a published volume). */
async function mountsOf(node: RealNode, pv: string): Promise<string[]> {
  const out = await node.nsexec("findmnt", ["-rn", "-o", "TARGET"]);
  return out.split("\n").filter((t) => t.includes(`/${pv}/`) || t.endsWith(`/${pv}`));
}

export interface Scenario {
  id: number;
  title: string;
  run(ctx: Ctx): Promise<void>;
}

export const walkthrough: Scenario = {
  id: 1,
  title: "snapshot and restore with pods (the CSI host-path walkthrough)",
  async run(ctx) {
    ctx.say("a claim csi-pvc and a busybox pod my-csi-app that mounts it at /data");
    await must(ctx, "kubectl apply -f csi-pvc.yaml", ctx.kubectl(["apply", "-f", "-"], claimYaml("csi-pvc")));
    const node = await startPod(ctx, "my-csi-app", "csi-pvc");
    ctx.say(`my-csi-app runs on node ${node}`);
    await sh(ctx, "my-csi-app", "echo hoge > /data/hello.txt && sync");
    await must(
      ctx,
      "kubectl vol snapshot csi-pvc --name new-snapshot-demo --wait",
      ctx.vol(["snapshot", "csi-pvc", "--name", "new-snapshot-demo", "--wait"]),
    );
    await sh(ctx, "my-csi-app", "echo foo >> /data/hello.txt && sync");
    await must(
      ctx,
      "kubectl vol restore new-snapshot-demo --name csi-pvc-restore --wait",
      ctx.vol(["restore", "new-snapshot-demo", "--name", "csi-pvc-restore", "--wait"]),
    );
    const rnode = await startPod(ctx, "my-csi-app-restore", "csi-pvc-restore");
    const restored = await sh(ctx, "my-csi-app-restore", "cat /data/hello.txt");
    const original = await sh(ctx, "my-csi-app", "cat /data/hello.txt");
    ctx.say(
      `the restored claim (on ${rnode}) reads ${JSON.stringify(restored)}; the original reads ${JSON.stringify(original)}`,
    );
    expectThat(restored === "hoge\n", 'the restored volume should read "hoge" only', restored);
    expectThat(original === "hoge\nfoo\n", 'the original should read "hoge" and "foo"', original);
    expectThat(rnode === node, `the restore should stay on the snapshot's node ${node}`, rnode);
  },
};

export const clone: Scenario = {
  id: 2,
  title: "a clone used by a pod on the same node",
  async run(ctx) {
    await must(
      ctx,
      "kubectl vol clone csi-pvc --name csi-pvc-clone --wait",
      ctx.vol(["clone", "csi-pvc", "--name", "csi-pvc-clone", "--wait"]),
    );
    const cnode = await startPod(ctx, "my-clone-app", "csi-pvc-clone");
    const snode = (await ctx.kubectl(["get", "pod", "my-csi-app", "-o", "jsonpath={.spec.nodeName}"])).stdout;
    const c = await sh(ctx, "my-clone-app", "cat /data/hello.txt");
    ctx.say(`the clone (used on ${cnode}) reads ${JSON.stringify(c)}, like its source on ${snode}`);
    expectThat(c === "hoge\nfoo\n", "the clone should hold the source's data", c);
    expectThat(cnode === snode, `the clone's pod should run on the source's node ${snode}`, cnode);
    await sh(ctx, "my-clone-app", "echo bar > /data/clone-only.txt");
    await sh(ctx, "my-csi-app", "echo baz > /data/source-only.txt");
    const cloneSees = await sh(ctx, "my-clone-app", "ls /data");
    const sourceSees = await sh(ctx, "my-csi-app", "ls /data");
    expectThat(
      !cloneSees.includes("source-only") && !sourceSees.includes("clone-only"),
      "writes to one should not show in the other",
      { cloneSees, sourceSees },
    );
  },
};

export const webhook: Scenario = {
  id: 3,
  title: "the admission webhook (a pod on the nodes) at work through kubectl apply",
  async run(ctx) {
    const other = `${ctx.namespace}-other`;
    await ctx.kubectl(["create", "namespace", other]);
    const crossNs = JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "stolen" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "vol-local",
        resources: { requests: { storage: "1Gi" } },
        dataSourceRef: { kind: "PersistentVolumeClaim", name: "csi-pvc", namespace: ctx.namespace },
      },
    });
    const denied1 = await ctx.kubectlIn(other, ["apply", "-f", "-"], crossNs);
    ctx.show(`kubectl apply -f clone-from-${ctx.namespace}.yaml -n ${other}`, denied1);
    expectThat(denied1.code !== 0, "a clone from another namespace should be denied", denied1.stdout);
    expectThat(
      /denied the request/.test(denied1.stderr) && /namespace/.test(denied1.stderr),
      "the denial should come from our webhook and name the namespace",
      denied1.stderr,
    );

    const fromOtherKind = JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "from-settings" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "vol-local",
        resources: { requests: { storage: "1Gi" } },
        dataSourceRef: { apiGroup: "example.com", kind: "Settings", name: "settings" },
      },
    });
    const denied2 = await ctx.kubectl(["apply", "-f", "-"], fromOtherKind);
    ctx.show("kubectl apply -f from-settings.yaml", denied2);
    expectThat(denied2.code !== 0, "a data source of an unknown kind should be denied", denied2.stdout);
    expectThat(
      /denied the request/.test(denied2.stderr) && /VolumeSnapshot/.test(denied2.stderr),
      "the denial should name the allowed kinds",
      denied2.stderr,
    );

    const noSize = JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "restore-no-size" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "vol-local",
        dataSource: {
          apiGroup: "snapshot.storage.k8s.io",
          kind: "VolumeSnapshot",
          name: "new-snapshot-demo",
        },
      },
    });
    await must(
      ctx,
      "kubectl apply -f restore-no-size.yaml   # no storage request",
      ctx.kubectl(["apply", "-f", "-"], noSize),
    );
    const size = (
      await ctx.kubectl([
        "get",
        "pvc",
        "restore-no-size",
        "-o",
        "jsonpath={.spec.resources.requests.storage}",
      ])
    ).stdout;
    ctx.say(`the webhook filled in the snapshot's size: ${size}`);
    expectThat(size === "1Gi", "the request should be the snapshot's restoreSize (1Gi)", size);
    await waitBound(ctx, "restore-no-size");
    await startPod(ctx, "restore-no-size-app", "restore-no-size");
    const text = await sh(ctx, "restore-no-size-app", "cat /data/hello.txt");
    expectThat(text === "hoge\n", 'it should read "hoge"', text);
    await deletePod(ctx, "restore-no-size-app");
  },
};

export const lineage: Scenario = {
  id: 4,
  title: "kubectl vol list and tree show the lineage",
  async run(ctx) {
    const list = await must(ctx, "kubectl vol list", ctx.vol(["list"]));
    const rows = list.stdout.split("\n");
    const row = (name: string) => rows.find((l) => (l.split(/\s+/)[0] ?? "").endsWith(`/${name}`)) ?? "";
    expectThat(
      /csi-pvc\b/.test(row("new-snapshot-demo")),
      "new-snapshot-demo's SOURCE should be csi-pvc",
      row("new-snapshot-demo"),
    );
    expectThat(
      /new-snapshot-demo/.test(row("csi-pvc-restore")),
      "csi-pvc-restore's SOURCE should be new-snapshot-demo",
      row("csi-pvc-restore"),
    );
    expectThat(
      /csi-pvc\b/.test(row("csi-pvc-clone").replace("csi-pvc-clone", "")),
      "csi-pvc-clone's SOURCE should be csi-pvc",
      row("csi-pvc-clone"),
    );
    const tree = await must(ctx, "kubectl vol tree csi-pvc", ctx.vol(["tree", "csi-pvc"]));
    for (const name of ["new-snapshot-demo", "csi-pvc-restore", "csi-pvc-clone", "restore-no-size"]) {
      expectThat(tree.stdout.includes(name), `the tree under csi-pvc should include ${name}`, tree.stdout);
    }
  },
};

export const block: Scenario = {
  id: 5,
  title: "a Block volume written and read raw in a pod, snapshotted and restored",
  async run(ctx) {
    await must(
      ctx,
      "kubectl apply -f raw.yaml   # volumeMode: Block",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("raw", { size: "64Mi", block: true })),
    );
    await startPod(ctx, "raw-app", "raw", { block: true });
    await sh(
      ctx,
      "raw-app",
      "printf FIRST-BLOCK-DATA | dd of=/dev/xvda bs=16 count=1 conv=notrunc,fsync 2>/dev/null",
    );
    await must(
      ctx,
      "kubectl vol snapshot raw --name raw-snap --wait",
      ctx.vol(["snapshot", "raw", "--name", "raw-snap", "--wait"]),
    );
    await sh(
      ctx,
      "raw-app",
      "printf LATER-BLOCK-DATA | dd of=/dev/xvda bs=16 count=1 conv=notrunc,fsync 2>/dev/null",
    );
    await must(
      ctx,
      "kubectl vol restore raw-snap --name raw-restore --wait",
      ctx.vol(["restore", "raw-snap", "--name", "raw-restore", "--wait"]),
    );
    await startPod(ctx, "raw-restore-app", "raw-restore", { block: true });
    const restored = await sh(ctx, "raw-restore-app", "dd if=/dev/xvda bs=16 count=1 2>/dev/null");
    const now = await sh(ctx, "raw-app", "dd if=/dev/xvda bs=16 count=1 2>/dev/null");
    expectThat(
      restored === "FIRST-BLOCK-DATA",
      "the restored device should hold the snapshot's bytes",
      restored,
    );
    expectThat(now === "LATER-BLOCK-DATA", "the source device should hold the later bytes", now);
    await deletePod(ctx, "raw-restore-app");
    await deletePod(ctx, "raw-app");
  },
};

/** The node whose csi-resizer holds the leader lease (csi-resizer has no per-node mode). */
async function resizerLeaderNode(ctx: Ctx): Promise<string | undefined> {
  const leases = await jsonOf<{
    items: { metadata: { name: string }; spec?: { holderIdentity?: string } }[];
  }>(ctx, SYSTEM_NAMESPACE, ["get", "leases"]);
  const holder = leases.items.find((l) => l.metadata.name.includes("resizer"))?.spec?.holderIdentity ?? "";
  // The identity is the replica's host name (with hostNetwork, its node's name) with every
  // character other than a letter, digit or '-' made a '-': 127.0.0.2 holds as 127-0-0-2.
  return ctx.cluster.nodes.find((n) => n.name.replace(/[^a-zA-Z0-9-]/g, "-") === holder)?.name;
}

export const expansion: Scenario = {
  id: 6,
  title: "expanding a claim in use on the node that does not lead csi-resizer",
  async run(ctx) {
    const nodes = ctx.cluster.nodes.map((n) => n.name);
    let leader: string | undefined;
    await waitUntil(
      "a csi-resizer leader",
      async () => {
        leader = await resizerLeaderNode(ctx);
        return leader !== undefined;
      },
      60_000,
    );
    const target = nodes.find((n) => n !== leader) ?? nodes[0] ?? "";
    ctx.say(`csi-resizer's leader runs on ${leader}; the claim goes to ${target}`);
    await must(
      ctx,
      "kubectl apply -f grow.yaml   # 64Mi",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("grow", { size: "64Mi" })),
    );
    await startPod(ctx, "grow-app", "grow", { node: target });
    const tooBig = await ctx.kubectl([
      "exec",
      "grow-app",
      "--",
      "sh",
      "-c",
      "dd if=/dev/zero of=/data/big bs=1M count=100 conv=fsync",
    ]);
    ctx.show(
      "kubectl exec grow-app -- sh -c 'dd if=/dev/zero of=/data/big bs=1M count=100 conv=fsync'",
      tooBig,
    );
    expectThat(
      tooBig.code !== 0,
      "writing 100 MiB into a 64 MiB volume should fail (btrfs qgroup)",
      tooBig.stdout,
    );
    await sh(ctx, "grow-app", "rm -f /data/big; sync");
    await must(
      ctx,
      `kubectl patch pvc grow -p '{"spec":{"resources":{"requests":{"storage":"256Mi"}}}}'`,
      ctx.kubectl([
        "patch",
        "pvc",
        "grow",
        "-p",
        JSON.stringify({ spec: { resources: { requests: { storage: "256Mi" } } } }),
      ]),
    );
    await waitUntil(
      "the claim grow to report 256Mi",
      async () =>
        (await ctx.kubectl(["get", "pvc", "grow", "-o", "jsonpath={.status.capacity.storage}"])).stdout ===
        "256Mi",
      120_000,
    );
    ctx.say("the claim reports 256Mi");
    await sh(ctx, "grow-app", "dd if=/dev/zero of=/data/big bs=1M count=100 conv=fsync 2>&1 | tail -1");
    await deletePod(ctx, "grow-app");
  },
};

export const lifecycle: Scenario = {
  id: 7,
  title: "pod deleted → unpublished; claim deleted → volume gone from the node",
  async run(ctx) {
    await must(
      ctx,
      "kubectl apply -f brief.yaml",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("brief", { size: "64Mi" })),
    );
    const nodeName = await startPod(ctx, "brief-app", "brief");
    const node = nodeNamed(ctx, nodeName);
    const { pv, handle } = await volumeHandle(ctx, "brief");
    expectThat(
      (await mountsOf(node, pv)).length > 0,
      `the volume ${pv} should be mounted on ${nodeName} while used`,
      [],
    );
    await deletePod(ctx, "brief-app");
    await waitUntil(
      `${pv} unpublished on ${nodeName}`,
      async () => (await mountsOf(node, pv)).length === 0,
      60_000,
    );
    ctx.say(`pod gone: no mount of ${pv} is left on ${nodeName}`);
    const volumes = path.join(node.dataDir, "volumes");
    expectThat(
      existsSync(path.join(volumes, handle)),
      `the volume ${handle} should be on ${nodeName}'s data dir`,
      await readdir(volumes),
    );
    await must(ctx, "kubectl delete pvc brief", ctx.kubectl(["delete", "pvc", "brief", "--wait=true"]));
    await waitUntil(
      `the volume ${handle} removed from ${nodeName}`,
      async () => !existsSync(path.join(volumes, handle)),
      60_000,
    );
    ctx.say(`claim gone: ${handle} is gone from ${nodeName}'s data dir`);
  },
};

export const driverRestart: Scenario = {
  id: 8,
  title: "the driver pod restarted while volumes are mounted",
  async run(ctx) {
    const nodeName = (await ctx.kubectl(["get", "pod", "my-csi-app", "-o", "jsonpath={.spec.nodeName}"]))
      .stdout;
    const pods = await jsonOf<{ items: { metadata: { name: string }; spec: { nodeName: string } }[] }>(
      ctx,
      SYSTEM_NAMESPACE,
      ["get", "pods", "-l", "app.kubernetes.io/name=vol-csi-node"],
    );
    const driverPod = pods.items.find((p) => p.spec.nodeName === nodeName)?.metadata.name;
    expectThat(driverPod !== undefined, `a driver pod should run on ${nodeName}`, pods.items);
    await must(
      ctx,
      `kubectl delete pod -n ${SYSTEM_NAMESPACE} ${driverPod}`,
      ctx.kubectlIn(SYSTEM_NAMESPACE, ["delete", "pod", driverPod as string, "--wait=true"]),
    );
    const text = await sh(ctx, "my-csi-app", "cat /data/hello.txt");
    expectThat(text === "hoge\nfoo\n", "a running pod should keep its data while the driver restarts", text);
    await must(
      ctx,
      `kubectl rollout status daemonset/vol-csi-node -n ${SYSTEM_NAMESPACE}`,
      ctx.kubectlIn(SYSTEM_NAMESPACE, ["rollout", "status", "daemonset/vol-csi-node", "--timeout=120s"]),
    );
    await must(
      ctx,
      "kubectl apply -f after-restart.yaml",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("after-restart", { size: "64Mi" })),
    );
    await startPod(ctx, "after-restart-app", "after-restart", { node: nodeName });
    await sh(ctx, "after-restart-app", "echo new > /data/new.txt && cat /data/new.txt");
    await deletePod(ctx, "after-restart-app");
  },
};

export const kubeletRestart: Scenario = {
  id: 9,
  title: "a node's kubelet stopped and restarted: its pods and volumes come back",
  async run(ctx) {
    const nodeName = (await ctx.kubectl(["get", "pod", "my-csi-app", "-o", "jsonpath={.spec.nodeName}"]))
      .stdout;
    const node = nodeNamed(ctx, nodeName);
    ctx.say(`stopping the kubelet of ${nodeName}`);
    await node.stopKubelet();
    await new Promise((r) => setTimeout(r, 3000));
    ctx.say(`starting the kubelet of ${nodeName} again`);
    await node.startKubelet();
    await waitUntil(
      `node ${nodeName} Ready again`,
      async () =>
        (
          await ctx.kubectl([
            "get",
            "node",
            nodeName,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
          ])
        ).stdout === "True",
      90_000,
    );
    // The restarted kubelet knows the pod again once it has synced it: exec works from then on.
    let text = "";
    await waitUntil(
      "kubectl exec into my-csi-app through the restarted kubelet",
      async () => {
        const r = await ctx.kubectl(["exec", "my-csi-app", "--", "cat", "/data/hello.txt"]);
        text = r.stdout;
        return r.code === 0;
      },
      90_000,
    );
    ctx.show("kubectl exec my-csi-app -- cat /data/hello.txt", { code: 0, stdout: text, stderr: "" });
    await must(
      ctx,
      "kubectl wait --for=condition=Ready pod/my-csi-app",
      ctx.kubectl(["wait", "--for=condition=Ready", "pod/my-csi-app", "--timeout=90s"]),
    );
    expectThat(text === "hoge\nfoo\n", "the pod should keep its volume across the kubelet's restart", text);
  },
};

export const deleteSource: Scenario = {
  id: 10,
  title: "a snapshot outlives its source claim",
  async run(ctx) {
    await must(
      ctx,
      "kubectl apply -f short-lived.yaml",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("short-lived")),
    );
    await startPod(ctx, "short-lived-app", "short-lived");
    await sh(ctx, "short-lived-app", "echo keep me > /data/data.txt && sync");
    await must(
      ctx,
      "kubectl vol snapshot short-lived --name keepsake --wait",
      ctx.vol(["snapshot", "short-lived", "--name", "keepsake", "--wait"]),
    );
    const { pv } = await volumeHandle(ctx, "short-lived");
    await deletePod(ctx, "short-lived-app");
    await must(
      ctx,
      "kubectl delete pvc short-lived",
      ctx.kubectl(["delete", "pvc", "short-lived", "--wait=true"]),
    );
    await waitUntil(
      `PV ${pv} to be deleted by the provisioner`,
      async () => (await ctx.kubectl(["get", "pv", pv])).code !== 0,
      60_000,
    );
    ctx.say(`the source claim and its volume ${pv} are gone`);
    // No flags: the size comes from the snapshot's restoreSize, the class from its CSI driver.
    await must(
      ctx,
      "kubectl vol restore keepsake --name revived --wait",
      ctx.vol(["restore", "keepsake", "--name", "revived", "--wait"]),
    );
    const cls = await ctx.kubectl(["get", "pvc", "revived", "-o", "jsonpath={.spec.storageClassName}"]);
    expectThat(cls.stdout === "vol-local", "the restore should get the driver's class", cls.stdout);
    await startPod(ctx, "revived-app", "revived");
    const text = await sh(ctx, "revived-app", "cat /data/data.txt");
    expectThat(text === "keep me\n", "the restore should hold the deleted claim's data", text);
    await deletePod(ctx, "revived-app");
  },
};

/** What `npm run demo` shows. */
export const demoScenarios: Scenario[] = [walkthrough, clone, webhook, lineage];
/** What the e2e test runs, in this order (later ones use what earlier ones made). */
export const scenarios: Scenario[] = [
  walkthrough,
  clone,
  webhook,
  lineage,
  block,
  expansion,
  lifecycle,
  driverRestart,
  kubeletRestart,
  deleteSource,
];

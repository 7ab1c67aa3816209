// The end-to-end scenarios, shared by `npm run demo` (which prints each step) and the e2e test
// (which runs them all). Each step runs what a person would type — `kubectl vol …` and
// `kubectl apply` — against the local system of src/localcluster/system.ts, and checks the result; a
// check that fails throws with what was expected and what came back.
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { assets, repoRoot } from "./assets.ts";
import { waitUntil } from "./session.ts";
import type { System } from "./system.ts";

const run = promisify(execFile);

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Ctx {
  sys: System;
  namespace: string;
  /** `kubectl <args>` with the system's kubeconfig; never throws (look at `code`). */
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
  const built = path.join(repoRoot, "dist/kubectl-vol");
  const shim = path.join(dir, "kubectl-vol");
  const script = `#!/bin/sh\nexec "${process.execPath}" "${path.join(repoRoot, "cmd/kubectl-vol/main.ts")}" "$@"\n`;
  await writeFile(shim, script);
  await chmod(shim, 0o755);
  void built;
  return dir;
}

export async function makeCtx(
  sys: System,
  namespace: string,
  say: (l: string) => void,
  show: Ctx["show"],
): Promise<Ctx> {
  const { kubectl: kubectlBin } = await assets("kubectl");
  const bin = await pluginPath(sys.cp.session.path("bin"));
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    KUBECONFIG: sys.kubeconfig,
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
    sys,
    namespace,
    kubectl: (args, input) => exec(["-n", namespace, ...args], input),
    kubectlIn: (ns, args, input) => exec(["-n", ns, ...args], input),
    vol: (args) =>
      exec(["vol", "-n", namespace, ...args, ...(args.includes("--wait") ? ["--timeout", "90s"] : [])]),
    say,
    show,
  };
}

async function must(ctx: Ctx, cmd: string, r: Promise<Result>): Promise<Result> {
  const res = await r;
  ctx.show(cmd, res);
  expectThat(res.code === 0, `\`${cmd}\` should succeed (exit ${res.code})`, res.stderr || res.stdout);
  return res;
}

async function phase(ctx: Ctx, claim: string): Promise<string> {
  const r = await ctx.kubectl(["get", "pvc", claim, "-o", "jsonpath={.status.phase}"]);
  return r.stdout.trim();
}

async function waitBound(ctx: Ctx, claim: string): Promise<void> {
  await waitUntil(`claim ${claim} to be Bound`, async () => (await phase(ctx, claim)) === "Bound", 90_000);
}

/** Writes (or appends) a file in a claim's volume through the node service, as a pod would. */
async function writeIn(ctx: Ctx, claim: string, file: string, text: string, append = false): Promise<string> {
  const m = await ctx.sys.mount(ctx.namespace, claim);
  try {
    const p = path.join(m.path, file);
    const before = append ? await readFile(p, "utf8") : "";
    await writeFile(p, before + text);
    return m.node;
  } finally {
    await m.unmount();
  }
}

async function readIn(ctx: Ctx, claim: string, file: string): Promise<{ text: string; node: string }> {
  const m = await ctx.sys.mount(ctx.namespace, claim, { readonly: true });
  try {
    return { text: await readFile(path.join(m.path, file), "utf8"), node: m.node };
  } finally {
    await m.unmount();
  }
}

const claimYaml = (name: string, size = "1Gi") =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "vol-local",
      resources: { requests: { storage: size } },
    },
  });

export interface Scenario {
  id: number;
  title: string;
  run(ctx: Ctx): Promise<void>;
}

export const walkthrough: Scenario = {
  id: 1,
  title: "snapshot and restore (the CSI host-path walkthrough)",
  async run(ctx) {
    ctx.say(
      "create a claim csi-pvc and a pod that uses it; the scheduler picks a node and the provisioner there makes the volume",
    );
    await must(ctx, "kubectl apply -f csi-pvc.yaml", ctx.kubectl(["apply", "-f", "-"], claimYaml("csi-pvc")));
    await ctx.sys.consume(ctx.namespace, "csi-pvc");
    await waitBound(ctx, "csi-pvc");
    const node = await writeIn(ctx, "csi-pvc", "hello.txt", "hoge\n");
    ctx.say(`csi-pvc is Bound on ${node}; wrote "hoge" to hello.txt`);
    await must(
      ctx,
      "kubectl vol snapshot csi-pvc --name new-snapshot-demo --wait",
      ctx.vol(["snapshot", "csi-pvc", "--name", "new-snapshot-demo", "--wait"]),
    );
    await writeIn(ctx, "csi-pvc", "hello.txt", "foo\n", true);
    ctx.say('appended "foo" to hello.txt in csi-pvc');
    await must(
      ctx,
      "kubectl vol restore new-snapshot-demo --name csi-pvc-restore --wait",
      ctx.vol(["restore", "new-snapshot-demo", "--name", "csi-pvc-restore", "--wait"]),
    );
    const restored = await readIn(ctx, "csi-pvc-restore", "hello.txt");
    const original = await readIn(ctx, "csi-pvc", "hello.txt");
    ctx.say(
      `restored volume (on ${restored.node}) reads ${JSON.stringify(restored.text)}; the original reads ${JSON.stringify(original.text)}`,
    );
    expectThat(restored.text === "hoge\n", 'the restored volume should read "hoge" only', restored.text);
    expectThat(original.text === "hoge\nfoo\n", 'the original should read "hoge" and "foo"', original.text);
    expectThat(
      restored.node === node,
      `the restore should stay on the snapshot's node ${node}`,
      restored.node,
    );
  },
};

export const clone: Scenario = {
  id: 2,
  title: "clone a claim with data",
  async run(ctx) {
    await must(
      ctx,
      "kubectl vol clone csi-pvc --name csi-pvc-clone --wait",
      ctx.vol(["clone", "csi-pvc", "--name", "csi-pvc-clone", "--wait"]),
    );
    const c = await readIn(ctx, "csi-pvc-clone", "hello.txt");
    const s = await readIn(ctx, "csi-pvc", "hello.txt");
    ctx.say(`the clone (on ${c.node}) reads ${JSON.stringify(c.text)}, like its source on ${s.node}`);
    expectThat(c.text === s.text, "the clone should hold the source's data", c.text);
    expectThat(c.node === s.node, `the clone should stay on the source's node ${s.node}`, c.node);
    await writeIn(ctx, "csi-pvc-clone", "clone-only.txt", "bar\n");
    await writeIn(ctx, "csi-pvc", "source-only.txt", "baz\n");
    const cloneSeesSource = await readIn(ctx, "csi-pvc-clone", "source-only.txt").then(
      () => true,
      () => false,
    );
    const sourceSeesClone = await readIn(ctx, "csi-pvc", "clone-only.txt").then(
      () => true,
      () => false,
    );
    ctx.say(
      `wrote a file in each: the clone sees the source's: ${cloneSeesSource}; the source sees the clone's: ${sourceSeesClone}`,
    );
    expectThat(!cloneSeesSource && !sourceSeesClone, "writes to one should not show in the other", {
      cloneSeesSource,
      sourceSeesClone,
    });
  },
};

export const webhook: Scenario = {
  id: 3,
  title: "the admission webhook at work through kubectl apply",
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

    const fromConfigMap = JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "from-configmap" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "vol-local",
        resources: { requests: { storage: "1Gi" } },
        dataSourceRef: { apiGroup: "example.com", kind: "ConfigMap", name: "settings" },
      },
    });
    const denied2 = await ctx.kubectl(["apply", "-f", "-"], fromConfigMap);
    ctx.show("kubectl apply -f from-configmap.yaml", denied2);
    expectThat(denied2.code !== 0, "a ConfigMap data source should be denied", denied2.stdout);
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
    const r = await readIn(ctx, "restore-no-size", "hello.txt");
    ctx.say(`restore-no-size is Bound and reads ${JSON.stringify(r.text)}`);
    expectThat(r.text === "hoge\n", 'it should read "hoge"', r.text);
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

export const deleteSource: Scenario = {
  id: 5,
  title: "a snapshot outlives its source claim",
  async run(ctx) {
    await must(
      ctx,
      "kubectl apply -f short-lived.yaml",
      ctx.kubectl(["apply", "-f", "-"], claimYaml("short-lived")),
    );
    await ctx.sys.consume(ctx.namespace, "short-lived");
    await waitBound(ctx, "short-lived");
    await writeIn(ctx, "short-lived", "data.txt", "keep me\n");
    await must(
      ctx,
      "kubectl vol snapshot short-lived --name keepsake --wait",
      ctx.vol(["snapshot", "short-lived", "--name", "keepsake", "--wait"]),
    );
    const pv = (await ctx.kubectl(["get", "pvc", "short-lived", "-o", "jsonpath={.spec.volumeName}"])).stdout;
    await must(
      ctx,
      "kubectl delete pod use-short-lived",
      ctx.kubectl(["delete", "pod", "use-short-lived", "--grace-period=0", "--force"]),
    );
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
    const r = await readIn(ctx, "revived", "data.txt");
    expectThat(r.text === "keep me\n", "the restore should hold the deleted claim's data", r.text);
  },
};

export const scenarios: Scenario[] = [walkthrough, clone, webhook, lineage, deleteSource];

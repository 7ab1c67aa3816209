// `npm run build`: the plugin as a single-file executable that needs no Node installed.
//
//   dist/kubectl-vol.cjs        the command line (yargs, verbs, printers): small, so help,
//                               usage errors and completion start fast
//   dist/kubectl-vol-core.cjs   the half that talks to the API server (Kubernetes client)
//   dist/kubectl-vol            Node's single executable application: a copy of the node binary
//                               with the first bundle as its main script and the second as an
//                               asset, loaded only when a verb needs the cluster
//   dist/kubectl_complete-vol   kubectl's plugin completion entry (calls `kubectl-vol __complete`)
//   dist/kubectl-vol_linux_<arch>.tar.gz + dist/krew-vol.yaml   a krew release and its manifest
//   dist/csi.proto, dist/pluginregistration.proto   the CSI spec and the kubelet's plugin
//                               registration API, which the driver loads next to its bundle
//
// `node scripts/build.ts --plugin-only` stops after the executable (the integration tests use it).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { build, type Plugin } from "esbuild";
import { CSI_PROTO, cacheDir, REGISTRATION_PROTO } from "../src/driver/proto.ts";

export const root = path.resolve(import.meta.dirname, "..");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const CORE_ASSET = "kubectl-vol-core.cjs";
const CORE_CACHE_ASSET = "kubectl-vol-core.cache";

/** The node binary every npm script runs on (the `node` dev dependency), copied into the executable. */
function nodeBinary(): string {
  const p = path.join(root, "node_modules/node/bin/node");
  return existsSync(p) ? p : process.execPath;
}

// The bundle loads its core through load-core.bundled.ts instead of a dynamic import.
const swapLoader: Plugin = {
  name: "swap-core-loader",
  setup(b) {
    b.onResolve({ filter: /\/load-core\.ts$/ }, () => ({
      path: path.join(root, "src/plugin/load-core.bundled.ts"),
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node24",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  // Some dependencies are ES modules that read import.meta.url; a CommonJS bundle has __filename.
  define: { "import.meta.url": "__import_meta_url", "import.meta.dirname": "__dirname" },
  banner: { js: 'var __import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
} as const;

export async function bundle(dist: string): Promise<void> {
  mkdirSync(dist, { recursive: true });
  await Promise.all([
    build({
      ...common,
      entryPoints: [path.join(root, "cmd/kubectl-vol/main.ts")],
      outfile: path.join(dist, "kubectl-vol.cjs"),
      plugins: [swapLoader],
    }),
    build({
      ...common,
      entryPoints: [path.join(root, "src/kube/cluster.ts")],
      outfile: path.join(dist, CORE_ASSET),
    }),
  ]);
}

/**
 * A V8 code cache of the core, made by the node binary the executable is copied from (a cache
 * is only accepted by the same V8): loading the core then skips most of its compilation. The
 * cache is made after running the core's top level, so the functions it ran are in it.
 */
function coreCodeCache(node: string, dist: string): void {
  const loader = path.join(root, "src/plugin/load-core.bundled.ts");
  const script = `
    const { coreScript } = await import(${JSON.stringify(loader)});
    const { readFileSync, writeFileSync } = await import("node:fs");
    const { createRequire } = await import("node:module");
    const file = ${JSON.stringify(path.join(dist, CORE_ASSET))};
    const s = coreScript(readFileSync(file, "utf8"), file);
    const mod = { exports: {} };
    s.runInThisContext()(mod.exports, createRequire(file), mod, file, ${JSON.stringify(dist)});
    writeFileSync(${JSON.stringify(path.join(dist, CORE_CACHE_ASSET))}, s.createCachedData());
  `;
  execFileSync(node, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "inherit"] });
}

export async function executable(dist: string): Promise<string> {
  coreCodeCache(nodeBinary(), dist);
  const exe = await sea(dist, "kubectl-vol", path.join(dist, "kubectl-vol.cjs"), {
    [CORE_ASSET]: path.join(dist, CORE_ASSET),
    [CORE_CACHE_ASSET]: path.join(dist, CORE_CACHE_ASSET),
  });
  const complete = path.join(dist, "kubectl_complete-vol");
  writeFileSync(
    complete,
    `#!/bin/sh
# kubectl's plugin completion protocol: kubectl runs this with "__complete" words.
here=$(dirname "$0")
if [ -x "$here/kubectl-vol" ]; then exec "$here/kubectl-vol" __complete "$@"; fi
exec kubectl-vol __complete "$@"
`,
  );
  chmodSync(complete, 0o755);
  return exe;
}

/** A krew archive of the executable and the manifest that installs it. */
function krew(dist: string): void {
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  const archive = `kubectl-vol_linux_${arch}.tar.gz`;
  execFileSync("tar", ["-czf", archive, "kubectl-vol", "kubectl_complete-vol"], { cwd: dist });
  const sha256 = createHash("sha256")
    .update(readFileSync(path.join(dist, archive)))
    .digest("hex");
  const version = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string })
    .version;
  const template = readFileSync(path.join(root, "manifests/krew/vol.yaml"), "utf8");
  writeFileSync(
    path.join(dist, "krew-vol.yaml"),
    template
      .replace(/^#.*\n/, `# krew plugin manifest of kubectl-vol v${version}, generated by npm run build.\n`)
      .replaceAll("{{VERSION}}", `v${version}`)
      .replaceAll("{{ARCH}}", arch)
      .replaceAll("{{SHA256}}", sha256),
  );
}

/**
 * The CSI driver loads csi.proto and the kubelet's pluginregistration.proto at run time: copy
 * them next to the bundles when scripts/bins.sh has cached them (~/.cache/kubectl-vol/files/…,
 * or $KUBECTL_VOL_CACHE).
 */
function protos(dist: string): void {
  for (const src of [CSI_PROTO, REGISTRATION_PROTO]) {
    const cached = path.join(cacheDir(), "files", src.cacheDir, src.file);
    if (existsSync(cached)) copyFileSync(cached, path.join(dist, src.file));
    else
      console.error(
        `build: no cached ${src.file} (run \`bash scripts/bins.sh ${src.part}\`); dist/${src.file} not written`,
      );
  }
}

/** The servers (the driver and the webhook) as single-file executables, for the container image. */
const SERVERS = {
  "vol-csi": `import { runDriverCli } from "./src/driver/cli.ts";
runDriverCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });`,
  "vol-webhook": `import { runBootstrapCli } from "./src/webhook/bootstrap.ts";
import { main } from "./src/webhook/main.ts";
const [first, ...rest] = process.argv.slice(2);
(first === "bootstrap-certs" ? runBootstrapCli(rest) : main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});`,
} as const;

export async function servers(dist: string): Promise<string[]> {
  const out: string[] = [];
  for (const [name, contents] of Object.entries(SERVERS)) {
    const cjs = path.join(dist, `${name}.cjs`);
    await build({
      ...common,
      stdin: { contents, resolveDir: root, loader: "ts", sourcefile: `${name}.ts` },
      outfile: cjs,
    });
    out.push(await sea(dist, name, cjs, {}));
  }
  return out;
}

/** Node's single executable application: a copy of the node binary with `main` injected. */
async function sea(
  dist: string,
  name: string,
  main: string,
  assets: Record<string, string>,
): Promise<string> {
  const config = path.join(dist, `${name}.sea-config.json`);
  const blob = path.join(dist, `${name}.sea-prep.blob`);
  writeFileSync(
    config,
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }),
  );
  const node = nodeBinary();
  execFileSync(node, ["--experimental-sea-config", config], { stdio: ["ignore", "ignore", "inherit"] });
  const exe = path.join(dist, name);
  rmSync(exe, { force: true });
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  // postject ships no types; its API is inject(file, resourceName, data, { sentinelFuse }).
  const { inject } = createRequire(import.meta.url)("postject") as {
    inject(file: string, name: string, data: Buffer, opts: { sentinelFuse: string }): Promise<void>;
  };
  await inject(exe, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
  rmSync(blob);
  rmSync(config);
  return exe;
}

async function mainBuild(): Promise<void> {
  const pluginOnly = process.argv.includes("--plugin-only");
  const dist = path.join(root, "dist");
  const t0 = Date.now();
  await bundle(dist);
  const exe = await executable(dist);
  if (!pluginOnly) {
    krew(dist);
    protos(dist);
    await servers(dist);
  }
  console.log(`built ${path.relative(root, exe)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.main) await mainBuild();

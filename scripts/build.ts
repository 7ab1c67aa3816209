// `npm run build`: kubectl-vol as one multi-call executable that needs no Node installed.
//
//   dist/kubectl-vol            Node's single executable application: a copy of the node binary
//                               whose main script (cmd/multicall) runs the part named by the
//                               name it is started as; each part is an embedded bundle with a V8
//                               code cache, loaded only when that part runs
//   dist/vol-csi, dist/vol-webhook, dist/kubectl_complete-vol
//                               links to dist/kubectl-vol (src/exe/names.ts lists the names)
//   dist/csi.proto, dist/pluginregistration.proto   the CSI spec and the kubelet's plugin
//                               registration API, beside the executable, where the driver finds them
//   dist/bundles/               the bundles and code caches embedded in the executable (each
//                               part's bundle runs under node too: node dist/bundles/vol-csi.cjs)
//   dist/release/               the krew archive kubectl-vol_linux_<arch>.tar.gz and krew-vol.yaml
//
// Nothing else in dist/ is named kubectl-*: dist/ goes on PATH, and kubectl takes every
// kubectl-* file there for a plugin.
//
// `node scripts/build.ts --plugin-only` skips the krew release and the protos (the executable is
// the same); `--out DIR` builds into DIR instead of dist/.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";
import { CSI_PROTO, cacheDir, REGISTRATION_PROTO } from "../src/driver/proto.ts";
import { BUNDLE_DIR, bundleFile, cacheFile } from "../src/exe/bundles.ts";
import { EXECUTABLE, linkNames, PARTS } from "../src/exe/names.ts";
import { VERSION } from "../src/kube/version.ts";
import { CORE_BUNDLE } from "../src/plugin/load-core.bundled.ts";

export const root = path.resolve(import.meta.dirname, "..");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const MAIN_BUNDLE = "multicall";
/** The bundles embedded in the executable besides its main script: the parts and the plugin's core. */
const EMBEDDED = [...PARTS, CORE_BUNDLE];

/** The node binary every npm script runs on (the `node` dev dependency), copied into the executable. */
function nodeBinary(): string {
  const p = path.join(root, "node_modules/node/bin/node");
  return existsSync(p) ? p : process.execPath;
}

// The plugin's bundle loads its core through load-core.bundled.ts instead of a dynamic import.
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
  // import.meta.main (an entry run directly) is true only for the bundle node started.
  define: {
    "import.meta.url": "__import_meta_url",
    "import.meta.dirname": "__dirname",
    "import.meta.main": "__import_meta_main",
    __KUBECTL_VOL_VERSION__: JSON.stringify(VERSION),
  },
  banner: {
    js: 'var __import_meta_url=require("node:url").pathToFileURL(__filename).href,__import_meta_main=require.main===module;',
  },
} as const;

const entries: Record<string, string> = {
  [MAIN_BUNDLE]: "cmd/multicall/main.ts",
  [CORE_BUNDLE]: "src/plugin/core.ts",
  ...Object.fromEntries(PARTS.map((p) => [p, `cmd/${p}/main.ts`])),
};

/** Every bundle into DIST/bundles/. */
export async function bundle(dist: string): Promise<void> {
  const out = path.join(dist, BUNDLE_DIR);
  mkdirSync(out, { recursive: true });
  await Promise.all(
    Object.entries(entries).map(([name, entry]) =>
      build({
        ...common,
        entryPoints: [path.join(root, entry)],
        outfile: path.join(out, bundleFile(name)),
        plugins: name === "kubectl-vol" ? [swapLoader] : [],
      }),
    ),
  );
}

/**
 * V8 code caches of the embedded bundles, made by the node binary the executable is copied from
 * (a cache is only accepted by the same V8): loading a part then skips most of its compilation.
 * Each cache is made after running the bundle's top level, so the functions it ran are in it.
 */
function codeCaches(node: string, dir: string): void {
  const script = `
    const { bundleScript, evaluate, bundleFile, cacheFile } = await import(${JSON.stringify(path.join(root, "src/exe/bundles.ts"))});
    const { readFileSync, writeFileSync } = await import("node:fs");
    const { createRequire } = await import("node:module");
    const path = await import("node:path");
    for (const name of ${JSON.stringify(EMBEDDED)}) {
      const file = path.join(${JSON.stringify(dir)}, bundleFile(name));
      const s = bundleScript(readFileSync(file, "utf8"), file);
      evaluate(s, createRequire(file), file, ${JSON.stringify(dir)});
      writeFileSync(path.join(${JSON.stringify(dir)}, cacheFile(name)), s.createCachedData());
    }
  `;
  execFileSync(node, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "inherit"] });
}

/** The executable DIST/kubectl-vol and its links, out of DIST/bundles/. */
export async function executable(dist: string): Promise<string> {
  const dir = path.join(dist, BUNDLE_DIR);
  codeCaches(nodeBinary(), dir);
  const assets: Record<string, string> = {};
  for (const name of EMBEDDED) {
    assets[bundleFile(name)] = path.join(dir, bundleFile(name));
    assets[cacheFile(name)] = path.join(dir, cacheFile(name));
  }
  const exe = await sea(dist, EXECUTABLE, path.join(dir, bundleFile(MAIN_BUNDLE)), assets);
  for (const name of linkNames()) {
    rmSync(path.join(dist, name), { force: true });
    symlinkSync(EXECUTABLE, path.join(dist, name));
  }
  return exe;
}

/**
 * kubectl takes every file named kubectl-* on PATH for a plugin: remove what older builds left
 * in dist/ under such names (bundles, code caches, archives), keeping only the executable.
 */
function removeStrays(dist: string): void {
  if (!existsSync(dist)) return;
  for (const f of readdirSync(dist)) {
    if (f.startsWith("kubectl-") && f !== EXECUTABLE)
      rmSync(path.join(dist, f), { recursive: true, force: true });
  }
  for (const f of ["vol-csi.cjs", "vol-webhook.cjs", "krew-vol.yaml"])
    rmSync(path.join(dist, f), { force: true });
}

/** A krew archive of the executable and the manifest that installs it, in DIST/release/. */
function krew(dist: string): void {
  const out = path.join(dist, "release");
  mkdirSync(out, { recursive: true });
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  const archive = path.join(out, `kubectl-vol_linux_${arch}.tar.gz`);
  execFileSync("tar", ["-czf", archive, "-C", dist, EXECUTABLE]);
  const sha256 = createHash("sha256").update(readFileSync(archive)).digest("hex");
  const version = VERSION;
  const template = readFileSync(path.join(root, "manifests/krew/vol.yaml"), "utf8");
  writeFileSync(
    path.join(out, "krew-vol.yaml"),
    template
      .replace(/^#.*\n/, `# krew plugin manifest of kubectl-vol v${version}, generated by npm run build.\n`)
      .replaceAll("{{VERSION}}", `v${version}`)
      .replaceAll("{{ARCH}}", arch)
      .replaceAll("{{SHA256}}", sha256),
  );
}

/**
 * The CSI driver loads csi.proto and the kubelet's pluginregistration.proto at run time: copy
 * them next to the executable when scripts/bins.sh has cached them (~/.cache/kubectl-vol/files/…,
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

/** Node's single executable application: a copy of the node binary with `main` injected. */
async function sea(
  dist: string,
  name: string,
  main: string,
  assets: Record<string, string>,
): Promise<string> {
  const config = path.join(dist, BUNDLE_DIR, "sea-config.json");
  const blob = path.join(dist, BUNDLE_DIR, "sea-prep.blob");
  writeFileSync(
    config,
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }),
  );
  const node = nodeBinary();
  try {
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
    return exe;
  } finally {
    rmSync(blob, { force: true });
    rmSync(config, { force: true });
  }
}

async function mainBuild(): Promise<void> {
  const { values } = parseArgs({
    options: { "plugin-only": { type: "boolean" }, out: { type: "string" } },
  });
  const pluginOnly = Boolean(values["plugin-only"]);
  const dist = path.resolve(values.out ?? path.join(root, "dist"));
  const t0 = Date.now();
  removeStrays(dist);
  await bundle(dist);
  const exe = await executable(dist);
  if (!pluginOnly) {
    krew(dist);
    protos(dist);
  }
  console.log(
    `built ${path.relative(root, exe)} (also ${linkNames().join(", ")}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) await mainBuild();

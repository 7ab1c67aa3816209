// The container images the local cluster's nodes run, built here with no registry: FROM scratch
// with buildah out of local files, saved as OCI archives in the cache (keyed by what went in),
// and imported into every node's containerd under exactly the names manifests/ uses.
//
//   pause     a static C program (images/pause.c), the pod sandbox
//   busybox   Debian's busybox-static with its applet links, for the pods that use volumes
//   ours      scripts/image.sh out of `npm run build` (the kubectl-vol executable and its tools)
//   upstream  csi-provisioner, csi-snapshotter, csi-resizer, snapshot-controller: the binaries
//             scripts/bins.sh built, each alone in its image with itself as the entrypoint
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Exec, exec } from "../../driver/exec.ts";
import { assets, cacheDir, repoRoot } from "../assets.ts";

export const PAUSE_IMAGE = "localhost/kubectl-vol/pause:1.0";
export const BUSYBOX_IMAGE = "localhost/kubectl-vol/busybox:1.35";
/** The image manifests/base names (after its kustomize `images:` entry). */
export const OUR_IMAGE = "localhost/kubectl-vol:v0.1.0";

export interface BuiltImage {
  name: string;
  archive: string;
}

/** The upstream images manifests/ names: `registry.k8s.io/sig-storage/<bin>:<version>`. */
async function upstreamImages(): Promise<{ name: string; bin: string }[]> {
  const versions = readFileSync(path.join(repoRoot, "scripts/versions.env"), "utf8");
  const v = (k: string): string => {
    const m = versions.match(new RegExp(`^${k}=(\\S+)`, "m"));
    if (!m?.[1]) throw new Error(`scripts/versions.env has no ${k}`);
    return m[1];
  };
  const bins = await assets("csi-provisioner", "csi-snapshotter", "csi-resizer", "snapshot-controller");
  return [
    {
      name: `registry.k8s.io/sig-storage/csi-provisioner:${v("CSI_PROVISIONER_VERSION")}`,
      bin: bins["csi-provisioner"],
    },
    {
      name: `registry.k8s.io/sig-storage/csi-snapshotter:${v("SNAPSHOTTER_VERSION")}`,
      bin: bins["csi-snapshotter"],
    },
    { name: `registry.k8s.io/sig-storage/csi-resizer:${v("CSI_RESIZER_VERSION")}`, bin: bins["csi-resizer"] },
    {
      name: `registry.k8s.io/sig-storage/snapshot-controller:${v("SNAPSHOTTER_VERSION")}`,
      bin: bins["snapshot-controller"],
    },
  ];
}

/**
 * A cache key of files: by content for small ones (sources), by size and modification time for
 * large ones (executables, where a rebuild changes both). Never by path, so checkouts of the
 * project in other folders share one cache.
 */
function keyOf(parts: string[], files: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${p}\0`);
  for (const f of files) {
    const st = statSync(f);
    if (st.size < 1 << 20) h.update(readFileSync(f));
    else h.update(`${st.size}\0${st.mtimeMs}\0`);
    h.update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

/** Keeps the newest few archives of an image (other checkouts may use older ones). */
async function pruneArchives(dir: string, name: string): Promise<void> {
  const mine = (await readdir(dir))
    .filter((f) => f.startsWith(`${safeName(name)}-`) && f.endsWith(".tar"))
    .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of mine.slice(3)) await rm(path.join(dir, f), { force: true });
}

function safeName(image: string): string {
  return image.replace(/[^a-zA-Z0-9.-]+/g, "_");
}

/**
 * Builds (or takes from the cache) the OCI archive of an image whose root file system `fill`
 * lays out in a folder. The archive is made under a temporary name and renamed into place, so
 * an interrupted build leaves no archive that looks complete.
 */
async function ociImage(
  name: string,
  key: string,
  entrypoint: string[],
  fill: (rootfs: string) => Promise<void>,
  run: Exec,
): Promise<BuiltImage> {
  const dir = path.join(cacheDir(), "images");
  const archive = path.join(dir, `${safeName(name)}-${key}.tar`);
  if (existsSync(archive)) return { name, archive };
  await mkdir(dir, { recursive: true });
  const work = path.join(dir, `.build-${safeName(name)}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  const rootfs = path.join(work, "rootfs");
  await mkdir(rootfs, { recursive: true });
  try {
    await fill(rootfs);
    const containerfile = path.join(work, "Containerfile");
    await writeFile(containerfile, `FROM scratch\nCOPY . /\nENTRYPOINT ${JSON.stringify(entrypoint)}\n`);
    const tag = `localhost/kubectl-vol-build/${safeName(name)}:${key}`;
    await run("buildah", ["build", "--quiet", "-f", containerfile, "-t", tag, rootfs], {
      timeoutMs: 300_000,
    });
    const tmp = `${archive}.tmp-${process.pid}`;
    try {
      await run("buildah", ["push", "--quiet", tag, `oci-archive:${tmp}:${name}`], { timeoutMs: 300_000 });
    } finally {
      await run("buildah", ["rmi", tag]).catch(() => undefined);
    }
    await rename(tmp, archive);
    await pruneArchives(dir, name);
    return { name, archive };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function pauseImage(run: Exec): Promise<BuiltImage> {
  const src = path.join(import.meta.dirname, "pause.c");
  return ociImage(
    PAUSE_IMAGE,
    keyOf(["pause"], [src]),
    ["/pause"],
    async (rootfs) => {
      await run("gcc", ["-static", "-Os", "-s", "-o", path.join(rootfs, "pause"), src]);
    },
    run,
  );
}

async function busyboxImage(run: Exec): Promise<BuiltImage> {
  const bb = "/bin/busybox";
  if (!existsSync(bb))
    throw new Error("/bin/busybox is missing: install busybox-static (bash scripts/setup.sh)");
  return ociImage(
    BUSYBOX_IMAGE,
    keyOf(["busybox"], [bb]),
    ["/bin/sh"],
    async (rootfs) => {
      await mkdir(path.join(rootfs, "bin"), { recursive: true });
      await mkdir(path.join(rootfs, "tmp"), { recursive: true });
      await chmod(path.join(rootfs, "tmp"), 0o1777);
      await copyFile(bb, path.join(rootfs, "bin/busybox"));
      await chmod(path.join(rootfs, "bin/busybox"), 0o755);
      const { stdout } = await run(bb, ["--list"]);
      for (const applet of stdout.split("\n").map((s) => s.trim())) {
        if (applet && applet !== "busybox") await symlink("busybox", path.join(rootfs, "bin", applet));
      }
    },
    run,
  );
}

async function upstreamImage(name: string, bin: string, run: Exec): Promise<BuiltImage> {
  const exe = `/${path.basename(bin)}`;
  return ociImage(
    name,
    keyOf([name], [bin]),
    [exe],
    async (rootfs) => {
      await copyFile(bin, path.join(rootfs, exe));
      await chmod(path.join(rootfs, exe), 0o755);
      await mkdir(path.join(rootfs, "tmp"), { recursive: true });
      await chmod(path.join(rootfs, "tmp"), 0o1777);
    },
    run,
  );
}

/** Our image: scripts/image.sh on the `npm run build` output (built first when sources changed). */
async function ourImage(run: Exec, log: (l: string) => void): Promise<BuiltImage> {
  await ensureBuild(run, log);
  const dist = path.join(repoRoot, "dist");
  const inputs = (await readdir(dist)).filter((f) => /^(vol-|kubectl-vol$|csi\.proto$)/.test(f)).sort();
  const key = keyOf(
    ["ours", readFileSync(path.join(repoRoot, "scripts/image.sh"), "utf8")],
    inputs.map((f) => path.join(dist, f)),
  );
  const dir = path.join(cacheDir(), "images");
  const archive = path.join(dir, `${safeName(OUR_IMAGE)}-${key}.tar`);
  if (existsSync(archive)) return { name: OUR_IMAGE, archive };
  log(`building the image ${OUR_IMAGE} (scripts/image.sh)`);
  await mkdir(dir, { recursive: true });
  await run("bash", [path.join(repoRoot, "scripts/image.sh"), OUR_IMAGE], { timeoutMs: 600_000 });
  const tmp = `${archive}.tmp-${process.pid}`;
  await run("buildah", ["push", "--quiet", OUR_IMAGE, `oci-archive:${tmp}:${OUR_IMAGE}`], {
    timeoutMs: 300_000,
  });
  await rename(tmp, archive);
  await pruneArchives(dir, OUR_IMAGE);
  return { name: OUR_IMAGE, archive };
}

/** Newest modification time of the files under `dirs` (recursively). */
function newest(dirs: string[]): number {
  let max = 0;
  const walk = (p: string): void => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const f of readdirSync(p)) walk(path.join(p, f));
    } else if (st.mtimeMs > max) max = st.mtimeMs;
  };
  for (const d of dirs) walk(d);
  return max;
}

/** Runs `npm run build` (scripts/build.ts) unless dist/ is newer than every source. */
export async function ensureBuild(run: Exec, log: (l: string) => void): Promise<void> {
  const stamp = path.join(repoRoot, "dist", ".built");
  const sources = ["src", "cmd", "scripts/build.ts", "package-lock.json"].map((p) => path.join(repoRoot, p));
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built > newest(sources)) return;
  log("building kubectl-vol (npm run build: the sources changed since the last build)");
  await run(process.execPath, [path.join(repoRoot, "scripts/build.ts")], { timeoutMs: 900_000 });
  await writeFile(stamp, `${new Date().toISOString()}\n`);
}

/** The images every node needs whatever runs on it: the pod sandbox and busybox. */
export async function baseImages(run: Exec = exec): Promise<BuiltImage[]> {
  return [await pauseImage(run), await busyboxImage(run)];
}

/**
 * Runs `fn` holding a lock folder (one build of dist/ and the images at a time, however many
 * clusters start at once); a lock whose holder is gone is taken over.
 */
async function withLock<T>(lock: string, fn: () => Promise<T>, log: (l: string) => void): Promise<T> {
  let told = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(await readFile(path.join(lock, "pid"), "utf8").catch(() => ""));
      let alive = true;
      try {
        if (pid > 0) process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive || (pid === 0 && Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 10_000)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (!told) log(`waiting for another build of the images (process ${pid})`);
      told = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Runs `fn` while no other process builds dist/ or an image (scripts/image.sh writes under dist/ too). */
export async function withBuildLock<T>(
  fn: () => Promise<T>,
  log: (l: string) => void = () => {},
): Promise<T> {
  await mkdir(path.join(cacheDir(), "images"), { recursive: true });
  return withLock(path.join(cacheDir(), "images", ".lock"), fn, log);
}

/** Every image the local cluster needs, built or taken from the cache. */
export async function clusterImages(log: (l: string) => void, run: Exec = exec): Promise<BuiltImage[]> {
  return withBuildLock(() => buildAll(log, run), log);
}

async function buildAll(log: (l: string) => void, run: Exec): Promise<BuiltImage[]> {
  const t0 = Date.now();
  const out: BuiltImage[] = await baseImages(run);
  for (const u of await upstreamImages()) out.push(await upstreamImage(u.name, u.bin, run));
  out.push(await ourImage(run, log));
  log(`images ready (${out.length}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

// Real filesystems for tests and benchmarks: a sparse image file in a Session dir, attached to a
// loop device, formatted (btrfs, XFS with reflink, ext4) and mounted under the same dir.
// Every mount and loop device is registered with session.onCleanup before it exists, so it is
// removed on a normal stop and, through the session's watchdog, when the runner dies. The
// clean-up finds the loop device by its backing file (never by a number another test may have
// been given since) and unmounts before it detaches.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import type { Exec } from "../driver/backends/backend.ts";
import { exec as defaultExec } from "../driver/exec.ts";
import type { Session } from "./session.ts";

export type FsType = "btrfs" | "xfs" | "ext4";

export interface LoopFs {
  readonly fs: FsType;
  /** The sparse image file. */
  readonly image: string;
  /** The loop device, e.g. /dev/loop3. */
  readonly device: string;
  /** Where the filesystem is mounted. */
  readonly mountpoint: string;
  /** The mount options actually used. */
  readonly options: string[];
  /** Whether quota accounting is on in the mount (XFS prjquota; false when the kernel lacks it). */
  readonly quotas: boolean;
  /** Unmounts and detaches now (idempotent; the session clean-up does the same at the end). */
  release(): Promise<void>;
}

export interface LoopFsOptions {
  /** Apparent size of the sparse image (default 2 GiB). */
  sizeBytes?: number;
  /** A readable part of the file names (default: the fs type). */
  name?: string;
  exec?: Exec;
}

const GiB = 2 ** 30;

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell command that unmounts whatever is mounted at `dir`, recursively. A busy filesystem
 * (a command of a killed process still finishing in it) gets 10 s to become free; only then is
 * it detached lazily, and its loop device goes when the last user does.
 */
function unmountCommand(dir: string): string {
  const d = shq(dir);
  return (
    `for i in $(seq 50); do mountpoint -q ${d} || break; umount -R ${d} 2>/dev/null || sleep 0.2; done; ` +
    `if mountpoint -q ${d}; then umount -R -l ${d}; fi`
  );
}

/** The shell command that detaches every loop device backed by `image`. */
function detachCommand(image: string): string {
  return `for d in $(losetup -n -O NAME -j ${shq(image)}); do losetup -d "$d"; done`;
}

const MKFS: Record<FsType, (dev: string) => [string, string[]]> = {
  btrfs: (dev) => ["mkfs.btrfs", ["-q", "-f", dev]],
  xfs: (dev) => ["mkfs.xfs", ["-q", "-f", "-m", "reflink=1", dev]],
  ext4: (dev) => ["mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", dev]],
};

/** Creates, formats and mounts a loop filesystem inside `session`'s dir. */
export async function mountLoopFs(session: Session, fs: FsType, opts: LoopFsOptions = {}): Promise<LoopFs> {
  const run = opts.exec ?? defaultExec;
  const size = Math.ceil((opts.sizeBytes ?? 2 * GiB) / 2 ** 20) * 2 ** 20;
  const base = `${opts.name ?? fs}-${randomBytes(4).toString("hex")}`;
  const image = session.path(`${base}.img`);
  const mountpoint = session.path(base);
  await mkdir(mountpoint);
  // Sparse: the file takes only the blocks the filesystem writes.
  const fh = await open(image, "wx");
  await fh.truncate(size);
  await fh.close();

  // Registered before they exist (clean-up runs in reverse: unmount first, then detach).
  session.onCleanup(detachCommand(image));
  session.onCleanup(unmountCommand(mountpoint));

  const release = async (): Promise<void> => {
    await run("bash", ["-c", unmountCommand(mountpoint)]);
    await run("bash", ["-c", detachCommand(image)]);
  };

  try {
    const { stdout } = await run("losetup", ["--find", "--show", "--direct-io=on", image]);
    const device = stdout.trim();
    const [cmd, args] = MKFS[fs](device);
    await run(cmd, args, { timeoutMs: 300_000 });
    let options: string[] = [];
    let quotas = false;
    if (fs === "xfs") {
      // Project quotas need them on at mount time, and a kernel built with CONFIG_XFS_QUOTA.
      try {
        await run("mount", ["-t", "xfs", "-o", "prjquota", device, mountpoint]);
        options = ["prjquota"];
        quotas = true;
      } catch {
        await run("mount", ["-t", "xfs", device, mountpoint]);
      }
    } else {
      await run("mount", ["-t", fs, device, mountpoint]);
    }
    return { fs, image, device, mountpoint, options, quotas, release };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

/**
 * Loop devices and mounts that still refer to `dir` (a session dir or a prefix of one).
 * Empty after a clean run: the check the tests end with.
 */
export async function leftoversUnder(dir: string, exec: Exec = defaultExec): Promise<string[]> {
  const found: string[] = [];
  const { stdout } = await exec("losetup", ["-a", "-n", "-O", "NAME,BACK-FILE", "--list"]);
  for (const line of stdout.split("\n")) if (line.includes(dir)) found.push(`loop: ${line.trim()}`);
  const mounts = await readFile("/proc/mounts", "utf8");
  for (const line of mounts.split("\n")) {
    const mp = line.split(" ")[1];
    if (mp && unescapeMount(mp).startsWith(dir)) found.push(`mount: ${line.trim()}`);
  }
  return found;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

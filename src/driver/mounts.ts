// What the node service needs from the kernel: the mount table (/proc/self/mountinfo), bind
// mounts, and loop devices for block volumes. Every command goes through the injected Exec.
// A mount is identified the way mountinfo does it: the filesystem (major:minor) and the path
// inside it (root). So "is X mounted at T" and "is X mounted anywhere" need no stat of the
// target and work for btrfs subvolumes and device nodes alike.
import { readFile, realpath } from "node:fs/promises";
import path from "node:path";
import type { Exec } from "./backends/backend.ts";

/** lstat of a path the CO gives (a target), or undefined when nothing is there; EACCES and the like are errors. */
export { lstatIfExists } from "./backends/common.ts";

export interface MountEntry {
  majmin: string;
  /** Path inside the filesystem that is mounted here. */
  root: string;
  mountpoint: string;
  options: string[];
  fstype: string;
  source: string;
}

export interface Identity {
  majmin: string;
  root: string;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo text. Pure. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const a = line.slice(0, sep).split(" ");
    const b = line.slice(sep + 3).split(" ");
    if (a.length < 6 || b.length < 2) continue;
    out.push({
      majmin: a[2] ?? "",
      root: unescapeOctal(a[3] ?? ""),
      mountpoint: unescapeOctal(a[4] ?? ""),
      options: (a[5] ?? "").split(","),
      fstype: b[0] ?? "",
      source: unescapeOctal(b[1] ?? ""),
    });
  }
  return out;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
}

function within(p: string, dir: string): boolean {
  return dir === "/" || p === dir || p.startsWith(`${dir}/`);
}

/** The top-most mount at exactly `mountpoint`. */
export function mountAt(entries: MountEntry[], mountpoint: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountpoint === mountpoint) found = e;
  return found;
}

/** The filesystem and in-filesystem path of an absolute, symlink-free path. Pure. */
export function identityIn(entries: MountEntry[], p: string): Identity | undefined {
  let best: MountEntry | undefined;
  for (const e of entries) {
    if (within(p, e.mountpoint) && (!best || e.mountpoint.length >= best.mountpoint.length)) best = e;
  }
  if (!best) return undefined;
  const rel = path.relative(best.mountpoint, p);
  return { majmin: best.majmin, root: rel ? path.posix.join(best.root, rel) : best.root };
}

/** Mounts whose source is `id` or something inside it. */
export function mountsOf(entries: MountEntry[], id: Identity): MountEntry[] {
  return entries.filter((e) => e.majmin === id.majmin && within(e.root, id.root));
}

export function sameMount(e: MountEntry | undefined, id: Identity | undefined): boolean {
  return Boolean(e && id && e.majmin === id.majmin && e.root === id.root);
}

export async function identityOf(p: string, entries?: MountEntry[]): Promise<Identity | undefined> {
  return identityIn(entries ?? (await readMounts()), await realpath(p));
}

/** Mount flags a bind mount may carry (from VolumeCapability.mount_flags). */
export const BIND_FLAGS = new Set([
  "ro",
  "rw",
  "noexec",
  "exec",
  "nosuid",
  "suid",
  "nodev",
  "dev",
  "noatime",
  "relatime",
  "nodiratime",
  "strictatime",
]);

export class Mounter {
  private readonly exec: Exec;
  constructor(exec: Exec) {
    this.exec = exec;
  }

  async bind(src: string, target: string, flags: string[]): Promise<void> {
    await this.exec("mount", ["--bind", src, target]);
    if (flags.length > 0) await this.remount(target, flags);
  }

  async remount(target: string, flags: string[]): Promise<void> {
    await this.exec("mount", ["-o", ["remount", "bind", ...flags].join(","), target]);
  }

  async unmount(target: string): Promise<void> {
    await this.exec("umount", [target]);
  }

  /** Loop devices attached to `file` (resolved path). */
  async loopsOf(file: string): Promise<{ name: string; readOnly: boolean }[]> {
    const { stdout } = await this.exec("losetup", ["--json", "--list", "-O", "NAME,BACK-FILE,RO"]);
    if (!stdout.trim()) return [];
    const parsed = JSON.parse(stdout) as {
      loopdevices?: { name: string; "back-file"?: string; ro?: boolean | string }[];
    };
    const out: { name: string; readOnly: boolean }[] = [];
    for (const d of parsed.loopdevices ?? []) {
      const back = (d["back-file"] ?? "").replace(/ \(deleted\)$/, "");
      if (back === file) out.push({ name: d.name, readOnly: d.ro === true || d.ro === "1" });
    }
    return out;
  }

  async attachLoop(file: string, readOnly: boolean): Promise<string> {
    const args = ["--find", "--show", ...(readOnly ? ["--read-only"] : []), file];
    const { stdout } = await this.exec("losetup", args);
    return stdout.trim();
  }

  async detachLoop(device: string): Promise<void> {
    await this.exec("losetup", ["--detach", device]);
  }

  async refreshLoop(device: string): Promise<void> {
    await this.exec("losetup", ["--set-capacity", device]);
  }
}

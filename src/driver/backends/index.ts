// Chooses the backend for a data directory: btrfs when the directory is on btrfs and a test
// subvolume can be made and deleted there; else reflink when a test file clone (FICLONE) works
// (XFS with reflink=1, or btrfs without subvolume rights); else copy.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, mkdir, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Backend, BackendKind, Exec } from "./backend.ts";
import { BtrfsBackend, type BtrfsBackendOptions } from "./btrfs.ts";
import { CopyBackend, type CopyBackendOptions } from "./copy.ts";
import { ReflinkBackend, type ReflinkBackendOptions } from "./reflink.ts";

export type { Backend, BackendKind, Exec } from "./backend.ts";

/** statfs f_type of btrfs (BTRFS_SUPER_MAGIC). */
const BTRFS_MAGIC = 0x9123683e;

/** Names of the probe entries detection makes (and removes) in the data directory. */
export const PROBE_PREFIX = ".vol-probe-";

export interface BackendOptions extends BtrfsBackendOptions, ReflinkBackendOptions, CopyBackendOptions {}

export async function detectBackend(
  root: string,
  exec: Exec,
  options: BackendOptions = {},
): Promise<Backend> {
  return openBackend(await detectKind(root, exec), root, exec, options);
}

/** The kind detectBackend would choose for `root`. */
export async function detectKind(root: string, exec: Exec): Promise<BackendKind> {
  const fs = await statfs(root);
  if (fs.type === BTRFS_MAGIC && (await subvolumesWork(root, exec))) return "btrfs";
  if (await reflinkWorks(root)) return "reflink";
  return "copy";
}

/** Opens a backend of a given kind on `root` (for a forced choice; detection uses it too). */
export async function openBackend(
  kind: BackendKind,
  root: string,
  exec: Exec,
  options: BackendOptions = {},
): Promise<Backend> {
  switch (kind) {
    case "btrfs":
      return BtrfsBackend.open(root, exec, options);
    case "reflink":
      return ReflinkBackend.open(root, exec, options);
    case "copy":
      return new CopyBackend(root, exec, options);
  }
}

function probePath(root: string): string {
  return path.join(root, `${PROBE_PREFIX}${randomBytes(6).toString("hex")}`);
}

async function subvolumesWork(root: string, exec: Exec): Promise<boolean> {
  const p = probePath(root);
  try {
    await exec("btrfs", ["subvolume", "create", p]);
  } catch {
    return false;
  }
  try {
    await exec("btrfs", ["subvolume", "delete", p]);
    return true;
  } catch {
    // Could make but not delete (user_subvol_rm_allowed off): not usable; leave no probe behind.
    await rm(p, { recursive: true, force: true }).catch(() => undefined);
    return false;
  }
}

async function reflinkWorks(root: string): Promise<boolean> {
  const dir = probePath(root);
  try {
    await mkdir(dir);
    await writeFile(path.join(dir, "a"), randomBytes(4096));
    await copyFile(path.join(dir, "a"), path.join(dir, "b"), constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

// Chooses the backend for a data directory: btrfs when the directory is on btrfs and a test
// subvolume can be made and deleted there; else reflink when a test file clone (FICLONE) works
// (XFS with reflink=1, or btrfs without subvolume rights); else copy. Why a backend was passed
// over is logged: the data directory records its backend (engine.ts), and a probe that fails
// where it worked before stops the start with a message that points at that log line.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, mkdir, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../kube/log.ts";
import type { Backend, BackendKind, Exec } from "./backend.ts";
import { BtrfsBackend, type BtrfsBackendOptions } from "./btrfs.ts";
import { backendLog, message } from "./common.ts";
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
  return openBackend(await detectKind(root, exec, options.log), root, exec, options);
}

/** The kind detectBackend would choose for `root`; why a better one was passed over is logged. */
export async function detectKind(root: string, exec: Exec, log?: Logger): Promise<BackendKind> {
  const fs = await statfs(root);
  const passedOver = (kind: BackendKind, reason: string) =>
    backendLog(log).info(`the ${kind} backend cannot be used in this data directory`, { root, reason });
  if (fs.type === BTRFS_MAGIC) {
    const why = await subvolumesWork(root, exec, log);
    if (why === "") return "btrfs";
    passedOver("btrfs", why);
  }
  const why = await reflinkWorks(root, log);
  if (why === "") return "reflink";
  passedOver("reflink", why);
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

/** "" when a test subvolume can be made and deleted in `root`, else why not. */
async function subvolumesWork(root: string, exec: Exec, log: Logger | undefined): Promise<string> {
  const p = probePath(root);
  try {
    await exec("btrfs", ["subvolume", "create", p]);
  } catch (err) {
    return `creating a test subvolume failed: ${message(err)}`;
  }
  try {
    await exec("btrfs", ["subvolume", "delete", p]);
    return "";
  } catch (err) {
    // Could make but not delete (user_subvol_rm_allowed off): not usable; leave no probe behind.
    await removeProbe(p, log);
    return `deleting a test subvolume failed: ${message(err)}`;
  }
}

/** "" when a test file clone (FICLONE) works in `root`, else why not. */
async function reflinkWorks(root: string, log: Logger | undefined): Promise<string> {
  const dir = probePath(root);
  try {
    await mkdir(dir);
    await writeFile(path.join(dir, "a"), randomBytes(4096));
    await copyFile(path.join(dir, "a"), path.join(dir, "b"), constants.COPYFILE_FICLONE_FORCE);
    return "";
  } catch (err) {
    return `a test reflink copy failed: ${message(err)}`;
  } finally {
    await removeProbe(dir, log);
  }
}

async function removeProbe(p: string, log: Logger | undefined): Promise<void> {
  try {
    await rm(p, { recursive: true, force: true });
  } catch (err) {
    backendLog(log).warn("could not remove a backend probe; remove it by hand", {
      path: p,
      error: message(err),
    });
  }
}

// Durable file writes, for every part that keeps files (the driver's records, the webhook's
// certificates): after a crash a file is either its old or its new version, never half of one.
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/** Part of the name of a temporary file being written (`.<name>.tmp-<hex>`), for clean-ups. */
export const TMP_MARK = ".tmp-";

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `file` atomically and durably (temp file, fsync, rename, fsync dir). */
export async function atomicWrite(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}${TMP_MARK}${randomBytes(4).toString("hex")}`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

// Writing a file so that after a crash it holds either its old or its new content, never a
// mix: write a temporary file beside it, fsync it, rename it over the file, fsync the directory.
// The one helper for every part (the driver's metadata store, the webhook's certificates).
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/** The mark in the names of temporary files (`.<name>.tmp-<hex>`), so a reader can recognise and drop them. */
export const ATOMIC_TMP_MARK = ".tmp-";

/** fsyncs a directory, making the creations, renames and removals of its entries durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `file` atomically and durably (temporary file, fsync, rename, fsync of the
 * directory). `syncDir: false` leaves out the fsync of the directory, for a caller that makes
 * the rename durable by other means (a filesystem transaction commit it is about to cause).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; syncDir?: boolean } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}${ATOMIC_TMP_MARK}${randomBytes(4).toString("hex")}`);
  const fh = await open(tmp, "wx", options.mode ?? 0o600);
  try {
    await fh.writeFile(data);
    // The mode given at creation is masked by the umask; the caller asked for exactly this one.
    if (options.mode !== undefined) await fh.chmod(options.mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (options.syncDir !== false) await fsyncDir(dir);
}

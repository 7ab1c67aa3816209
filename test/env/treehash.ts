// A digest of a directory tree for "same data" checks: every entry's relative path, type, mode,
// and content (sha256 of a file's bytes, a symlink's target). Timestamps and inode numbers are
// left out, so a faithful copy has the same digest as its source.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import path from "node:path";

export async function fileHash(p: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** One line per entry, sorted: `relpath type mode size content-hash`. */
export async function treeListing(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) lines.push(`${rel} l ${mode} - ${await readlink(p)}`);
      else if (st.isDirectory()) {
        lines.push(`${rel} d ${mode} - -`);
        await walk(p);
      } else if (st.isFile()) lines.push(`${rel} f ${mode} ${st.size} ${await fileHash(p)}`);
      else lines.push(`${rel} o ${mode} - -`);
    }
  };
  await walk(root);
  return lines;
}

export async function treeHash(root: string): Promise<string> {
  return createHash("sha256")
    .update((await treeListing(root)).join("\n"))
    .digest("hex");
}

// The writer the group snapshot test and bench hold against a driver: in its own mount namespace
// (as a pod's container would be), it puts a rising number n into <dir>/seq of each of its
// directories in turn, fsyncing each, then n+1, without pause. In a snapshot of the directories
// taken at one instant, the first one's number minus any later one's is 0 or 1.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Proc, Session } from "./session.ts";

const SCRIPT = `
const fs = require("node:fs");
const fds = process.argv.slice(1).map((d) => fs.openSync(d + "/seq", "w"));
for (let n = 1; ; n++) {
  const s = String(n).padStart(12, "0");
  for (const fd of fds) { fs.writeSync(fd, s, 0); fs.fsyncSync(fd); }
}`;

/** Starts the writer on `dirs` (a Proc of `s`, stopped with the session). */
export function startWriter(s: Session, name: string, dirs: string[]): Proc {
  return s.start(name, "unshare", [
    "--mount",
    "--propagation",
    "private",
    process.execPath,
    "-e",
    SCRIPT,
    ...dirs,
  ]);
}

/** The number the writer last put in `dir` (of a volume or a snapshot of one). */
export async function seqOf(dir: string): Promise<number> {
  return Number(await readFile(path.join(dir, "seq"), "utf8"));
}

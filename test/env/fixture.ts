// Starts a fixture script (test/env/fixtures/*.ts) in a child Node and reads the one JSON line
// it prints once it holds what it made; the test then kills it to check what is left behind.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import path from "node:path";
import type { Readable } from "node:stream";

export interface Fixture<T> {
  child: ChildProcessByStdio<null, Readable, null>;
  /** What the fixture printed. */
  info: T;
}

export async function startFixture<T>(name: string): Promise<Fixture<T>> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, "fixtures", name)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\n")) resolve(buf.split("\n")[0] ?? "");
    });
    child.once("exit", (code) => reject(new Error(`fixture ${name} exited early with code ${code}`)));
  });
  return { child, info: JSON.parse(line) as T };
}

// The command line without a cluster: parsing, validation and the error handler. A verb that
// gets past validation needs the API server, which the integration tests provide.
import { describe, expect, it } from "vitest";
import { main } from "../../../src/plugin/cli.ts";

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: { write: (s: string) => out.push(s) },
    err: { write: (s: string) => err.push(s) },
    signal: new AbortController().signal,
  });
  return { code, out: out.join(""), err: err.join("") };
}

describe("main", () => {
  it("exits 2 on usage errors, naming the verb's help", async () => {
    expect(await run(["restore"])).toEqual({
      code: 2,
      out: "",
      err: "error: SNAPSHOT is required\nSee 'kubectl vol restore -h' for help and examples.\n",
    });
    expect((await run(["snapshot", "db", "--request-timeout", "later"])).err).toMatch(
      /^error: invalid value "later" for --request-timeout/,
    );
    expect((await run(["clone", "db", "--size", "0"])).code).toBe(2);
    expect((await run(["snapshot", "db", "-n"])).err).toMatch(/Not enough arguments following: n/);
    expect((await run(["snapshot", "db", "extra"])).err).toMatch(/Unknown argument: extra/);
  });
  it("answers __complete without parsing flags", async () => {
    const r = await run(["__complete", "li"]);
    expect(r).toEqual({ code: 0, out: "list\tList claims and snapshots with their lineage\n:4\n", err: "" });
  });
  it("exits 1 with a clear message when there is no kubeconfig", async () => {
    const r = await run(["list", "--kubeconfig", "/nonexistent/kubeconfig"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot load the kubeconfig "\/nonexistent\/kubeconfig": ENOENT/);
  });
});

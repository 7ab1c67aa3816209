// The command line without a cluster: parsing, validation and the error handler. A verb that
// gets past validation needs the API server, which the integration tests provide.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main, parseCommand } from "../../../src/plugin/cli.ts";

async function run(argv: string[], signal = new AbortController().signal) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: { write: (s: string) => out.push(s) },
    err: { write: (s: string) => err.push(s) },
    signal,
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
    expect((await run(["snapshot", "db", "extra"])).err).toMatch(
      /^error: unexpected argument "extra": kubectl vol snapshot takes one PVC\n/,
    );
  });
  it("says unknown flag: --x as kubectl does, for long and shorthand flags, anywhere before --", async () => {
    expect(await run(["snapshot", "db", "--frobnicate"])).toEqual({
      code: 2,
      out: "",
      err: "error: unknown flag: --frobnicate\nSee 'kubectl vol snapshot -h' for help and examples.\n",
    });
    expect((await run(["list", "--frobnicate=3"])).err).toMatch(/^error: unknown flag: --frobnicate\n/);
    expect((await run(["list", "-x"])).err).toMatch(/^error: unknown shorthand flag: 'x' in -x\n/);
    expect((await run(["--frob", "list"])).err).toMatch(/^error: unknown flag: --frob\n/);
    expect((await run(["snapshot", "--class", "--frob", "x"])).err).not.toMatch(/unknown flag/); // a value
    // Known flags in every form still parse.
    const p = await parseCommand(["-nshop", "list", "-A", "-o=wide", "--request-timeout=2s"]);
    expect(p.global).toMatchObject({ namespace: "shop", requestTimeoutMs: 2000 });
    expect(p.options).toMatchObject({ allNamespaces: true, output: "wide", showManagedFields: false });
    const shown = await parseCommand(["clone", "db", "-o", "yaml", "--show-managed-fields"]);
    expect(shown.options).toMatchObject({ output: "yaml", showManagedFields: true });
  });
  it("reads words as kubectl's parser does: flags before the verb, grouped shorthands, names as written, -- ends the flags", async () => {
    const before = await parseCommand(["-A", "list"]);
    expect([before.verb.name, before.options]).toMatchObject(["list", { allNamespaces: true }]);
    const grouped = await parseCommand(["list", "-An", "shop", "-Ao=wide"]);
    expect(grouped.global).toMatchObject({ namespace: "shop" });
    expect(grouped.options).toMatchObject({ allNamespaces: true, output: "wide" });
    // A name that looks like a number stays the name (not 1000).
    expect((await parseCommand(["snapshot", "1e3"])).options).toMatchObject({ source: "1e3" });
    expect((await parseCommand(["snapshot", "--", "db"])).options).toMatchObject({ source: "db" });
    // A string flag takes the next word whatever it looks like.
    expect((await parseCommand(["snapshot", "--class", "--frob", "x"])).options).toMatchObject({
      source: "x",
      className: "--frob",
    });
    expect((await run(["snapshot", "db", "--", "x"])).err).toMatch(/^error: unexpected argument "x"/);
    expect((await run(["list", "-Ax"])).err).toMatch(/^error: unknown shorthand flag: 'x' in -Ax\n/);
    expect((await run(["frob", "list"])).err).toMatch(/^error: unknown verb "frob": use one of snapshot/);
    expect((await parseCommand(["snapshot", "db", "--wait=false"])).options).toMatchObject({ wait: false });
  });
  it("reads a bare --dry-run as client (kubectl's deprecated form) without taking the next word", async () => {
    const p = await parseCommand(["snapshot", "--dry-run", "db"]);
    expect(p.options).toMatchObject({ source: "db", dryRun: "client" });
    expect(p.warnings).toEqual(["--dry-run is deprecated and can be replaced with --dry-run=client."]);
    expect((await parseCommand(["clone", "db", "--dry-run=server"])).options).toMatchObject({
      source: "db",
      dryRun: "server",
    });
    expect((await parseCommand(["clone", "db", "--dry-run"])).options).toMatchObject({ dryRun: "client" });
    expect((await parseCommand(["clone", "db"])).options).toMatchObject({ dryRun: "none" });
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

describe("help", () => {
  it("renders kubectl-style help for the plugin and each verb from their declarations", async () => {
    const root = await run(["--help"]);
    expect(root.code).toBe(0);
    expect(root.out).toMatch(/^Verbs:\n {2}snapshot {3}Take a VolumeSnapshot/m);
    expect(root.out).toMatch(/Usage:\n {2}kubectl vol <verb> \[options\]\n/);
    const verb = await run(["-n", "shop", "restore", "-h", "--bogus"]);
    expect(verb.code).toBe(0);
    expect(verb.out).toMatch(
      /^Restore a VolumeSnapshot into a new PersistentVolumeClaim\.\n\nExamples:\n {2}# /,
    );
    expect(verb.out).toContain("    --storage-class='':\n\tStorageClass of the new claim");
    expect(verb.out).toContain("    --wait=false:");
    expect(verb.out).toMatch(/Usage:\n {2}kubectl vol restore SNAPSHOT \[--name N\]/);
    expect((await run(["list", "--", "--help"])).code).not.toBe(0); // after "--" it is an argument
  });
});

describe("talking to an API server that fails", () => {
  const dirs: string[] = [];
  const servers: net.Server[] = [];
  afterAll(async () => {
    for (const s of servers) s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function kubeconfigFor(server: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "kubectl-vol-cli-"));
    dirs.push(dir);
    const file = path.join(dir, "kubeconfig");
    await writeFile(
      file,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]
current-context: x
`,
    );
    return file;
  }

  it("gives up after --request-timeout on a server that never answers, exit 1", async () => {
    const silent = net.createServer(() => {}); // accepts, never answers
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const kc = await kubeconfigFor(`https://127.0.0.1:${port}`);
    const t0 = Date.now();
    const r = await run(["list", "--kubeconfig", kc, "--request-timeout", "1s"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `^error: listing .* in namespace "shop": the API server at https://127.0.0.1:${port} did not answer within 1s \\(--request-timeout\\)`,
      ),
    );
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it("exits 130 (128 + SIGINT) when Ctrl-C stops a request", async () => {
    const silent = net.createServer(() => {});
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const kc = await kubeconfigFor(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`);
    const ac = new AbortController();
    setTimeout(() => ac.abort("SIGINT"), 300);
    const r = await run(["list", "--kubeconfig", kc], ac.signal);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/interrupted/);
  });

  it("says the server cannot be reached when nothing listens", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const kc = await kubeconfigFor(`https://127.0.0.1:${port}`);
    const r = await run(["snapshot", "db", "--kubeconfig", kc]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check --kubeconfig and --context/,
    );
  });
});

describe("the object argument", () => {
  const usage = async (argv: string[]) => {
    const r = await run(argv);
    expect(r.code, r.err).toBe(2);
    return r.err.split("\n")[0];
  };
  it("takes kind/name as kubectl does: pvc/NAME for claims, volumesnapshot/NAME or vs/NAME for snapshots", async () => {
    for (const arg of ["pvc/data", "persistentvolumeclaim/data", "PVC/data", "data"]) {
      expect((await parseCommand(["clone", arg])).options).toMatchObject({ source: "data" });
      expect((await parseCommand(["snapshot", arg])).options).toMatchObject({ source: "data" });
      expect((await parseCommand(["tree", arg])).options).toMatchObject({ pvc: "data" });
    }
    for (const arg of ["volumesnapshot/x", "vs/x", "volumesnapshot.snapshot.storage.k8s.io/x"]) {
      expect((await parseCommand(["restore", arg])).options).toMatchObject({ source: "x" });
    }
  });
  it("refuses ns/name, the other kind and malformed names with the fix", async () => {
    expect(await usage(["clone", "default/data"])).toBe(
      'error: "default/data" is not a PVC name: to name the namespace use -n (kubectl vol clone data -n default), or write pvc/data',
    );
    expect(await usage(["clone", "vs/x"])).toBe(
      "error: kubectl vol clone takes a PVC, not VolumeSnapshot \"x\": for a VolumeSnapshot use 'kubectl vol restore x'",
    );
    expect(await usage(["restore", "pvc/data"])).toBe(
      "error: kubectl vol restore takes a VolumeSnapshot, not PersistentVolumeClaim \"data\": for a PVC use 'kubectl vol clone data'",
    );
    expect(await usage(["snapshot", "Bad_Name"])).toMatch(
      /^error: invalid PVC name "Bad_Name": must consist/,
    );
    expect(await usage(["list", "a/b/c"])).toMatch(/^error: "a\/b\/c" is not a PVC name/);
  });
});

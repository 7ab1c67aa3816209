// `npm run build` output as a user puts it on PATH: one multi-call executable (dist/kubectl-vol)
// with its other names as links, and nothing else named kubectl-* (kubectl takes every such
// file on PATH for a plugin). Checked with the real kubectl: `kubectl plugin list` and its
// completion of `kubectl vol`.
import { execFile } from "node:child_process";
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets, repoRoot } from "../../src/localcluster/assets.ts";
import { runCommand } from "./plugin-binary.ts";

let out: string;
let kubectl: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  out = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-build-"));
  // What an older build left there: a new build removes it.
  for (const f of [
    "kubectl-vol.cjs",
    "kubectl-vol-core.cjs",
    "kubectl-vol-core.cache",
    "kubectl-vol_linux_amd64.tar.gz",
  ]) {
    writeFileSync(path.join(out, f), "old\n");
  }
  const [{ kubectl: k }] = await Promise.all([
    assets("kubectl"),
    promisify(execFile)(process.execPath, [path.join(repoRoot, "scripts/build.ts"), "--out", out], {
      cwd: repoRoot,
      timeout: 300_000,
      maxBuffer: 64 << 20,
    }),
  ]);
  kubectl = k;
  env = { PATH: `${out}:${path.dirname(kubectl)}:/usr/bin:/bin`, HOME: out };
}, 600_000);
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("the built executable", () => {
  it("is one file; its other names are links to it, and nothing else there is named kubectl-* (older builds' files are gone)", () => {
    expect(lstatSync(path.join(out, "kubectl-vol")).isFile()).toBe(true);
    for (const name of ["vol-csi", "vol-webhook", "kubectl_complete-vol"]) {
      expect(readlinkSync(path.join(out, name)), name).toBe("kubectl-vol");
    }
    expect(readdirSync(out).filter((f) => f.startsWith("kubectl-"))).toEqual(["kubectl-vol"]);
    expect(readdirSync(path.join(out, "release")).sort()).toEqual([
      "krew-vol.yaml",
      expect.stringMatching(/^kubectl-vol_linux_(amd64|arm64)\.tar\.gz$/),
    ]);
  });

  it("kubectl plugin list, with the build on PATH, shows kubectl-vol only, and no warning", async () => {
    const r = await runCommand(kubectl, ["plugin", "list"], env);
    expect(r.code, r.stderr).toBe(0);
    const plugins = r.stdout.split("\n").filter((l) => l.startsWith("/"));
    expect(plugins).toEqual([path.join(out, "kubectl-vol")]);
    expect(r.stderr).not.toMatch(/warning/i);
  });

  it("kubectl completes `kubectl vol` with the verbs (through kubectl_complete-vol), nothing else", async () => {
    const r = await runCommand(kubectl, ["__complete", "vol", ""], env);
    expect(r.code, r.stderr).toBe(0);
    const words = r.stdout
      .split("\n")
      .filter((l) => l && !l.startsWith(":"))
      .map((l) => l.split("\t")[0]);
    expect(words).toEqual(expect.arrayContaining(["snapshot", "clone", "restore", "list", "tree"]));
    expect(words.join(" ")).not.toMatch(/core|cache|cjs/);
  });

  it("each name runs its own part", async () => {
    const plugin = await runCommand(path.join(out, "kubectl-vol"), ["--help"], env);
    expect(plugin.code, plugin.stderr).toBe(0);
    expect(plugin.stdout).toMatch(/^kubectl vol /);
    const csi = await runCommand(path.join(out, "vol-csi"), ["--help"], env);
    expect(csi.code, csi.stderr).toBe(0);
    expect(csi.stdout).toMatch(/^Usage: vol-csi/);
    const webhook = await runCommand(path.join(out, "vol-webhook"), ["--help"], env);
    expect(webhook.code, webhook.stderr).toBe(0);
    expect(webhook.stdout).toMatch(/^Usage: vol-webhook/);
    const usage = await runCommand(path.join(out, "vol-csi"), ["--frobnicate"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^vol-csi: /);
  });

  it("loads only the part it runs", async () => {
    const debug = { ...env, KUBECTL_VOL_DEBUG_BUNDLES: "1" };
    const csi = await runCommand(path.join(out, "vol-csi"), ["--help"], debug);
    expect(csi.stderr).toMatch(/^vol-csi loaded in [\d.]+ ms \(code cache used\)\n$/);
    const plugin = await runCommand(path.join(out, "kubectl-vol"), ["--help"], debug);
    expect(plugin.stderr).toMatch(/^kubectl-vol loaded in [\d.]+ ms \(code cache used\)\n$/);
  });

  it("under another name it says which names it runs as (2); vol-controller is not built yet (1)", async () => {
    const dir = mkdtempSync(path.join(out, "names-"));
    symlinkSync(path.join(out, "kubectl-vol"), path.join(dir, "kvol"));
    symlinkSync(path.join(out, "kubectl-vol"), path.join(dir, "vol-controller"));
    const unknown = await runCommand(path.join(dir, "kvol"), ["--help"], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^kvol: this executable runs as kubectl-vol, .*vol-csi, vol-webhook .*\n$/,
    );
    const controller = await runCommand(path.join(dir, "vol-controller"), [], env);
    expect(controller.code).toBe(1);
    expect(controller.stderr).toBe(
      "vol-controller: the controller (snapshot schedules) is not part of this build yet\n",
    );
  });
});

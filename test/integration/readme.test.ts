// The README's commands work as written: the npm scripts and files it names exist, no command
// runs a .ts file on the system's node, the executables it shows take the flags it gives them,
// every `kubectl vol` verb it shows takes its flags (through the real kubectl), and the image
// overlay it gives retargets every image of the manifests.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets, repoRoot } from "../../src/localcluster/assets.ts";
import { builtPlugin, runCommand } from "./plugin-binary.ts";

const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
const scripts = Object.keys(
  (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: object }).scripts,
);

interface Block {
  lang: string;
  body: string;
}
const blocks: Block[] = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1] ?? "",
  body: m[2] ?? "",
}));
/** The commands of the sh and console blocks (console: the `$ ` lines), without comments or heredoc bodies. */
const commands: string[] = blocks.flatMap((b) => {
  if (b.lang !== "sh" && b.lang !== "console") return [];
  const out: string[] = [];
  let heredoc: string | undefined;
  for (const raw of b.body.split("\n")) {
    if (heredoc) {
      if (raw === heredoc) heredoc = undefined;
      continue;
    }
    if (b.lang === "console" && !raw.startsWith("$ ")) continue;
    const line = raw
      .replace(/^\$ /, "")
      .replace(/\s+#.*$/, "")
      .trim();
    if (!line) continue;
    heredoc = /<<'?(\w+)'?/.exec(line)?.[1];
    out.push(line);
  }
  return out;
});
const inline = [...readme.replace(/^```[\s\S]*?^```$/gm, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? "");
const everything = [...commands, ...inline];

let built: string;
let kubectl: string;
let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-readme-"));
  [built, { kubectl }] = await Promise.all([builtPlugin(), assets("kubectl")]);
}, 600_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("the README's commands", () => {
  it("are found (the extraction works)", () => {
    expect(commands).toContain("npm run demo");
    expect(commands).toContain("kubectl vol snapshot db-data -n shop --wait");
    expect(commands.some((c) => c.startsWith("dist/vol-csi "))).toBe(true);
    expect(commands).not.toContain("resources: [../manifests]"); // a heredoc body is no command
  });

  it("name only npm scripts that package.json has, and benchmarks that exist", () => {
    const named = new Set(
      everything.flatMap((c) => [...c.matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1] ?? "")),
    );
    expect(named.size).toBeGreaterThan(5);
    for (const n of named) expect(scripts, `npm run ${n}`).toContain(n);
    for (const c of everything) {
      for (const m of c.matchAll(/\bnpm run bench -- (\w+)/g)) {
        expect(existsSync(path.join(repoRoot, "bench", `${m[1] ?? ""}.bench.ts`)), c).toBe(true);
      }
    }
  });

  it("name only files and folders of the repository that exist", () => {
    const re = /(?:^|[\s(=])((?:scripts|src|cmd|manifests|bench|test)\/[\w./-]*|Containerfile)/g;
    const paths = new Set(
      everything
        .filter((c) => !/[<*]|\.\.\./.test(c))
        .flatMap((c) => [...c.matchAll(re)].map((m) => (m[1] ?? "").replace(/[.,:]+$/, ""))),
    );
    expect(paths.size).toBeGreaterThan(15);
    for (const p of paths) expect(existsSync(path.join(repoRoot, p)), p).toBe(true);
  });

  it("never run a .ts file on the system's node (it may be older than 24)", () => {
    const bare = commands.filter((c) => /^node\s+\S+\.ts\b/.test(c));
    expect(bare).toEqual([]);
  });

  it("start the driver with flags it takes: the built executable and the sources", async () => {
    const driver = commands.filter((c) =>
      /^(dist\/vol-csi|node_modules\/\.bin\/node cmd\/vol-csi\/main\.ts) /.test(c),
    );
    expect(driver).toHaveLength(2);
    for (const c of driver) {
      // The README's line with --help added: a flag the driver does not know is a usage error (2).
      const line = c.replace(/^dist\//, `${built}/`);
      const r = await runCommand("bash", ["-c", `cd ${repoRoot} && ${line} --help`], {
        ...process.env,
        NODE_NAME: "node-1",
      });
      expect(r.code, `${c}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^Usage: vol-csi/);
    }
  });

  it("give `kubectl vol` verbs and flags the plugin has, through the real kubectl", async () => {
    const env = { PATH: `${built}:${path.dirname(kubectl)}:/usr/bin:/bin`, HOME: tmp };
    const vol = commands.filter((c) => c.startsWith("kubectl vol "));
    expect(vol.length).toBeGreaterThan(5);
    for (const c of vol) {
      const words = c.split(/\s+/).slice(2);
      const verb = words[0]?.startsWith("-") ? undefined : words[0];
      const r = await runCommand(kubectl, ["vol", ...(verb ? [verb] : []), "--help"], env);
      expect(r.code, `${c}\n${r.stderr}`).toBe(0);
      for (const flag of words.filter((w) => w.startsWith("-") && w !== "--help")) {
        expect(r.stdout, `${c}: ${flag}`).toContain(flag.replace(/=.*$/, ""));
      }
    }
  });

  it("point every image of the manifests at a registry with the overlay they give", async () => {
    const block = blocks.find((b) => b.body.includes("my-install/kustomization.yaml"));
    expect(block).toBeDefined();
    symlinkSync(path.join(repoRoot, "manifests"), path.join(tmp, "manifests"));
    // The block as written, minus building and pushing; `kubectl apply -k` shown as the objects it applies.
    const script = (block?.body ?? "")
      .split("\n")
      .filter((l) => !/^(npm|buildah) /.test(l))
      .join("\n")
      .replace(/^kubectl apply -k (\S+)$/m, `"${kubectl}" kustomize $1`);
    const { stdout } = await promisify(execFile)("bash", ["-c", script], { cwd: tmp, maxBuffer: 16 << 20 });
    const images = [...stdout.matchAll(/^\s*image: (\S+)$/gm)].map((m) => m[1] ?? "");
    expect(images).toContain("registry.example.com/kubectl-vol:v0.1.0");
    expect(images.filter((i) => i.includes("kubectl-vol") && !i.startsWith("registry.example.com/"))).toEqual(
      [],
    );
  });
});

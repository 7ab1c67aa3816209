// Start-up of the plugin: `dist/kubectl-vol --help` (the single executable; target: median under
// 150 ms) against the same command run from source by node (type stripping, no bundle) and the
// main bundle under node; plus completion, a usage error (yargs loaded), and a verb that loads
// the Kubernetes client up to its first request. Builds the executable first when dist/ has
// none (`node scripts/build.ts --plugin-only`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { machine, median, percentile } from "./machine.ts";

const root = path.resolve(import.meta.dirname, "..");
const exe = path.join(root, "dist/kubectl-vol");
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const TARGET_MS = 150;

if (!existsSync(exe)) {
  console.log("dist/kubectl-vol is missing: building it");
  const b = spawnSync(process.execPath, [path.join(root, "scripts/build.ts"), "--plugin-only"], {
    stdio: "inherit",
  });
  if (b.status !== 0) process.exit(1);
}

interface Case {
  name: string;
  cmd: string;
  args: string[];
  expectCode: number;
}
const node = process.execPath;
// A verb that needs the API server loads the core (the Kubernetes client): measured up to the
// first request, against a port where nothing listens.
const closed = await new Promise<number>((resolve) => {
  const srv = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (srv.address() as net.AddressInfo).port;
    srv.close(() => resolve(port));
  });
});
const deadKubeconfig = path.join(os.tmpdir(), `kubectl-vol-bench-${process.pid}.kubeconfig`);
writeFileSync(
  deadKubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${closed}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
);
process.on("exit", () => rmSync(deadKubeconfig, { force: true }));
const cases: Case[] = [
  { name: "dist/kubectl-vol --help", cmd: exe, args: ["--help"], expectCode: 0 },
  { name: "dist/kubectl-vol snapshot -h", cmd: exe, args: ["snapshot", "-h"], expectCode: 0 },
  { name: "dist/kubectl-vol __complete ''", cmd: exe, args: ["__complete", ""], expectCode: 0 },
  { name: "dist/kubectl-vol snapshot (usage error)", cmd: exe, args: ["snapshot"], expectCode: 2 },
  {
    name: "dist/kubectl-vol list (loads the client; no server)",
    cmd: exe,
    args: ["list", "--kubeconfig", deadKubeconfig],
    expectCode: 1,
  },
  {
    name: "node dist/bundles/kubectl-vol.cjs --help",
    cmd: node,
    args: [path.join(root, "dist/bundles/kubectl-vol.cjs"), "--help"],
    expectCode: 0,
  },
  {
    name: "node cmd/kubectl-vol/main.ts --help",
    cmd: node,
    args: [path.join(root, "cmd/kubectl-vol/main.ts"), "--help"],
    expectCode: 0,
  },
];

function time(c: Case): number {
  const t0 = performance.now();
  const r = spawnSync(c.cmd, c.args, {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const ms = performance.now() - t0;
  if (r.status !== c.expectCode) throw new Error(`${c.name} exited ${r.status}, expected ${c.expectCode}`);
  return ms;
}

const results = cases.map((c) => {
  for (let i = 0; i < 3; i++) time(c); // warm the page cache
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push(time(c));
  const row = {
    case: c.name,
    runs: RUNS,
    medianMs: Math.round(median(ms) * 10) / 10,
    p90Ms: Math.round(percentile(ms, 90) * 10) / 10,
    minMs: Math.round(Math.min(...ms) * 10) / 10,
  };
  console.log(`${row.case}: median ${row.medianMs} ms, p90 ${row.p90Ms} ms, min ${row.minMs} ms`);
  return row;
});

const help = results[0]!;
const ok = help.medianMs < TARGET_MS;
const out = path.join(root, "bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, "plugin.json"),
  `${JSON.stringify({ benchmark: "plugin", targetMs: TARGET_MS, withinTarget: ok, results, machine: machine() }, null, 2)}\n`,
);
const m = machine();
writeFileSync(
  path.join(out, "plugin.md"),
  [
    "# plugin start-up",
    "",
    `Wall time of one process start to exit, ${RUNS} runs each after 3 warm-up runs; ${m.cpus} × ${m.cpuModel}, ${m.kernel}, ${m.node}.`,
    `Target: \`dist/kubectl-vol --help\` median under ${TARGET_MS} ms — **${ok ? "met" : "missed"}** (${help.medianMs} ms).`,
    "",
    "| command | median ms | p90 ms | min ms |",
    "| --- | ---: | ---: | ---: |",
    ...results.map((r) => `| \`${r.case}\` | ${r.medianMs} | ${r.p90Ms} | ${r.minMs} |`),
    "",
  ].join("\n"),
);
if (!ok) {
  console.error(`dist/kubectl-vol --help median ${help.medianMs} ms is over the ${TARGET_MS} ms target`);
  process.exit(1);
}

// `npm run sanity`: csi-sanity v5.4.0 against the driver on loop-mounted btrfs, XFS (reflink)
// and ext4, for mount and block access. Prints one line per run and every skipped spec; exits
// 1 if any spec failed. Needs root (loop devices, mounts).
//   node scripts/sanity.ts [btrfs|xfs|ext4 ...] [--block-only|--mount-only] [--focus REGEX]
import { type CommandSpec, parseFlags, usageError } from "../src/kube/flags.ts";
import { type AccessType, runSanity, type SanityResult } from "../src/localcluster/csi-sanity.ts";
import { type FsType, leftoversUnder } from "../src/localcluster/loopfs.ts";

const SANITY = {
  name: "sanity",
  invocation: "npm run sanity --",
  synopsis: "[btrfs|xfs|ext4 ...] [flags]",
  description: "csi-sanity against vol-csi on loop-mounted filesystems (default: all three). Needs root.",
  positionals: true,
  flags: {
    focus: { type: "string", arg: "REGEX", help: "run only the csi-sanity specs matching REGEX" },
    "block-only": { type: "boolean", help: "test block access only" },
    "mount-only": { type: "boolean", help: "test mount access only" },
  },
} as const satisfies CommandSpec;
const FILESYSTEMS: readonly FsType[] = ["btrfs", "xfs", "ext4"];

const parsed = parseFlags(SANITY, process.argv.slice(2));
if (!parsed.ok) process.exit(parsed.exitCode);
const { values, positionals } = parsed;
const unknown = positionals.find((p) => !(FILESYSTEMS as readonly string[]).includes(p));
if (unknown) process.exit(usageError(SANITY, `${unknown} is not one of ${FILESYSTEMS.join(", ")}`));
if (values["block-only"] && values["mount-only"])
  process.exit(usageError(SANITY, "--block-only and --mount-only exclude each other"));
const fss = positionals.length > 0 ? (positionals as FsType[]) : [...FILESYSTEMS];
const types: AccessType[] = values["block-only"]
  ? ["block"]
  : values["mount-only"]
    ? ["mount"]
    : ["mount", "block"];

const results: SanityResult[] = [];
let bad = false;
for (const fs of fss) {
  for (const t of types) {
    const r = await runSanity(fs, t, values.focus ? { focus: values.focus } : {});
    results.push(r);
    const ok = r.failed === 0 && r.exitCode === 0;
    bad ||= !ok;
    console.log(
      `${ok ? "ok  " : "FAIL"} ${fs.padEnd(5)} ${t.padEnd(5)} backend=${r.backend.padEnd(7)} passed=${r.passed} failed=${r.failed} skipped=${r.skipped} pending=${r.pending} exit=${r.exitCode} (${r.seconds} s)`,
    );
    for (const s of r.specs.filter((x) => !["passed", "skipped", "pending"].includes(x.state))) {
      console.log(
        `     failed: ${s.name}\n       ${(s.failure ?? "").split("\n").slice(0, 6).join("\n       ")}`,
      );
    }
    if (!ok && r.specs.length === 0) console.log(r.outputTail, "\n--- driver log ---\n", r.driverLogTail);
  }
}
const skipped = new Set(
  results.flatMap((r) =>
    r.specs.filter((s) => s.state === "skipped" || s.state === "pending").map((s) => `${s.state}: ${s.name}`),
  ),
);
console.log(
  `\nskipped or pending specs (same list on every run):\n${[...skipped]
    .sort()
    .map((s) => `  ${s}`)
    .join("\n")}`,
);
const left = await leftoversUnder("/tmp/vol-sanity-");
if (left.length > 0) {
  console.log(`\nleftovers:\n${left.join("\n")}`);
  bad = true;
}
console.log(
  `\nsanity: ${results.filter((r) => r.failed === 0 && r.exitCode === 0).length}/${results.length} runs with 0 failures`,
);
process.exit(bad ? 1 : 0);

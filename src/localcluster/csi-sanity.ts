// Runs the upstream conformance suite (csi-sanity v5.4.0) against our driver on a loop-mounted
// filesystem, for one access type. Used by `npm run sanity` and by test/conformance. Every mount
// and loop device (the data filesystem, published targets, block volumes' loop devices) is
// registered with the session's clean-up before it can exist.
import { existsSync } from "node:fs";
import { copyFile, readFile } from "node:fs/promises";
import path from "node:path";
import { assets, repoRoot } from "./assets.ts";
import { type FsType, mountLoopFs } from "./loopfs.ts";
import { type Proc, Session, waitUntil } from "./session.ts";

export type AccessType = "mount" | "block";

export interface SpecResult {
  name: string;
  state: string;
  failure?: string;
}

export interface SanityResult {
  fs: FsType;
  accessType: AccessType;
  backend: string;
  exitCode: number | null;
  passed: number;
  failed: number;
  skipped: number;
  pending: number;
  specs: SpecResult[];
  seconds: number;
  /** The end of csi-sanity's output and the driver log, for failure messages. */
  outputTail: string;
  driverLogTail: string;
}

const MiB = 2 ** 20;

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The driver entry, run by the same Node as the caller. */
export const DRIVER_MAIN = path.join(repoRoot, "cmd/vol-csi/main.ts");

/** Clean-up commands for what a driver publishes under `mountDir` and attaches for files under `dataDir`. */
export function registerDriverCleanup(session: Session, dataDir: string, mountDir: string): void {
  // Run in reverse: first unmount published targets, then detach block volumes' loop devices.
  session.onCleanup(
    `losetup -n -l -O NAME,BACK-FILE | while read -r d f; do case "$f" in ${shq(dataDir)}/*) losetup -d "$d";; esac; done`,
  );
  session.onCleanup(
    `grep -o " ${mountDir.replaceAll(" ", "\\\\040")}/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done`,
  );
}

/** Starts vol-csi in `session` and waits for its socket (throws with its log if it exits first). */
export async function spawnDriver(
  session: Session,
  o: {
    dataDir: string;
    socket: string;
    proto: string;
    nodeId?: string;
    name?: string;
    logLevel?: string;
    env?: NodeJS.ProcessEnv;
  },
): Promise<Proc> {
  const driver = session.start(
    o.name ?? "vol-csi",
    process.execPath,
    [
      DRIVER_MAIN,
      `--endpoint=unix://${o.socket}`,
      `--node-id=${o.nodeId ?? "test-node"}`,
      `--data-dir=${o.dataDir}`,
      `--log-level=${o.logLevel ?? "info"}`,
      "--max-volumes=100",
      `--csi-proto=${o.proto}`,
    ],
    o.env ? { env: { ...process.env, ...o.env } } : {},
  );
  // Its own log says when it serves (a socket left by a killed predecessor proves nothing).
  const serving = async () =>
    (await readFile(driver.logFile, "utf8").catch(() => "")).includes('"msg":"serving"');
  await waitUntil(
    "the driver to serve",
    async () => !driver.running || (await serving()),
    60_000,
    () => driver.logTail(),
  );
  if (!driver.running) throw new Error(`the driver exited at start:\n${driver.logTail()}`);
  return driver;
}

interface GinkgoSpec {
  ContainerHierarchyTexts?: string[] | null;
  LeafNodeText?: string;
  LeafNodeType?: string;
  State?: string;
  Failure?: { Message?: string };
}

export async function runSanity(
  fs: FsType,
  accessType: AccessType,
  opts: { focus?: string; sizeBytes?: number } = {},
): Promise<SanityResult> {
  const t0 = Date.now();
  const { "csi-sanity": sanityBin, "csi-proto": proto } = await assets("csi-sanity", "csi-proto");
  const session = await Session.create(`vol-sanity-${fs}-${accessType}`);
  try {
    const loop = await mountLoopFs(session, fs, { sizeBytes: opts.sizeBytes ?? 2048 * MiB });
    const dataDir = path.join(loop.mountpoint, "data");
    const mountDir = session.path("mnt");
    const stagingDir = session.path("staging");
    registerDriverCleanup(session, dataDir, mountDir);
    const sock = session.path("csi.sock");
    const driver = await spawnDriver(session, { dataDir, socket: sock, proto, nodeId: "sanity-node" });
    const report = session.path("report.json");
    const args = [
      `--csi.endpoint=unix://${sock}`,
      `--csi.mountdir=${mountDir}`,
      `--csi.stagingdir=${stagingDir}`,
      `--csi.testvolumeaccesstype=${accessType}`,
      `--csi.testvolumesize=${64 * MiB}`,
      `--ginkgo.json-report=${report}`,
      "--ginkgo.no-color",
      "--ginkgo.timeout=20m",
    ];
    if (opts.focus) args.push(`--ginkgo.focus=${opts.focus}`);
    const sanity = session.start("csi-sanity", sanityBin, args);
    const exitCode = await sanity.exited;
    const specs: SpecResult[] = [];
    try {
      const parsed = JSON.parse(await readFile(report, "utf8")) as { SpecReports?: GinkgoSpec[] }[];
      for (const suite of parsed) {
        for (const s of suite.SpecReports ?? []) {
          if (s.LeafNodeType && s.LeafNodeType !== "It") continue;
          const name = [...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText ?? ""]
            .join(" ")
            .replace(/\s+/g, " ")
            .trim();
          const spec: SpecResult = { name, state: s.State ?? "unknown" };
          if (s.Failure?.Message) spec.failure = s.Failure.Message;
          specs.push(spec);
        }
      }
    } catch {
      // no report: counted from the exit code below
    }
    const count = (st: string) => specs.filter((s) => s.state === st).length;
    const backendLine = (await readFile(driver.logFile, "utf8"))
      .split("\n")
      .find((l) => l.includes('"backend chosen"'));
    const backend = backendLine ? ((JSON.parse(backendLine) as { backend?: string }).backend ?? "?") : "?";
    const result: SanityResult = {
      fs,
      accessType,
      backend,
      exitCode,
      passed: count("passed"),
      failed: specs.filter((s) => !["passed", "skipped", "pending"].includes(s.state)).length,
      skipped: count("skipped"),
      pending: count("pending"),
      specs,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      outputTail: sanity.logTail(60),
      driverLogTail: driver.logTail(40),
    };
    await driver.stop();
    if (process.env.VOL_SANITY_KEEP_LOG) await copyFile(driver.logFile, process.env.VOL_SANITY_KEEP_LOG);
    const stopLog = driver.logTail(5);
    if (existsSync(sock)) throw new Error(`the driver left its socket behind after SIGTERM:\n${stopLog}`);
    return result;
  } finally {
    await session.stop();
  }
}

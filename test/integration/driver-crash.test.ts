// Crash safety of the driver: many create/snapshot/clone/delete calls in flight, the driver
// SIGKILLed at random points, restarted; after every restart the store matches the disk, no
// half-made thing is visible, the interrupted calls succeed when retried, and the checksums of
// every volume and snapshot that was acknowledged are unchanged.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { exec } from "../../src/driver/exec.ts";
import { assets } from "../../src/localcluster/assets.ts";
import {
  BLOCK_CAP,
  CsiCallError,
  type CsiClient,
  connectCsi,
  MOUNT_CAP,
  type Msg,
} from "../../src/localcluster/csi-client.ts";
import { registerDriverCleanup, spawnDriver } from "../../src/localcluster/csi-sanity.ts";
import { type FsType, leftoversUnder, mountLoopFs } from "../../src/localcluster/loopfs.ts";
import type { Proc, Session as SessionT } from "../../src/localcluster/session.ts";
import { Session, waitUntil } from "../../src/localcluster/session.ts";

const MiB = 2 ** 20;

/** A checksum of a directory tree: relative paths, types and contents. */
async function treeSum(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        h.update(`d ${r}\n`);
        await walk(r);
      } else {
        h.update(`f ${r}\n`);
        h.update(await readFile(path.join(dir, r)));
      }
    }
  };
  await walk("");
  return h.digest("hex");
}

interface Known {
  kind: "volume" | "snapshot";
  id: string;
  name: string;
  sum: string;
  /** Source volumes are never deleted (they feed snapshots and clones). */
  source?: boolean;
  /** A block volume (or a snapshot of one): its data is the file disk.img. */
  block?: boolean;
}

type Op =
  | { op: "snapshot"; name: string; from: Known }
  | { op: "restore"; name: string; from: Known }
  | { op: "clone"; name: string; from: Known }
  | { op: "delete"; target: Known };

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

async function retryAborted(fn: () => Promise<Msg>): Promise<Msg> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof CsiCallError && err.code === status.ABORTED) || i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Waits until no record is in flight and no .tmp/.trash entry is left (background removals ended). */
async function backgroundDone(dataDir: string): Promise<void> {
  const busy = async (): Promise<string[]> => {
    const found: string[] = [];
    for (const kind of ["volumes", "snapshots"]) {
      for (const n of await readdir(path.join(dataDir, kind)))
        if (n.startsWith(".")) found.push(`${kind}/${n}`);
      for (const f of await readdir(path.join(dataDir, "meta", kind))) {
        const r = JSON.parse(await readFile(path.join(dataDir, "meta", kind, f), "utf8")) as {
          state: string;
        };
        if (r.state !== "ready") found.push(`meta/${kind}/${f} (${r.state})`);
      }
    }
    return found;
  };
  let last: string[] = [];
  await waitUntil(
    "background removals to end",
    async () => {
      last = await busy();
      return last.length === 0;
    },
    60_000,
    () => last.join(", "),
  );
}

let session: SessionT | undefined;
afterEach(async () => {
  await session?.stop();
  session = undefined;
});

describe("driver start-up", () => {
  it("serves when a leftover cannot be removed, logs it, and removes it once it can", {
    timeout: 120_000,
  }, async () => {
    const { "csi-proto": proto } = await assets("csi-proto");
    const s = await Session.create("vol-startup");
    session = s;
    const loop = await mountLoopFs(s, "ext4", { sizeBytes: 256 * MiB });
    const dataDir = path.join(loop.mountpoint, "data");
    registerDriverCleanup(s, dataDir, s.path("mnt"));
    const sock = s.path("csi.sock");
    let driver = await spawnDriver(s, { dataDir, socket: sock, proto, name: "vol-csi-0" });
    let client = connectCsi(sock, proto);
    const made = await client.call("Controller", "CreateVolume", {
      name: "kept",
      volume_capabilities: [MOUNT_CAP],
      capacity_range: { required_bytes: String(MiB) },
    });
    client.close();
    await driver.stop();
    // What a killed delete leaves, made unremovable even for root (an immutable file in it).
    const stuck = path.join(dataDir, "volumes", ".trash.vol-0123456789abcdef0123456789abcdef.0badf00d");
    await mkdir(stuck);
    await writeFile(path.join(stuck, "pinned"), "x");
    await exec("chattr", ["+i", path.join(stuck, "pinned")]);
    try {
      driver = await spawnDriver(s, { dataDir, socket: sock, proto, name: "vol-csi-1" });
      client = connectCsi(sock, proto);
      const got = await client.call("Controller", "ControllerGetVolume", {
        volume_id: made.volume.volume_id,
      });
      expect(got.volume.volume_id).toBe(made.volume.volume_id);
      await waitUntil(
        "the failed removal to be logged",
        async () => (await readFile(driver.logFile, "utf8")).includes("could not remove a leftover"),
        30_000,
      );
      expect(existsSync(stuck)).toBe(true);
      client.close();
      await driver.stop();
    } finally {
      await exec("chattr", ["-i", path.join(stuck, "pinned")]);
    }
    // The next start removes it.
    driver = await spawnDriver(s, { dataDir, socket: sock, proto, name: "vol-csi-2" });
    await waitUntil("the leftover to be removed", async () => !existsSync(stuck), 30_000);
    await driver.stop();
    await s.stop();
    session = undefined;
    expect(await leftoversUnder(s.dir)).toEqual([]);
  });
});

describe("driver crash safety", () => {
  for (const fs of ["ext4", "btrfs"] as FsType[]) {
    it(`SIGKILL at random points on ${fs} leaves no trace or a complete result`, {
      timeout: 300_000,
    }, async () => {
      const { "csi-proto": proto } = await assets("csi-proto");
      const s = await Session.create(`vol-crash-${fs}`);
      session = s;
      const loop = await mountLoopFs(s, fs, { sizeBytes: 3 * 1024 * MiB });
      const dataDir = path.join(loop.mountpoint, "data");
      registerDriverCleanup(s, dataDir, s.path("mnt"));
      const sock = s.path("csi.sock");
      let n = 0;
      let driver: Proc;
      let client: CsiClient;
      const start = async () => {
        driver = await spawnDriver(s, { dataDir, socket: sock, proto, name: `vol-csi-${n++}` });
        client = connectCsi(sock, proto);
      };
      const known = new Map<string, Known>();
      const dirOf = (k: { kind: string; id: string }) =>
        path.join(dataDir, k.kind === "volume" ? "volumes" : "snapshots", k.id);

      const run = async (o: Op): Promise<void> => {
        if (o.op === "delete") {
          const m = o.target.kind === "volume" ? "DeleteVolume" : "DeleteSnapshot";
          const req = o.target.kind === "volume" ? { volume_id: o.target.id } : { snapshot_id: o.target.id };
          await retryAborted(() => client.call("Controller", m, req));
          known.delete(o.target.id);
          expect(existsSync(dirOf(o.target))).toBe(false);
          return;
        }
        let res: Msg;
        if (o.op === "snapshot") {
          res = await retryAborted(() =>
            client.call("Controller", "CreateSnapshot", { name: o.name, source_volume_id: o.from.id }),
          );
        } else {
          const content =
            o.op === "restore"
              ? { snapshot: { snapshot_id: o.from.id } }
              : { volume: { volume_id: o.from.id } };
          res = await retryAborted(() =>
            client.call("Controller", "CreateVolume", {
              name: o.name,
              volume_capabilities: [o.from.block ? BLOCK_CAP : MOUNT_CAP],
              capacity_range: { required_bytes: String(o.from.block ? 8 * MiB : 64 * MiB) },
              volume_content_source: content,
            }),
          );
        }
        const k: Known =
          o.op === "snapshot"
            ? {
                kind: "snapshot",
                id: res.snapshot.snapshot_id,
                name: o.name,
                sum: o.from.sum,
                block: o.from.block,
              }
            : {
                kind: "volume",
                id: res.volume.volume_id,
                name: o.name,
                sum: o.from.sum,
                block: o.from.block,
              };
        // A copy holds exactly its source's data.
        expect(await treeSum(dirOf(k)), `${o.op} ${o.name} from ${o.from.name}`).toBe(o.from.sum);
        known.set(k.id, k);
      };

      /**
       * The store matches the disk; nothing half-made is visible; acknowledged data is unchanged.
       * Deletes (answered, and those a restart finishes) remove their data in the background:
       * first wait for that to end.
       */
      const verify = async (pending: Op[]): Promise<void> => {
        await backgroundDone(dataDir);
        for (const kind of ["volumes", "snapshots"] as const) {
          const metaDir = path.join(dataDir, "meta", kind);
          const metaFiles = await readdir(metaDir);
          expect(
            metaFiles.filter((f) => !f.endsWith(".json")),
            `stray files in ${metaDir}`,
          ).toEqual([]);
          const records = await Promise.all(
            metaFiles.map(
              async (f) =>
                JSON.parse(await readFile(path.join(metaDir, f), "utf8")) as { id: string; state: string },
            ),
          );
          expect(
            records.filter((r) => r.state !== "ready"),
            "records of unfinished operations",
          ).toEqual([]);
          const onDisk = (await readdir(path.join(dataDir, kind))).sort();
          expect(onDisk, `${kind}: data on disk vs records`).toEqual(records.map((r) => r.id).sort());
          for (const r of records) {
            const k = known.get(r.id);
            // A record nobody was told about can only be the complete result of an interrupted call.
            if (!k)
              expect(
                pending.some((p) => p.op !== "delete"),
                `unexpected ${kind} ${r.id}`,
              ).toBe(true);
          }
        }
        expect(existsSync(path.join(dataDir, "orphans")), "data set aside as orphans").toBe(false);
        // A delete cut short is either undone or finished on start; everything else must be intact.
        const beingDeleted = new Set(pending.flatMap((p) => (p.op === "delete" ? [p.target.id] : [])));
        for (const k of known.values()) {
          if (beingDeleted.has(k.id)) continue;
          expect(existsSync(dirOf(k)), `${k.kind} ${k.name} is gone`).toBe(true);
          expect(await treeSum(dirOf(k)), `${k.kind} ${k.name} changed`).toBe(k.sum);
        }
      };

      await start();
      // Source volumes with data a pod would have written: a few MiB files and many small ones.
      for (let i = 0; i < 3; i++) {
        const res = await client!.call("Controller", "CreateVolume", {
          name: `source-${i}`,
          volume_capabilities: [MOUNT_CAP],
          capacity_range: { required_bytes: String(64 * MiB) },
        });
        const id = res.volume.volume_id as string;
        const dir = path.join(dataDir, "volumes", id);
        for (let f = 0; f < 2; f++) await writeFile(path.join(dir, `big-${f}.bin`), randomBytes(4 * MiB));
        await mkdir(path.join(dir, "small"));
        for (let f = 0; f < 40; f++) await writeFile(path.join(dir, "small", `f${f}`), randomBytes(1000 + f));
        known.set(id, { kind: "volume", id, name: `source-${i}`, sum: await treeSum(dir), source: true });
      }
      // And a block volume, its device content written into its sparse file.
      {
        const res = await client!.call("Controller", "CreateVolume", {
          name: "source-block",
          volume_capabilities: [BLOCK_CAP],
          capacity_range: { required_bytes: String(8 * MiB) },
        });
        const id = res.volume.volume_id as string;
        const dir = path.join(dataDir, "volumes", id);
        const fh = await open(path.join(dir, "disk.img"), "r+");
        await fh.write(randomBytes(3 * MiB), 0, 3 * MiB, 2 * MiB);
        await fh.close();
        known.set(id, {
          kind: "volume",
          id,
          name: "source-block",
          sum: await treeSum(dir),
          source: true,
          block: true,
        });
      }

      let pending: Op[] = [];
      let kills = 0;
      let interrupted = 0;
      for (let round = 0; round < 12; round++) {
        // Retry what the last kill interrupted: creates first (their sources still exist), then deletes.
        const retry = [
          ...pending.filter((p) => p.op !== "delete"),
          ...pending.filter((p) => p.op === "delete"),
        ];
        for (const o of retry) await run(o);
        pending = [];
        await verify([]);

        const batch: Op[] = [];
        const used = new Set<string>();
        const doomed = (k: Known) => batch.some((b) => b.op === "delete" && b.target.id === k.id);
        for (let i = 0; i < 6; i++) {
          // Sources of this batch are never deleted in it.
          const snaps = [...known.values()].filter((k) => k.kind === "snapshot" && !doomed(k));
          const vols = [...known.values()].filter((k) => k.kind === "volume" && !doomed(k));
          const r = Math.random();
          if (r < 0.3 || snaps.length === 0) {
            const from = pick(vols);
            used.add(from.id);
            batch.push({ op: "snapshot", name: `snap-${round}-${i}`, from });
          } else if (r < 0.55) {
            const from = pick(snaps);
            used.add(from.id);
            batch.push({ op: "restore", name: `restore-${round}-${i}`, from });
          } else if (r < 0.75) {
            const from = pick(vols);
            used.add(from.id);
            batch.push({ op: "clone", name: `clone-${round}-${i}`, from });
          } else {
            const victims = [...known.values()].filter(
              (k) =>
                !k.source && !used.has(k.id) && !batch.some((b) => b.op === "delete" && b.target.id === k.id),
            );
            if (victims.length > 0) batch.push({ op: "delete", target: pick(victims) });
          }
        }
        const inFlight = new Set(batch);
        const settled = batch.map((o) =>
          run(o).then(
            () => inFlight.delete(o),
            (err: unknown) => {
              if (!(err instanceof CsiCallError && err.code === status.UNAVAILABLE)) throw err;
            },
          ),
        );
        // Kill at a random point, more often early (while copies run) than late.
        await new Promise((r) => setTimeout(r, Math.random() ** 2 * 300));
        process.kill(-(driver!.child.pid as number), "SIGKILL");
        kills++;
        await driver!.exited;
        await Promise.all(settled);
        client!.close();
        pending = [...inFlight];
        interrupted += pending.length;
        await start();
        await verify(pending);
      }
      for (const o of pending) await run(o);
      await verify([]);
      expect(kills).toBe(12);
      // What start-up reconciliation found and repaired across the restarts.
      let repaired = 0;
      for (let i = 0; i < n; i++) {
        const log = await readFile(s.path(`vol-csi-${i}.log`), "utf8");
        repaired += log
          .split("\n")
          .filter((l) => /interrupted (create|delete)|leftover of an interrupted/.test(l)).length;
      }
      expect(repaired, "reconciliation had something to repair").toBeGreaterThan(0);
      console.log(
        `${fs}: ${kills} kills, ${interrupted} calls cut short, ${repaired} repairs by reconciliation`,
      );
      // Some calls were really cut short (with 6 calls per round and copies taking time).
      expect(interrupted).toBeGreaterThan(0);
      // A clean stop still works and removes the socket.
      client!.close();
      await driver!.stop();
      expect(driver!.exitCode).toBe(0);
      expect(existsSync(sock)).toBe(false);
      await s.stop();
      session = undefined;
      expect(await leftoversUnder(s.dir)).toEqual([]);
    });
  }
});

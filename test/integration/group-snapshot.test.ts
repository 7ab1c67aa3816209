// Group snapshots straight through the driver's socket, on real loop-mounted filesystems: the
// point-in-time property (a writer puts n into volume A, then n into volume B, fsyncing each;
// in every group snapshot A's number minus B's is 0 or 1), idempotency by name, the refusals,
// members restorable and deletable only with their group, and crash safety (the driver SIGKILLed
// at each step of a create and of a delete: after the restart the group is whole or gone, and
// the writer it held runs again).
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets } from "../../src/localcluster/assets.ts";
import { type CsiClient, connectCsi, MOUNT_CAP, type Msg } from "../../src/localcluster/csi-client.ts";
import { registerDriverCleanup, spawnDriver } from "../../src/localcluster/csi-sanity.ts";
import { type FsType, mountLoopFs } from "../../src/localcluster/loopfs.ts";
import { type Proc, Session, waitUntil } from "../../src/localcluster/session.ts";
import { seqOf, startWriter } from "../../src/localcluster/writer.ts";

const MiB = 2 ** 20;

async function procState(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return text.slice(text.lastIndexOf(")") + 2).split(" ")[0] ?? "";
}

interface Rig {
  s: Session;
  dataDir: string;
  sock: string;
  proto: string;
  driver: Proc;
  client: CsiClient;
  n: number;
  /** Restarts the driver (after a crash or a stop), with `env` for the new one. */
  restart(env?: NodeJS.ProcessEnv): Promise<void>;
  volume(name: string): Promise<string>;
  /** Publishes `ids` and starts the writer on them (A then B); returns its pid. */
  writer(a: string, b: string): Promise<Proc>;
}

async function rig(fs: FsType): Promise<Rig> {
  const { "csi-proto": proto } = await assets("csi-proto");
  const s = await Session.create(`vol-group-${fs}`);
  const loop = await mountLoopFs(s, fs, { sizeBytes: 1024 * MiB });
  const dataDir = path.join(loop.mountpoint, "data");
  registerDriverCleanup(s, dataDir, s.path("mnt"));
  const sock = s.path("csi.sock");
  const r: Rig = {
    s,
    dataDir,
    sock,
    proto,
    n: 0,
    driver: undefined as unknown as Proc,
    client: undefined as unknown as CsiClient,
    async restart(env) {
      r.client?.close();
      if (r.driver?.running) await r.driver.stop();
      r.driver = await spawnDriver(s, { dataDir, socket: sock, proto, name: `vol-csi-${r.n++}`, env });
      r.client = connectCsi(sock, proto);
    },
    async volume(name) {
      const v = await r.client.call("Controller", "CreateVolume", {
        name,
        volume_capabilities: [MOUNT_CAP],
        capacity_range: { required_bytes: String(16 * MiB) },
      });
      return v.volume.volume_id as string;
    },
    async writer(a, b) {
      const targets = [s.path("mnt", `${a}-w`), s.path("mnt", `${b}-w`)];
      for (const [i, id] of [a, b].entries())
        await r.client.call("Node", "NodePublishVolume", {
          volume_id: id,
          target_path: targets[i],
          volume_capability: MOUNT_CAP,
        });
      const w = startWriter(s, `writer-${a.slice(4, 10)}`, targets);
      await waitUntil(
        "the writer to write",
        async () => (await seqOf(path.join(dataDir, "volumes", b)).catch(() => 0)) > 10,
        30_000,
      );
      return w;
    },
  };
  await r.restart();
  return r;
}

const groupOf = (c: CsiClient, name: string, ids: string[]): Promise<Msg> =>
  c.call("GroupController", "CreateVolumeGroupSnapshot", { name, source_volume_ids: ids });

/** The pid that runs the writer script (unshare execs node, so it is the Proc's own pid). */
const pidOf = (w: Proc): number => w.child.pid as number;

for (const [fs, backend] of [
  ["btrfs", "btrfs"],
  ["xfs", "reflink"],
] as const) {
  describe(`group snapshots on ${fs} (${backend})`, () => {
    let r: Rig;
    let writer: Proc;
    let a: string;
    let b: string;
    beforeAll(async () => {
      r = await rig(fs);
      a = await r.volume("a");
      b = await r.volume("b");
      writer = await r.writer(a, b);
    }, 120_000);
    afterAll(async () => {
      await writer?.stop();
      r?.client.close();
      await r?.s.stop();
    }, 60_000);

    it("holds the writer so that every group is one instant (A − B is 0 or 1), and logs the freeze window", {
      timeout: 300_000,
    }, async () => {
      const diffs: number[] = [];
      let last = 0;
      for (let i = 0; i < 20; i++) {
        const g = (await groupOf(r.client, `pit-${i}`, [a, b])).group_snapshot;
        const [sa, sb] = g.snapshots as Msg[];
        expect(sa?.source_volume_id).toBe(a);
        expect(sb?.source_volume_id).toBe(b);
        const na = await seqOf(path.join(r.dataDir, "snapshots", sa?.snapshot_id));
        const nb = await seqOf(path.join(r.dataDir, "snapshots", sb?.snapshot_id));
        diffs.push(na - nb);
        // The writer goes on after each group (it was continued).
        expect(na).toBeGreaterThan(last);
        last = na;
        await r.client.call("GroupController", "DeleteVolumeGroupSnapshot", {
          group_snapshot_id: g.group_snapshot_id,
        });
      }
      expect(
        diffs.filter((d) => d !== 0 && d !== 1),
        `A − B per trial: ${diffs.join(" ")}`,
      ).toEqual([]);
      expect(await procState(pidOf(writer))).not.toBe("T");
      const log = await readFile(r.driver.logFile, "utf8");
      // Held writers change nothing: a reflink member is cut in one pass, never copied again
      // because the writes just before the hold fell in the timestamp check's slack.
      expect(log).not.toMatch(/the source changed during a reflink pass/);
      const lines = log
        .split("\n")
        .filter((l) => l.includes("group snapshot cut at one instant"))
        .map((l) => JSON.parse(l) as { freezeWindowMs: number; processesHeld: number[] });
      expect(lines.length).toBeGreaterThanOrEqual(20);
      for (const l of lines) {
        expect(l.freezeWindowMs).toBeGreaterThanOrEqual(0);
        expect(l.processesHeld).toContain(pidOf(writer));
      }
    });

    it("is idempotent by name, refuses other volumes under the same name, a stranger volume and a member's lone delete", {
      timeout: 120_000,
    }, async () => {
      const g1 = (await groupOf(r.client, "same", [a, b])).group_snapshot;
      const g2 = (await groupOf(r.client, "same", [b, a])).group_snapshot;
      expect(g2.group_snapshot_id).toBe(g1.group_snapshot_id);
      expect((g2.snapshots as Msg[]).map((x) => x.snapshot_id).sort()).toEqual(
        (g1.snapshots as Msg[]).map((x) => x.snapshot_id).sort(),
      );
      expect(
        await r.client.code("GroupController", "CreateVolumeGroupSnapshot", {
          name: "same",
          source_volume_ids: [a],
        }),
      ).toBe(status.ALREADY_EXISTS);
      const stranger = "vol-0123456789abcdef0123456789abcdef";
      await expect(groupOf(r.client, "cross-node", [a, stranger])).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        details: expect.stringContaining(`volume ${stranger} is not on node test-node`),
      });
      const member = (g1.snapshots as Msg[])[0] as Msg;
      expect(member.group_snapshot_id).toBe(g1.group_snapshot_id);
      const listed = await r.client.call("Controller", "ListSnapshots", { snapshot_id: member.snapshot_id });
      expect(listed.entries[0].snapshot.group_snapshot_id).toBe(g1.group_snapshot_id);
      await expect(
        r.client.call("Controller", "DeleteSnapshot", { snapshot_id: member.snapshot_id }),
      ).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        details: expect.stringContaining(g1.group_snapshot_id),
      });
      // A member restores like any snapshot.
      const restored = await r.client.call("Controller", "CreateVolume", {
        name: "restored-a",
        volume_capabilities: [MOUNT_CAP],
        capacity_range: { required_bytes: String(16 * MiB) },
        volume_content_source: { snapshot: { snapshot_id: member.snapshot_id } },
      });
      expect(await seqOf(path.join(r.dataDir, "volumes", restored.volume.volume_id))).toBe(
        await seqOf(path.join(r.dataDir, "snapshots", member.snapshot_id)),
      );
      const got = await r.client.call("GroupController", "GetVolumeGroupSnapshot", {
        group_snapshot_id: g1.group_snapshot_id,
      });
      expect(got.group_snapshot.ready_to_use).toBe(true);
      expect(
        await r.client.code("GroupController", "GetVolumeGroupSnapshot", {
          group_snapshot_id: g1.group_snapshot_id,
          snapshot_ids: [member.snapshot_id],
        }),
      ).toBe(status.INVALID_ARGUMENT);
      await r.client.call("GroupController", "DeleteVolumeGroupSnapshot", {
        group_snapshot_id: g1.group_snapshot_id,
        snapshot_ids: (g1.snapshots as Msg[]).map((x) => x.snapshot_id),
      });
      expect(
        await r.client.code("GroupController", "GetVolumeGroupSnapshot", {
          group_snapshot_id: g1.group_snapshot_id,
        }),
      ).toBe(status.NOT_FOUND);
      const left = await r.client.call("Controller", "ListSnapshots", {});
      expect(left.entries.map((e: Msg) => e.snapshot.snapshot_id)).not.toContain(member.snapshot_id);
      await r.client.call("Controller", "DeleteVolume", { volume_id: restored.volume.volume_id });
    });

    if (fs === "btrfs") {
      for (const step of [
        "group-recorded",
        "group-writes-held",
        "group-members-cut",
        "group-members-ready",
      ]) {
        it(`a SIGKILL at ${step} leaves no group, no member, and the writer running`, {
          timeout: 120_000,
        }, async () => {
          await r.restart({ VOL_CSI_CRASH_AT: step });
          await expect(groupOf(r.client, `crash-${step}`, [a, b])).rejects.toBeDefined();
          await r.driver.exited;
          if (step === "group-writes-held" || step === "group-members-cut") {
            // Killed while holding: the writer stays stopped until the driver starts again.
            expect(await procState(pidOf(writer))).toBe("T");
          }
          await r.restart();
          await waitUntil("the writer to run", async () => (await procState(pidOf(writer))) !== "T", 10_000);
          const before = await seqOf(path.join(r.dataDir, "volumes", a));
          await waitUntil(
            "the writer to write",
            async () => (await seqOf(path.join(r.dataDir, "volumes", a))) > before,
            10_000,
          );
          const snaps = await r.client.call("Controller", "ListSnapshots", {});
          expect(snaps.entries).toEqual([]);
          await waitUntil(
            "no half-made data",
            async () => (await readdir(path.join(r.dataDir, "snapshots"))).length === 0,
            30_000,
          );
          expect(await readdir(path.join(r.dataDir, "meta", "groups"))).toEqual([]);
          // The retry makes the whole group.
          const g = (await groupOf(r.client, `crash-${step}`, [a, b])).group_snapshot;
          expect(g.snapshots).toHaveLength(2);
          await r.client.call("GroupController", "DeleteVolumeGroupSnapshot", {
            group_snapshot_id: g.group_snapshot_id,
          });
        });
      }

      it("a SIGKILL during a group delete is finished at the next start", { timeout: 120_000 }, async () => {
        await r.restart({ VOL_CSI_CRASH_AT: "group-deleting" });
        const g = (await groupOf(r.client, "crash-delete", [a, b])).group_snapshot;
        await expect(
          r.client.call("GroupController", "DeleteVolumeGroupSnapshot", {
            group_snapshot_id: g.group_snapshot_id,
          }),
        ).rejects.toBeDefined();
        await r.driver.exited;
        await r.restart();
        expect(
          await r.client.code("GroupController", "GetVolumeGroupSnapshot", {
            group_snapshot_id: g.group_snapshot_id,
          }),
        ).toBe(status.NOT_FOUND);
        expect((await r.client.call("Controller", "ListSnapshots", {})).entries).toEqual([]);
        await waitUntil(
          "the members' data to go",
          async () => (await readdir(path.join(r.dataDir, "snapshots"))).length === 0,
          30_000,
        );
      });
    }
  });
}

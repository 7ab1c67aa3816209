// The driver through its socket, as the sidecars and the kubelet call it, on a real loop-mounted
// ext4 (copy backend: copies take real time, so concurrency is visible): hostile names, deleting
// a volume that has snapshots, per-volume locking without a global lock, publish/unpublish of
// mount and block volumes, expansion on the node (NodeExpandVolume), and a clean SIGTERM with a
// call in flight.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets } from "../../src/localcluster/assets.ts";
import {
  BLOCK_CAP,
  type CsiClient,
  connectCsi,
  MOUNT_CAP,
  type Msg,
} from "../../src/localcluster/csi-client.ts";
import { registerDriverCleanup, spawnDriver } from "../../src/localcluster/csi-sanity.ts";
import { leftoversUnder, mountLoopFs } from "../../src/localcluster/loopfs.ts";
import type { Proc } from "../../src/localcluster/session.ts";
import { Session } from "../../src/localcluster/session.ts";

const MiB = 2 ** 20;
const run = promisify(execFile);
let s: Session;
let driver: Proc;
let client: CsiClient;
let dataDir: string;
let proto: string;
let sock: string;

async function fileSum(p: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(p))
    .digest("hex");
}

const create = (name: string, extra: Msg = {}): Promise<Msg> =>
  client.call("Controller", "CreateVolume", {
    name,
    volume_capabilities: [MOUNT_CAP],
    capacity_range: { required_bytes: String(256 * MiB) },
    ...extra,
  });

beforeAll(async () => {
  ({ "csi-proto": proto } = await assets("csi-proto"));
  s = await Session.create("vol-rpc");
  const loop = await mountLoopFs(s, "ext4", { sizeBytes: 2048 * MiB });
  dataDir = path.join(loop.mountpoint, "data");
  registerDriverCleanup(s, dataDir, s.path("mnt"));
  await mkdir(s.path("mnt"));
  sock = s.path("csi.sock");
  driver = await spawnDriver(s, { dataDir, socket: sock, proto, logLevel: "debug" });
  client = connectCsi(sock, proto);
}, 240_000);

afterAll(async () => {
  client?.close();
  const dir = s?.dir;
  await s?.stop();
  if (dir) expect(await leftoversUnder(dir)).toEqual([]);
});

describe("vol-csi over its socket", () => {
  it("rejects hostile names and ids with INVALID_ARGUMENT and creates nothing", async () => {
    for (const name of ["../../etc/evil", "/etc/evil", "a\0b", "x".repeat(300), "a/b"]) {
      expect(
        await client.code("Controller", "CreateVolume", { name, volume_capabilities: [MOUNT_CAP] }),
        name,
      ).toBe(status.INVALID_ARGUMENT);
      expect(
        await client.code("Controller", "CreateSnapshot", { name, source_volume_id: "vol-x" }),
        name,
      ).toBe(status.INVALID_ARGUMENT);
    }
    for (const id of ["../../etc", "/etc", "a\0", "y".repeat(300)]) {
      expect(await client.code("Controller", "DeleteVolume", { volume_id: id }), id).toBe(
        status.INVALID_ARGUMENT,
      );
      expect(await client.code("Controller", "DeleteSnapshot", { snapshot_id: id }), id).toBe(
        status.INVALID_ARGUMENT,
      );
      expect(
        await client.code("Node", "NodePublishVolume", {
          volume_id: id,
          target_path: s.path("mnt", "t"),
          volume_capability: MOUNT_CAP,
        }),
      ).toBe(status.INVALID_ARGUMENT);
    }
    expect(
      await client.code("Node", "NodePublishVolume", {
        volume_id: "vol-0",
        target_path: "relative/target",
        volume_capability: MOUNT_CAP,
      }),
    ).toBe(status.INVALID_ARGUMENT);
    expect(await readdir(path.join(dataDir, "volumes"))).toEqual([]);
    expect(existsSync("/etc/evil")).toBe(false);
  });

  it("keeps a snapshot usable after its source volume is deleted", async () => {
    const v = (await create("with-snapshots")).volume;
    const file = path.join(dataDir, "volumes", v.volume_id, "data.bin");
    await writeFile(file, randomBytes(3 * MiB));
    const sum = await fileSum(file);
    const snap = (
      await client.call("Controller", "CreateSnapshot", { name: "keep-me", source_volume_id: v.volume_id })
    ).snapshot;
    await client.call("Controller", "DeleteVolume", { volume_id: v.volume_id });
    const listed = await client.call("Controller", "ListSnapshots", { snapshot_id: snap.snapshot_id });
    expect(listed.entries).toHaveLength(1);
    const restored = (
      await create("restored", { volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })
    ).volume;
    expect(await fileSum(path.join(dataDir, "volumes", restored.volume_id, "data.bin"))).toBe(sum);
    await client.call("Controller", "DeleteSnapshot", { snapshot_id: snap.snapshot_id });
    await client.call("Controller", "DeleteVolume", { volume_id: restored.volume_id });
  });

  it("serialises calls on one volume (ABORTED) while other volumes proceed", async () => {
    const src = (await create("big-source")).volume;
    for (let i = 0; i < 4; i++) {
      await writeFile(path.join(dataDir, "volumes", src.volume_id, `f${i}`), randomBytes(40 * MiB));
    }
    const order: string[] = [];
    const clone = create("big-clone", {
      volume_content_source: { volume: { volume_id: src.volume_id } },
    }).then((r) => {
      order.push("clone");
      return r;
    });
    // Wait until the clone holds its locks (its record is written first).
    const cloneMeta = async () => (await readdir(path.join(dataDir, "meta", "volumes"))).length >= 2;
    for (let i = 0; i < 200 && !(await cloneMeta()); i++) await new Promise((r) => setTimeout(r, 10));
    const [sameName, deleteSource, other] = await Promise.all([
      client.code("Controller", "CreateVolume", {
        name: "big-clone",
        volume_capabilities: [MOUNT_CAP],
        capacity_range: { required_bytes: String(256 * MiB) },
        volume_content_source: { volume: { volume_id: src.volume_id } },
      }),
      client.code("Controller", "DeleteVolume", { volume_id: src.volume_id }),
      create("unrelated").then(() => {
        order.push("unrelated");
        return status.OK;
      }),
    ]);
    expect(sameName).toBe(status.ABORTED);
    expect(deleteSource).toBe(status.ABORTED);
    expect(other).toBe(status.OK);
    const c = await clone;
    // The unrelated volume did not wait for the copy: no global lock.
    expect(order).toEqual(["unrelated", "clone"]);
    // Retrying the same request now converges on the same volume.
    expect(
      (await create("big-clone", { volume_content_source: { volume: { volume_id: src.volume_id } } })).volume
        .volume_id,
    ).toBe(c.volume.volume_id);
    // Same name, other parameters: ALREADY_EXISTS.
    expect(
      await client.code("Controller", "CreateVolume", {
        name: "big-clone",
        volume_capabilities: [MOUNT_CAP],
        capacity_range: { required_bytes: String(512 * MiB), limit_bytes: String(512 * MiB) },
      }),
    ).toBe(status.ALREADY_EXISTS);
  });

  it("publishes read-only bind mounts, refuses to delete a published volume, cleans up on unpublish", async () => {
    const v = (await create("published")).volume;
    await writeFile(path.join(dataDir, "volumes", v.volume_id, "hello"), "world");
    const target = s.path("mnt", "pod-a");
    const pub = { volume_id: v.volume_id, target_path: target, volume_capability: MOUNT_CAP, readonly: true };
    await client.call("Node", "NodePublishVolume", pub);
    await client.call("Node", "NodePublishVolume", pub); // idempotent
    expect(await readFile(path.join(target, "hello"), "utf8")).toBe("world");
    await expect(writeFile(path.join(target, "new"), "x")).rejects.toMatchObject({ code: "EROFS" });
    expect(await client.code("Node", "NodePublishVolume", { ...pub, readonly: false })).toBe(
      status.ALREADY_EXISTS,
    );
    expect(await client.code("Controller", "DeleteVolume", { volume_id: v.volume_id })).toBe(
      status.FAILED_PRECONDITION,
    );
    const stats = await client.call("Node", "NodeGetVolumeStats", {
      volume_id: v.volume_id,
      volume_path: target,
    });
    expect(stats.usage.find((u: Msg) => u.unit === "BYTES").total).toBe(String(256 * MiB));
    expect(stats.volume_condition.abnormal).toBe(false);
    // NodeExpandVolume records the new size (ext4 enforces none) and the stats report it.
    await client.call("Node", "NodeExpandVolume", {
      volume_id: v.volume_id,
      volume_path: target,
      capacity_range: { required_bytes: String(300 * MiB) },
    });
    const after = await client.call("Node", "NodeGetVolumeStats", {
      volume_id: v.volume_id,
      volume_path: target,
    });
    expect(after.usage.find((u: Msg) => u.unit === "BYTES").total).toBe(String(300 * MiB));
    await client.call("Node", "NodeUnpublishVolume", { volume_id: v.volume_id, target_path: target });
    await client.call("Node", "NodeUnpublishVolume", { volume_id: v.volume_id, target_path: target });
    // Unpublished, there is no volume_path to grow: the kubelet expands at the next publish.
    expect(
      await client.code("Node", "NodeExpandVolume", {
        volume_id: v.volume_id,
        volume_path: target,
        capacity_range: { required_bytes: String(400 * MiB) },
      }),
    ).toBe(status.NOT_FOUND);
    expect(existsSync(target)).toBe(false);
    await client.call("Controller", "DeleteVolume", { volume_id: v.volume_id });
  });

  it("publishes a block volume through a loop device and detaches it on unpublish", async () => {
    const v = (
      await client.call("Controller", "CreateVolume", {
        name: "block",
        volume_capabilities: [BLOCK_CAP],
        capacity_range: { required_bytes: String(32 * MiB) },
      })
    ).volume;
    const target = s.path("mnt", "dev-a");
    await client.call("Node", "NodePublishVolume", {
      volume_id: v.volume_id,
      target_path: target,
      volume_capability: BLOCK_CAP,
    });
    const st = await stat(target);
    expect(st.isBlockDevice()).toBe(true);
    expect(
      (await leftoversUnder(path.join(dataDir, "volumes", v.volume_id))).some((l) => l.startsWith("loop:")),
    ).toBe(true);
    // Expansion is a node call (the controller does not advertise EXPAND_VOLUME): it grows the
    // block file and refreshes the published loop device, which the pod sees at once.
    expect(
      await client.code("Controller", "ControllerExpandVolume", {
        volume_id: v.volume_id,
        capacity_range: { required_bytes: String(48 * MiB) },
      }),
    ).toBe(status.UNIMPLEMENTED);
    const devSize = async () => Number((await run("blockdev", ["--getsize64", target])).stdout.trim());
    expect(await devSize()).toBe(32 * MiB);
    const expand = {
      volume_id: v.volume_id,
      volume_path: target,
      volume_capability: BLOCK_CAP,
      capacity_range: { required_bytes: String(48 * MiB) },
    };
    // Not published at that path: NOT_FOUND, nothing grows.
    expect(
      await client.code("Node", "NodeExpandVolume", { ...expand, volume_path: s.path("mnt", "elsewhere") }),
    ).toBe(status.NOT_FOUND);
    expect(await devSize()).toBe(32 * MiB);
    const grown = await client.call("Node", "NodeExpandVolume", expand);
    expect(grown.capacity_bytes).toBe(String(48 * MiB));
    expect(await devSize()).toBe(48 * MiB);
    expect((await stat(path.join(dataDir, "volumes", v.volume_id, "disk.img"))).size).toBe(48 * MiB);
    // The record is durable: the size survives in ListVolumes, and a repeat is a no-op.
    const listed = (await client.call("Controller", "ListVolumes", {})).entries.find(
      (e: Msg) => e.volume.volume_id === v.volume_id,
    );
    expect(listed.volume.capacity_bytes).toBe(String(48 * MiB));
    expect((await client.call("Node", "NodeExpandVolume", expand)).capacity_bytes).toBe(String(48 * MiB));
    // Shrinking is refused.
    expect(
      await client.code("Node", "NodeExpandVolume", {
        ...expand,
        capacity_range: { required_bytes: String(16 * MiB), limit_bytes: String(16 * MiB) },
      }),
    ).toBe(status.OUT_OF_RANGE);
    await client.call("Node", "NodeUnpublishVolume", { volume_id: v.volume_id, target_path: target });
    expect(existsSync(target)).toBe(false);
    expect(await leftoversUnder(path.join(dataDir, "volumes", v.volume_id))).toEqual([]);
    await client.call("Controller", "DeleteVolume", { volume_id: v.volume_id });
  });

  it("logs one JSON line per event with secrets redacted, and finishes an in-flight call on SIGTERM", async () => {
    await client.code("Controller", "CreateVolume", {
      name: "with-secret",
      volume_capabilities: [MOUNT_CAP],
      secrets: { password: "hunter2-secret-value" },
    });
    const src = (await create("big-source")).volume;
    const clone = create("clone-during-stop", {
      volume_content_source: { volume: { volume_id: src.volume_id } },
    });
    const cloneMeta = path.join(dataDir, "meta", "volumes");
    const count = async () => (await readdir(cloneMeta)).length;
    const before = await count();
    for (let i = 0; i < 200 && (await count()) === before; i++) await new Promise((r) => setTimeout(r, 10));
    process.kill(driver.child.pid as number, "SIGTERM");
    const r = await clone;
    expect(r.volume.volume_id).toMatch(/^vol-/);
    await driver.exited;
    expect(driver.exitCode).toBe(0);
    expect(existsSync(sock)).toBe(false);
    const lines = (await readFile(driver.logFile, "utf8")).split("\n").filter(Boolean);
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(lines.join("\n")).not.toContain("hunter2-secret-value");
    expect(lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});

describe("NodeExpandVolume where the size is enforced (btrfs qgroups)", () => {
  it("raises the limit a published volume's writer sees", { timeout: 120_000 }, async () => {
    const bs = await Session.create("vol-rpc-btrfs");
    let c: CsiClient | undefined;
    try {
      const loop = await mountLoopFs(bs, "btrfs", { sizeBytes: 1024 * MiB });
      const data = path.join(loop.mountpoint, "data");
      registerDriverCleanup(bs, data, bs.path("mnt"));
      const socket = bs.path("csi.sock");
      await spawnDriver(bs, { dataDir: data, socket, proto, name: "vol-csi-btrfs" });
      c = connectCsi(socket, proto);
      const v = (
        await c.call("Controller", "CreateVolume", {
          name: "grows",
          volume_capabilities: [MOUNT_CAP],
          capacity_range: { required_bytes: String(16 * MiB) },
        })
      ).volume;
      const target = bs.path("mnt", "pod");
      await c.call("Node", "NodePublishVolume", {
        volume_id: v.volume_id,
        target_path: target,
        volume_capability: MOUNT_CAP,
      });
      const write = (name: string, n: number) =>
        writeFile(path.join(target, name), randomBytes(n * MiB), { flush: true }).then(
          () => "ok",
          // libuv has no name for EDQUOT (122 on Linux).
          (err: NodeJS.ErrnoException) => (err.errno === -122 ? "EDQUOT" : err.code),
        );
      expect(await write("big", 64)).toBe("EDQUOT");
      await rm(path.join(target, "big"), { force: true });
      const grown = await c.call("Node", "NodeExpandVolume", {
        volume_id: v.volume_id,
        volume_path: target,
        volume_capability: MOUNT_CAP,
        capacity_range: { required_bytes: String(256 * MiB) },
      });
      expect(grown.capacity_bytes).toBe(String(256 * MiB));
      expect(await write("big", 64)).toBe("ok");
      await c.call("Node", "NodeUnpublishVolume", { volume_id: v.volume_id, target_path: target });
      await c.call("Controller", "DeleteVolume", { volume_id: v.volume_id });
    } finally {
      c?.close();
      const dir = bs.dir;
      await bs.stop();
      expect(await leftoversUnder(dir)).toEqual([]);
    }
  });
});

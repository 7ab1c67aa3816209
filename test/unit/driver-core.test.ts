// Pure parts of the CSI driver: name/id safety, locks, sizes, mount table parsing, error
// mapping, log redaction, and the metadata store's crash handling (on a temp dir).
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { CsiError, toStatus } from "../../src/driver/errors.ts";
import { exclusive, KeyedLocks, shared } from "../../src/driver/locks.ts";
import { identityIn, mountAt, mountsOf, parseMountinfo } from "../../src/driver/mounts.ts";
import { checkId, checkName, Layout, snapshotIdFor, volumeIdFor } from "../../src/driver/names.ts";
import { CSI_PROTO, findProto } from "../../src/driver/proto.ts";
import { redact } from "../../src/driver/redact.ts";
import { socketPathOf } from "../../src/driver/server.ts";
import { isVolumeRecord, RecordStore, type VolumeRecord } from "../../src/driver/store.ts";
import { checkCapability, checkHostPath, sizeFor } from "../../src/driver/validate.ts";
import { createLogger } from "../../src/kube/log.ts";

function codeOf(fn: () => unknown): status | "ok" {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof CsiError ? err.code : status.UNKNOWN;
  }
}

describe("names and ids never become paths unchecked", () => {
  it.each([
    ["../etc"],
    ["/etc/passwd"],
    ["a/b"],
    ["a\\b"],
    ["a\0b"],
    ["tab\tname"],
    [".."],
    ["."],
    ["x".repeat(129)],
    ["é".repeat(65)], // 130 bytes
    [""],
  ])("rejects the name %j with INVALID_ARGUMENT", (name) => {
    expect(codeOf(() => checkName("name", name))).toBe(status.INVALID_ARGUMENT);
  });

  it("accepts a 128-byte name and typical CO names", () => {
    expect(checkName("name", "x".repeat(128))).toHaveLength(128);
    expect(checkName("name", "pvc-0f6c9b7e-1a2b-4c3d-8e9f-0123456789ab")).toMatch(/^pvc-/);
  });

  it.each([["../x"], ["/x"], ["a/b"], ["a..b"], ["a\0"], ["x".repeat(129)], [""]])(
    "rejects the id %j",
    (id) => {
      expect(codeOf(() => checkId("volume_id", id))).toBe(status.INVALID_ARGUMENT);
    },
  );

  it("accepts well-formed ids of strangers (they are then simply not found)", () => {
    expect(checkId("volume_id", "fake-vol-id")).toBe("fake-vol-id");
  });

  it("derives stable, distinct ids from names, and builds paths only from them", () => {
    const v = volumeIdFor("data");
    expect(v).toMatch(/^vol-[0-9a-f]{32}$/);
    expect(volumeIdFor("data")).toBe(v);
    expect(snapshotIdFor("data")).not.toBe(v.replace("vol-", "snap-"));
    const l = new Layout("/data");
    expect(l.volume(v)).toBe(`/data/volumes/${v}`);
    expect(() => l.volume("../../etc")).toThrow(/refusing/);
    expect(() => l.snapshot(v)).toThrow(/refusing/);
    expect(path.dirname(l.tmpFor(v))).toBe("/data/volumes");
  });

  it("checks host paths given by the CO", () => {
    expect(codeOf(() => checkHostPath("relative/t", "target_path"))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => checkHostPath("/a/../b", "target_path"))).toBe(status.INVALID_ARGUMENT);
    expect(checkHostPath("/var/lib/kubelet/pods/x/mount/", "target_path")).toBe(
      "/var/lib/kubelet/pods/x/mount",
    );
  });
});

describe("per-id locks", () => {
  it("serialises the same id, lets different ids and shared holders through, takes all or none", () => {
    const l = new KeyedLocks();
    const a = l.tryAcquire([exclusive("a")]);
    expect(a).toBeDefined();
    expect(l.tryAcquire([exclusive("a")])).toBeUndefined();
    expect(l.tryAcquire([shared("a")])).toBeUndefined();
    const b = l.tryAcquire([exclusive("b")]);
    expect(b).toBeDefined();
    // all-or-nothing: "c" must not stay held when "a" is busy
    expect(l.tryAcquire([exclusive("c"), exclusive("a")])).toBeUndefined();
    expect(l.tryAcquire([exclusive("c")])).toBeDefined();
    a?.();
    const s1 = l.tryAcquire([shared("a")]);
    const s2 = l.tryAcquire([shared("a")]);
    expect(s1 && s2).toBeTruthy();
    expect(l.tryAcquire([exclusive("a")])).toBeUndefined();
    s1?.();
    s2?.();
    expect(l.tryAcquire([exclusive("a")])).toBeDefined();
  });

  it("answers ABORTED through `with` when busy, and releases after a throw", async () => {
    const l = new KeyedLocks();
    let release!: () => void;
    const held = l.with([exclusive("v")], "volume v", () => new Promise<void>((r) => (release = r)));
    await expect(l.with([exclusive("v")], "volume v", async () => 1)).rejects.toMatchObject({
      code: status.ABORTED,
    });
    release();
    await held;
    await expect(
      l.with([exclusive("v")], "volume v", async () => Promise.reject(new Error("x"))),
    ).rejects.toThrow("x");
    expect(l.size).toBe(0);
  });
});

describe("sizes and capabilities", () => {
  const MiB = 2 ** 20;
  it("rounds up to whole blocks, honours limits, refuses impossible ranges", () => {
    expect(sizeFor({ required: 10 * MiB, limit: 0 })).toBe(10 * MiB);
    expect(sizeFor({ required: 1, limit: 0 })).toBe(4096);
    expect(sizeFor({ required: 0, limit: 0 })).toBe(2 ** 30);
    expect(sizeFor({ required: 0, limit: 10 * MiB })).toBe(10 * MiB);
    expect(sizeFor({ required: 5 * MiB, limit: 0 }, 8 * MiB)).toBe(8 * MiB);
    expect(codeOf(() => sizeFor({ required: 5000, limit: 6000 }))).toBe(status.OUT_OF_RANGE);
    expect(codeOf(() => sizeFor({ required: MiB, limit: 2 * MiB }, 4 * MiB))).toBe(status.OUT_OF_RANGE);
  });

  it("accepts node-local access modes and bind-mount flags only", () => {
    const mount = (mode: string, flags: string[] = []) => ({
      access_mode: { mode },
      mount: { fs_type: "", mount_flags: flags },
    });
    expect(checkCapability(mount("SINGLE_NODE_READER_ONLY"), "c").readOnlyMode).toBe(true);
    expect(codeOf(() => checkCapability(mount("MULTI_NODE_MULTI_WRITER"), "c"))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(codeOf(() => checkCapability(mount("SINGLE_NODE_WRITER", ["bind,rw", "x"]), "c"))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(codeOf(() => checkCapability({ access_mode: { mode: "SINGLE_NODE_WRITER" } }, "c"))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(checkCapability({ access_mode: { mode: "SINGLE_NODE_WRITER" }, block: {} }, "c").accessType).toBe(
      "block",
    );
  });
});

describe("mount table", () => {
  const text = [
    "22 1 253:0 / / rw,relatime - ext4 /dev/vda rw",
    "30 22 0:5 / /dev rw,nosuid - devtmpfs udev rw",
    "40 22 0:44 / /tmp/s/btrfs\\040dir rw,relatime - btrfs /dev/loop0 rw",
    "41 22 0:44 /data/volumes/vol-1 /tmp/s/mnt/target rw,relatime - btrfs /dev/loop0 rw",
    "42 22 0:44 /data/volumes/vol-1 /tmp/s/mnt/target ro,relatime - btrfs /dev/loop0 rw",
    "43 22 0:5 /loop3 /tmp/s/mnt/blk rw - devtmpfs udev rw",
  ].join("\n");
  const m = parseMountinfo(text);

  it("parses escaped paths and finds the top mount at a path", () => {
    expect(m[2]?.mountpoint).toBe("/tmp/s/btrfs dir");
    expect(mountAt(m, "/tmp/s/mnt/target")?.options).toContain("ro");
  });

  it("identifies a path by filesystem and in-filesystem root, and finds its bind mounts", () => {
    const vol = identityIn(m, "/tmp/s/btrfs dir/data/volumes/vol-1");
    expect(vol).toEqual({ majmin: "0:44", root: "/data/volumes/vol-1" });
    expect(mountsOf(m, vol!).map((e) => e.mountpoint)).toEqual(["/tmp/s/mnt/target", "/tmp/s/mnt/target"]);
    expect(mountsOf(m, identityIn(m, "/tmp/s/btrfs dir/data/volumes/vol-2")!)).toEqual([]);
    const loop = identityIn(m, "/dev/loop3");
    expect(mountsOf(m, loop!).map((e) => e.mountpoint)).toEqual(["/tmp/s/mnt/blk"]);
  });
});

describe("errors and logs", () => {
  it("keeps CSI codes, hides stacks, maps a full filesystem", () => {
    expect(toStatus(new CsiError(status.NOT_FOUND, "volume x does not exist"))).toMatchObject({
      code: status.NOT_FOUND,
      details: "volume x does not exist",
    });
    const internal = toStatus(new Error("boom"));
    expect(internal.code).toBe(status.INTERNAL);
    expect(internal.details).not.toMatch(/at .*\.ts:\d+/);
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    expect(toStatus(full).code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("redacts secrets and writes one JSON line per event", () => {
    const req = { name: "v", secrets: { password: "hunter2" }, parameters: { a: "b" } };
    expect(JSON.stringify(redact(req))).not.toContain("hunter2");
    expect(redact(req)).toMatchObject({ name: "v", secrets: { password: "***" }, parameters: { a: "b" } });
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (l) => lines.push(l) });
    log.debug("hidden");
    log.info("rpc", { method: "CreateVolume", request: redact(req) });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith("\n")).toBe(true);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "info",
      msg: "rpc",
      method: "CreateVolume",
    });
  });
});

describe("metadata store", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const silent = createLogger({ level: "error", write: () => undefined });
  const rec = (id: string, seq: number): VolumeRecord => ({
    id,
    name: id,
    seq,
    state: "ready",
    capacityBytes: 4096,
    accessType: "mount",
    parameters: {},
    createdAt: new Date(0).toISOString(),
  });

  it("persists records atomically, drops interrupted writes and sets unreadable records aside", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vol-store-"));
    const s = await RecordStore.open(dir, isVolumeRecord, silent);
    await s.put(rec("vol-a", s.nextSeq()));
    await s.put(rec("vol-b", s.nextSeq()));
    await s.delete("vol-a");
    // What a crash in the middle of a write leaves: a temp file; and a record that is garbage.
    await writeFile(path.join(dir, ".vol-c.json.tmp-0badf00d"), '{"id":"vol-c"');
    await writeFile(path.join(dir, "vol-d.json"), "not json");
    const again = await RecordStore.open(dir, isVolumeRecord, silent);
    expect(again.all().map((r) => r.id)).toEqual(["vol-b"]);
    expect(again.nextSeq()).toBe(3);
    expect((await readdir(dir)).sort()).toEqual(["vol-b.json", "vol-d.json.unreadable"]);
  });
});

describe("start-up configuration", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("finds csi.proto by flag, environment, next to the bundle, then in the cache", async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), "vol-proto-"));
    dir = d;
    const bundle = path.join(d, "dist");
    const cache = path.join(d, "cache");
    const cached = path.join(cache, "files", "csi-spec-v1.12.0", "csi.proto");
    await mkdir(path.dirname(cached), { recursive: true });
    await mkdir(bundle);
    await writeFile(cached, "");
    const env = { KUBECTL_VOL_CACHE: cache };
    expect(findProto(CSI_PROTO, undefined, env, bundle)).toBe(cached);
    await writeFile(path.join(bundle, "csi.proto"), "");
    expect(findProto(CSI_PROTO, undefined, env, bundle)).toBe(path.join(bundle, "csi.proto"));
    expect(findProto(CSI_PROTO, undefined, { ...env, VOL_CSI_PROTO: cached }, bundle)).toBe(cached);
    expect(findProto(CSI_PROTO, cached, env, bundle)).toBe(cached);
    expect(() => findProto(CSI_PROTO, path.join(d, "missing.proto"), env, bundle)).toThrow(/--csi-proto/);
    expect(() =>
      findProto(CSI_PROTO, undefined, { KUBECTL_VOL_CACHE: path.join(d, "none") }, path.join(d, "x")),
    ).toThrow(/bins\.sh csi-proto/);
  });

  it("accepts only unix:// endpoints with an absolute path", () => {
    expect(socketPathOf("unix:///csi/csi.sock")).toBe("/csi/csi.sock");
    expect(() => socketPathOf("tcp://127.0.0.1:10000")).toThrow(/unix/);
    expect(() => socketPathOf("unix://relative.sock")).toThrow(/unix/);
  });
});

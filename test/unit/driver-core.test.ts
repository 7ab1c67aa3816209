// Pure parts of the CSI driver: name/id safety, locks, sizes, mount table parsing, error
// mapping, log redaction, and the metadata store's crash handling (on a temp dir).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend, BackendKind, CopyReport, QuotaIds } from "../../src/driver/backends/backend.ts";
import { CopyBackend } from "../../src/driver/backends/copy.ts";
import { BACKEND_FILE, Engine, lowestFreeId } from "../../src/driver/engine.ts";
import { CsiError, toStatus } from "../../src/driver/errors.ts";
import { exec } from "../../src/driver/exec.ts";
import { exclusive, KeyedLocks, shared } from "../../src/driver/locks.ts";
import {
  identityIn,
  lstatIfExists,
  Mounter,
  mountAt,
  mountsOf,
  parseMountinfo,
} from "../../src/driver/mounts.ts";
import { checkId, checkName, Layout, snapshotIdFor, volumeIdFor } from "../../src/driver/names.ts";
import { nodeService } from "../../src/driver/node.ts";
import { CSI_PROTO, findProto } from "../../src/driver/proto.ts";
import { redact } from "../../src/driver/redact.ts";
import { socketPathOf } from "../../src/driver/server.ts";
import { isVolumeRecord, RecordStore, SCHEMA_VERSION, type VolumeRecord } from "../../src/driver/store.ts";
import { checkCapability, checkHostPath, sizeFor } from "../../src/driver/validate.ts";
import { writeFileAtomic } from "../../src/kube/atomic-file.ts";
import { createLogger, type Logger } from "../../src/kube/log.ts";

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
    // A backend's "try again" (the reflink source changed during every pass), however wrapped.
    const busy = new Error("snapshot failed", {
      cause: Object.assign(new Error("/v changed during each of 3 reflink passes"), { code: "EAGAIN" }),
    });
    expect(toStatus(busy)).toMatchObject({ code: status.UNAVAILABLE, internal: false });
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
    schemaVersion: 1,
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
  it("writes the versions of one record in order, a background write included", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vol-store-"));
    const s = await RecordStore.open(dir, isVolumeRecord, silent);
    const errors: unknown[] = [];
    const first = rec("vol-a", s.nextSeq());
    await s.put({ ...first, state: "creating" });
    s.putInBackground(first, (err) => errors.push(err));
    // Held in memory at once, written later: a write right after never loses to it.
    expect(s.get("vol-a")?.state).toBe("ready");
    await s.put({ ...first, state: "deleting" });
    await s.idle();
    const onDisk = JSON.parse(await readFile(path.join(dir, "vol-a.json"), "utf8"));
    expect(onDisk.state).toBe("deleting");
    s.putInBackground({ ...first, state: "ready" }, (err) => errors.push(err));
    await s.delete("vol-a");
    expect(await readdir(dir)).toEqual([]);
    expect(errors).toEqual([]);
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

// The engine on a plain directory (the copy backend works anywhere), with a backend whose
// removals and moves can be made to fail or to wait, and a logger that keeps its lines.
class TestBackend extends CopyBackend {
  override readonly kind: BackendKind;
  failRemove: (p: string) => boolean = () => false;
  failRelocate = false;
  /** When set, every removal waits for it. */
  gate: Promise<void> | undefined;
  projectIds = false;
  readonly removed: { path: string; ids: QuotaIds }[] = [];
  readonly limited: { path: string; ids: QuotaIds }[] = [];
  constructor(root: string, kind: BackendKind = "copy") {
    super(root, exec);
    this.kind = kind;
  }
  override get usesProjectIds(): boolean {
    return this.projectIds;
  }
  override async remove(p: string, ids: QuotaIds = {}): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failRemove(p)) throw new Error(`EPERM: operation not permitted, rmdir '${p}'`);
    this.removed.push({ path: p, ids });
    await super.remove(p, ids);
  }
  override async relocate(from: string, to: string): Promise<void> {
    if (this.failRelocate) throw new Error(`EROFS: read-only file system, rename '${from}'`);
    await super.relocate(from, to);
  }
  protected override async limit(dir: string, _size: number, ids: QuotaIds): Promise<void> {
    this.limited.push({ path: dir, ids });
  }
  /** When set, what every snapshot reports (as if the source had been written during the copy). */
  report: CopyReport | undefined;
  override async snapshot(src: string, dst: string): Promise<CopyReport> {
    const r = await super.snapshot(src, dst);
    return this.report ?? r;
  }
}

function keptLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

const noLoops = new Mounter(async () => ({ stdout: "", stderr: "" }));
const MiB = 2 ** 20;
const newVolume = (name: string) => ({
  id: volumeIdFor(name),
  name,
  capacityBytes: MiB,
  accessType: "mount" as const,
  parameters: {},
});

describe("engine", () => {
  let root: string;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  const open = (backend: Backend, log: Logger) => Engine.open({ backend, log, mounter: noLoops });

  it("serves after a start that finds leftovers it cannot remove or set aside, and logs each", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const b = new TestBackend(root);
    const { log, lines } = keptLog();
    const e = await open(b, log);
    const kept = await e.createVolume(newVolume("kept"));
    await e.drain();
    // What a crash and an odd filesystem leave: a half-made build nobody can remove, and data
    // without a record that cannot be moved (a read-only btrfs snapshot, before the fix).
    const stuck = path.join(root, "volumes", `.tmp.${volumeIdFor("gone")}.0badf00d`);
    await mkdir(stuck);
    const orphan = path.join(root, "snapshots", snapshotIdFor("orphan"));
    await mkdir(orphan);
    b.failRemove = (p) => p === stuck;
    b.failRelocate = true;
    lines.length = 0;
    const again = await open(b, log);
    await again.drain();
    expect(again.volumes.get(kept.id)?.state).toBe("ready");
    expect(await readdir(path.join(root, "volumes"))).toContain(path.basename(stuck));
    expect(await readdir(path.join(root, "snapshots"))).toEqual([path.basename(orphan)]);
    const errors = lines.filter((l) => l.level === "error").map((l) => ({ msg: l.msg, path: l.path }));
    expect(errors).toHaveLength(2);
    expect(errors).toEqual(
      expect.arrayContaining([
        { msg: expect.stringMatching(/could not set aside data without a record/), path: orphan },
        { msg: expect.stringMatching(/could not remove a leftover/), path: stuck },
      ]),
    );
    // And it still serves: a new volume can be made.
    expect((await again.createVolume(newVolume("after"))).state).toBe("ready");
  });

  it("answers a create before its ready record is written, and a start finishes such a create", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const { log, lines } = keptLog();
    const e = await open(new TestBackend(root), log);
    const v = await e.createVolume(newVolume("v"));
    expect(v.state).toBe("ready");
    expect(e.volumes.get(v.id)?.state).toBe("ready");
    await e.drain();
    const file = path.join(root, "meta", "volumes", `${v.id}.json`);
    expect(JSON.parse(await readFile(file, "utf8")).state).toBe("ready");
    // What a kill right after the answer leaves: the data in place, the record still `creating`.
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), state: "creating" }));
    // And a kill during a build: `creating`, nothing at the final path (only a temporary build).
    const cut = newVolume("cut");
    await writeFile(
      path.join(root, "meta", "volumes", `${cut.id}.json`),
      JSON.stringify({
        ...cut,
        schemaVersion: 1,
        seq: 9,
        state: "creating",
        createdAt: new Date().toISOString(),
      }),
    );
    await mkdir(path.join(root, "volumes", `.tmp.${cut.id}.0badf00d`));
    lines.length = 0;
    const again = await open(new TestBackend(root), log);
    await again.drain();
    expect(again.volumes.get(v.id)?.state).toBe("ready");
    expect(JSON.parse(await readFile(file, "utf8")).state).toBe("ready");
    expect(again.volumes.get(cut.id)).toBeUndefined();
    expect(await readdir(path.join(root, "volumes"))).toEqual([v.id]);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        "finishing an interrupted create: its data is complete",
        "undoing an interrupted create",
      ]),
    );
  });

  it("refuses to create over data that has no record, and writes no record for it", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const { log } = keptLog();
    const e = await open(new TestBackend(root), log);
    const stray = newVolume("stray");
    // Data a start could not set aside (see the test above): never taken for a new build's.
    await mkdir(e.volumePath(stray.id));
    await writeFile(path.join(e.volumePath(stray.id), "keep"), "x");
    await expect(e.createVolume(stray)).rejects.toThrow(
      `volume ${stray.id} has no record but there is data at ${e.volumePath(stray.id)}: restart the driver, which sets it aside into ${path.join(root, "orphans")}, then retry`,
    );
    await e.drain();
    expect(e.volumes.get(stray.id)).toBeUndefined();
    expect(await readdir(path.join(root, "meta", "volumes"))).toEqual([]);
    expect(await readFile(path.join(e.volumePath(stray.id), "keep"), "utf8")).toBe("x");
  });

  it("writes the schema version into every record and refuses records of a newer schema", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const { log } = keptLog();
    const e = await open(new TestBackend(root), log);
    const v = await e.createVolume(newVolume("v"));
    const file = path.join(root, "meta", "volumes", `${v.id}.json`);
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ schemaVersion: SCHEMA_VERSION });
    // A record written before versions existed is read as version 1 ...
    const { schemaVersion: _, ...old } = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify(old));
    expect((await open(new TestBackend(root), log)).volumes.get(v.id)?.state).toBe("ready");
    // ... one of a newer driver stops the start, naming the file and the fix.
    await writeFile(file, JSON.stringify({ ...old, schemaVersion: SCHEMA_VERSION + 1 }));
    await expect(open(new TestBackend(root), log)).rejects.toThrow(
      `metadata record ${file} has schema version 2, newer than the 1 this driver reads: run the driver version that wrote it (or a newer one) on this data directory`,
    );
  });

  it("records the backend at the first start and refuses to start with another one", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const { log } = keptLog();
    await open(new TestBackend(root, "btrfs"), log);
    expect(JSON.parse(await readFile(path.join(root, "meta", BACKEND_FILE), "utf8"))).toMatchObject({
      schemaVersion: SCHEMA_VERSION,
      backend: "btrfs",
    });
    await open(new TestBackend(root, "btrfs"), log);
    const err = (await open(new TestBackend(root, "reflink"), log).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe(
      `data directory ${root} was set up with the btrfs backend but the reflink backend was detected now: find out why creating and deleting a test subvolume fails in ${root} and restart the driver (to really switch backends, move the volumes out and remove ${path.join(root, "meta", BACKEND_FILE)})`,
    );
    expect(err.message.split(": ").length).toBeLessThanOrEqual(2); // one sentence
  });

  it("answers a delete before the data is removed, and finishes the removal at the next start", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const b = new TestBackend(root);
    const { log } = keptLog();
    const e = await open(b, log);
    const v = await e.createVolume(newVolume("big"));
    await writeFile(path.join(e.volumePath(v.id), "data"), "x");
    let release!: () => void;
    b.gate = new Promise<void>((r) => (release = r));
    // The removal waits for the gate: the delete must answer anyway.
    const answered = await Promise.race([
      e.deleteVolume(v.id).then(() => "answered"),
      new Promise((r) => setTimeout(() => r("waited for the removal"), 2000)),
    ]);
    expect(answered).toBe("answered");
    expect(e.volumes.get(v.id)?.state).toBe("deleting");
    expect(existsSync(e.volumePath(v.id))).toBe(false);
    const trash = (await readdir(path.join(root, "volumes"))).filter((n) => n.startsWith(".trash."));
    expect(trash).toHaveLength(1);
    // A start while the removal is still pending (the first driver was killed) finishes it.
    const { log: log2, lines } = keptLog();
    const b2 = new TestBackend(root);
    const again = await open(b2, log2);
    await again.drain();
    expect(again.volumes.get(v.id)).toBeUndefined();
    expect(await readdir(path.join(root, "volumes"))).toEqual([]);
    expect(await readdir(path.join(root, "meta", "volumes"))).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain("finishing an interrupted delete");
    release();
    await e.drain();
    // The same for a snapshot.
    const src = await again.createVolume(newVolume("src"));
    const s = await again.createSnapshot({
      id: snapshotIdFor("s"),
      name: "s",
      sourceVolumeId: src.id,
      sizeBytes: MiB,
      accessType: "mount",
      parameters: {},
    });
    b2.gate = new Promise<void>((r) => (release = r));
    await again.deleteSnapshot(s.id);
    expect(again.snapshots.get(s.id)?.state).toBe("deleting");
    release();
    await again.drain();
    expect(again.snapshots.get(s.id)).toBeUndefined();
    expect(await readdir(path.join(root, "snapshots"))).toEqual([]);
  });

  it("allocates project ids that never collide, records them, and reuses one only after its release", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const b = new TestBackend(root, "reflink");
    b.projectIds = true;
    const { log } = keptLog();
    const e = await open(b, log);
    const [a, c] = await Promise.all([e.createVolume(newVolume("a")), e.createVolume(newVolume("c"))]);
    expect([a.projectId, c.projectId].sort()).toEqual([1, 2]);
    // Recorded, so a restart knows them; applied with the very id recorded.
    const onDisk = JSON.parse(await readFile(path.join(root, "meta", "volumes", `${a.id}.json`), "utf8"));
    expect(onDisk.projectId).toBe(a.projectId);
    expect(b.limited.map((l) => l.ids.projectId).sort()).toEqual([1, 2]);
    // While a's data is still being removed its id stays taken ...
    let release!: () => void;
    b.gate = new Promise<void>((r) => (release = r));
    await e.deleteVolume(a.id);
    const d = await e.createVolume(newVolume("d"));
    expect(d.projectId).toBe(3);
    release();
    await e.drain();
    // ... the removal released its quota with that id, and then the id is free again.
    expect(b.removed.map((r) => r.ids.projectId)).toContain(a.projectId);
    const f = await e.createVolume(newVolume("f"));
    expect(f.projectId).toBe(a.projectId);
    const reopened = await open(b, log);
    expect(reopened.volumes.all().map((r) => r.projectId)).toEqual([c.projectId, 3, a.projectId]);
    // An expansion raises the limit of the recorded id.
    await reopened.expandVolume(c.id, 2 * MiB);
    expect(b.limited.at(-1)).toEqual({ path: reopened.volumePath(c.id), ids: { projectId: c.projectId } });
    expect(lowestFreeId([1, 2, 4])).toBe(3);
    expect(lowestFreeId([])).toBe(1);
  });
});

describe("engine copy reports", () => {
  let root: string;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("logs each copy's window, and warns when a copy is not point-in-time", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "vol-engine-"));
    const b = new TestBackend(root);
    const { log, lines } = keptLog();
    const e = await Engine.open({ backend: b, log, mounter: noLoops });
    const v = await e.createVolume(newVolume("src"));
    const snap = (name: string) =>
      e.createSnapshot({
        id: snapshotIdFor(name),
        name,
        sourceVolumeId: v.id,
        sizeBytes: MiB,
        accessType: "mount",
        parameters: {},
      });
    // (A change within the timestamp slack before the copy counts as during it.)
    await new Promise((r) => setTimeout(r, 100));
    await snap("quiet");
    expect(lines.at(-1)).toMatchObject({
      level: "info",
      msg: "copied the source at one point in time",
      pointInTime: true,
      windowMs: expect.any(Number),
    });
    b.report = { pointInTime: false, windowMs: 1234, passes: 1 };
    await snap("busy");
    expect(lines.at(-1)).toMatchObject({
      level: "warn",
      msg: "the source changed while it was copied: this copy is not point-in-time",
      id: snapshotIdFor("busy"),
      windowMs: 1234,
      backend: "copy",
    });
  });
});

describe("locks of the node service", () => {
  it("lets a pod's volume be unpublished while a snapshot of it is being copied", async () => {
    const id = volumeIdFor("busy");
    const locks = new KeyedLocks();
    const rec = { id, state: "ready", accessType: "mount" } as VolumeRecord;
    const engine = { volumes: { get: () => rec } } as unknown as Engine;
    const node = nodeService({
      engine,
      locks,
      mounter: noLoops,
      nodeId: "n",
      topologyKey: "k",
      maxVolumes: 0,
    });
    // What CreateSnapshot holds for the whole copy.
    const copying = locks.tryAcquire([exclusive(snapshotIdFor("s")), shared(id)]);
    expect(copying).toBeDefined();
    const target = path.join(os.tmpdir(), `vol-no-such-target-${process.pid}`);
    await expect(node.NodeUnpublishVolume?.({ volume_id: id, target_path: target })).resolves.toEqual({});
    // A delete still cannot run during the copy.
    expect(locks.tryAcquire([exclusive(id)])).toBeUndefined();
    copying?.();
  });

  it("treats a target it cannot inspect as an error, not as absent", async () => {
    const id = volumeIdFor("v");
    const rec = { id, state: "ready", accessType: "mount" } as VolumeRecord;
    const engine = { volumes: { get: () => rec } } as unknown as Engine;
    const node = nodeService({
      engine,
      locks: new KeyedLocks(),
      mounter: noLoops,
      nodeId: "n",
      topologyKey: "k",
      maxVolumes: 0,
    });
    // lstat fails with ENOTDIR (as with EACCES, something is in the way: not "nothing there").
    await expect(
      node.NodeUnpublishVolume?.({ volume_id: id, target_path: "/etc/hostname/x" }),
    ).rejects.toThrow(/ENOTDIR/);
    await expect(lstatIfExists("/etc/hostname/x")).rejects.toMatchObject({ code: "ENOTDIR" });
    expect(await lstatIfExists(path.join(os.tmpdir(), `vol-absent-${process.pid}`))).toBeUndefined();
  });
});

describe("atomic files", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("replaces a file whole, with exactly the mode asked, leaving no temporary file", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vol-atomic-"));
    const f = path.join(dir, "tls.crt");
    await writeFileAtomic(f, "old", { mode: 0o600 });
    await writeFileAtomic(f, "new", { mode: 0o644 });
    expect(await readFile(f, "utf8")).toBe("new");
    expect((await stat(f)).mode & 0o777).toBe(0o644);
    // A rename that cannot happen (a directory is in the way) leaves the temporary file behind nowhere.
    await mkdir(path.join(dir, "taken"));
    await writeFile(path.join(dir, "taken", "x"), "");
    await expect(writeFileAtomic(path.join(dir, "taken"), "x")).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["taken", "tls.crt"]);
  });
});

// Backend pieces that need no special filesystem: parsing btrfs output, qgroup limits, the
// all-or-nothing builder and the du-like walk.
import { link, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReferenced, qgroupLimit } from "../../src/driver/backends/btrfs.ts";
import { BackendError, buildAt, removeTree, walkUsage } from "../../src/driver/backends/common.ts";

const MiB = 2 ** 20;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vol-backends-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("btrfs output and limits", () => {
  it("reads the referenced bytes of the subvolume's own qgroup", () => {
    const out = [
      "Qgroupid    Referenced    Exclusive   Path ",
      "--------    ----------    ---------   ---- ",
      "0/256          3162112      3162112   data/vol-1",
      "1/100         99999999     99999999   <under higher level>",
      "",
    ].join("\n");
    expect(parseReferenced(out)).toBe(3162112);
    expect(parseReferenced("ERROR: can't list qgroups: quotas not enabled\n")).toBeUndefined();
  });

  it("gives a volume room for its requested size plus its metadata, in whole MiB", () => {
    expect(qgroupLimit(16 * MiB)).toBe(20 * MiB);
    expect(qgroupLimit(2 ** 30)).toBe(2 ** 30 + 16 * MiB);
    expect(qgroupLimit(2 ** 40)).toBe(2 ** 40 + 256 * MiB);
    expect(qgroupLimit(1) % MiB).toBe(0);
  });
});

describe("buildAt", () => {
  it("removes what a failed build left and keeps the cause", async () => {
    const dst = path.join(dir, "half");
    const err = await buildAt(
      "clone x",
      dst,
      async () => {
        await mkdir(dst);
        await writeFile(path.join(dst, "part"), "x");
        throw new Error("disk on fire");
      },
      removeTree,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toBe(`clone x at ${dst} failed: disk on fire`);
    expect((err as BackendError).cause).toBeInstanceOf(Error);
    expect(await readdir(dir)).not.toContain("half");
  });

  it("never touches a destination that already exists", async () => {
    const dst = path.join(dir, "taken");
    await mkdir(dst);
    let ran = false;
    const make = async () => {
      ran = true;
    };
    const err = await buildAt("snapshot y", dst, make, removeTree).catch((e: unknown) => e);
    expect((err as BackendError).code).toBe("EEXIST");
    expect(ran).toBe(false);
    expect(await readdir(dir)).toContain("taken");
  });

  it("says so when the clean-up fails as well", async () => {
    const dst = path.join(dir, "stuck");
    const err = await buildAt(
      "create volume",
      dst,
      () => Promise.reject(new Error("first")),
      () => Promise.reject(new Error("second")),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain(
      "failed (first), and removing the partial result failed too (second)",
    );
  });
});

describe("walkUsage", () => {
  it("counts every inode once, hard links included", async () => {
    const root = path.join(dir, "tree");
    await mkdir(path.join(root, "sub"), { recursive: true });
    await writeFile(path.join(root, "a"), Buffer.alloc(MiB, 1));
    await link(path.join(root, "a"), path.join(root, "sub", "a-again"));
    await writeFile(path.join(root, "sub", "b"), "b");
    const u = await walkUsage(root);
    expect(u.inodes).toBe(4); // root, sub, a (= a-again), b
    expect(u.bytes).toBeGreaterThanOrEqual(MiB);
    expect(u.bytes).toBeLessThan(MiB + 64 * 1024);
  });
});

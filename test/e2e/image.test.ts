// The container image, built FROM scratch out of `npm run build` output by scripts/image.sh and
// run by podman: the driver inside it serves CSI on a socket shared with the host, makes volumes
// and snapshots with the tools the image carries, and stops cleanly on SIGTERM; the webhook and
// the plugin answer in it too, as names (links) of the one executable the image holds.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../../src/driver/exec.ts";
import { assets, repoRoot } from "../../src/localcluster/assets.ts";
import { connectCsi, MOUNT_CAP } from "../../src/localcluster/csi-client.ts";
import { ensureBuild, withBuildLock } from "../../src/localcluster/images/images.ts";
import { Session, waitUntil } from "../../src/localcluster/session.ts";

const run = promisify(execFile);
const TAG = "localhost/kubectl-vol:e2e-test";
const env = { ...process.env, CONTAINERS_CONF: path.join(repoRoot, "scripts/podman/containers.conf") };
let session: Session;

beforeAll(async () => {
  session = await Session.create("kubectl-vol-image");
  // dist/ and scripts/image.sh's folder under it are shared with the local cluster's image build.
  await withBuildLock(async () => {
    await ensureBuild(exec, () => {});
    await run("bash", [path.join(repoRoot, "scripts/image.sh"), TAG], { cwd: repoRoot, timeout: 300_000 });
  });
  session.onCleanup(`CONTAINERS_CONF=${env.CONTAINERS_CONF} podman rmi -f ${TAG} >/dev/null 2>&1`);
}, 600_000);
afterAll(async () => {
  await session?.stop();
});

describe("the container image", () => {
  it("runs the driver: CSI over a host socket, volumes and snapshots made with the image's tools, clean SIGTERM", async () => {
    const sockDir = session.path("csi");
    const dataDir = session.path("data");
    await mkdir(sockDir, { recursive: true });
    await mkdir(dataDir, { recursive: true });
    const name = `vol-csi-e2e-${process.pid}`;
    session.onCleanup(`CONTAINERS_CONF=${env.CONTAINERS_CONF} podman rm -f ${name} >/dev/null 2>&1`);
    await run(
      "podman",
      [
        "run",
        "-d",
        "--name",
        name,
        "--network=none",
        "-v",
        `${sockDir}:/csi`,
        "-v",
        `${dataDir}:/var/lib/kubectl-vol`,
        TAG,
        "--endpoint=unix:///csi/csi.sock",
        "--node-id=image-node",
        "--data-dir=/var/lib/kubectl-vol",
      ],
      { env },
    );
    const { "csi-proto": proto } = await assets("csi-proto");
    const socket = path.join(sockDir, "csi.sock");
    await waitUntil("the driver's socket", async () => existsSync(socket), 30_000);
    const csi = connectCsi(socket, proto);
    try {
      const info = await csi.call("Identity", "GetPluginInfo");
      expect(info.name).toBe("vol.kubectl.io");
      // The bundle has no package.json beside it: the build wrote the version in.
      const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
      expect(info.vendor_version).toBe(pkg.version);
      const vol = await csi.call("Controller", "CreateVolume", {
        name: "pvc-image-1",
        capacity_range: { required_bytes: String(64 << 20) },
        volume_capabilities: [MOUNT_CAP],
      });
      const volumeId = vol.volume.volume_id as string;
      const snap = await csi.call("Controller", "CreateSnapshot", {
        name: "snap-image-1",
        source_volume_id: volumeId,
      });
      expect(snap.snapshot.ready_to_use).toBe(true);
      const restored = await csi.call("Controller", "CreateVolume", {
        name: "pvc-image-2",
        capacity_range: { required_bytes: String(64 << 20) },
        volume_capabilities: [MOUNT_CAP],
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot.snapshot_id } },
      });
      expect(restored.volume.content_source?.snapshot?.snapshot_id).toBe(snap.snapshot.snapshot_id);
    } finally {
      csi.close();
    }
    await run("podman", ["stop", "-t", "20", name], { env });
    const { stdout } = await run("podman", ["inspect", name, "--format", "{{.State.ExitCode}}"], { env });
    expect(stdout.trim()).toBe("0");
    expect(existsSync(socket)).toBe(false);
  });

  it("holds one executable: /vol-csi and /vol-webhook are links to /kubectl-vol", async () => {
    const { stdout } = await run(
      "podman",
      [
        "run",
        "--rm",
        "--network=none",
        "--entrypoint",
        "/usr/bin/stat",
        TAG,
        "-c",
        "%n %F %s",
        "/kubectl-vol",
        "/vol-csi",
        "/vol-webhook",
      ],
      { env },
    );
    const [exe, csi, webhook] = stdout.trim().split("\n");
    expect(exe).toMatch(/^\/kubectl-vol regular file \d+$/);
    expect(csi).toMatch(/^\/vol-csi symbolic link /);
    expect(webhook).toMatch(/^\/vol-webhook symbolic link /);
    // One copy of Node (~130 MB), not three.
    const size = await run("podman", ["image", "inspect", TAG, "--format", "{{.Size}}"], { env });
    expect(Number(size.stdout.trim())).toBeLessThan(250e6);
  });

  it("carries the webhook and the plugin", async () => {
    const webhook = await run(
      "podman",
      ["run", "--rm", "--network=none", "--entrypoint", "/vol-webhook", TAG, "--help"],
      { env },
    );
    expect(webhook.stdout).toMatch(/Usage: vol-webhook/);
    const plugin = await run(
      "podman",
      ["run", "--rm", "--network=none", "--entrypoint", "/kubectl-vol", TAG, "--help"],
      { env },
    );
    expect(plugin.stdout).toMatch(/kubectl vol/);
  });
});

// `npm run cluster:up` / `cluster:down` as a person uses them.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { assets, repoRoot } from "../../src/localcluster/assets.ts";
import { hostLeftovers, hostSysctls } from "../../src/localcluster/cluster.ts";

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-cluster-test-"));
const env = { ...process.env, KUBECTL_VOL_CLUSTER_DIR: dir };
const script = path.join(repoRoot, "scripts/cluster.ts");

afterAll(async () => {
  await run(process.execPath, [script, "down"], { env }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe("cluster:up and cluster:down", () => {
  it("up --nodes 1 prints a kubeconfig path last that reaches a v1.36 server; down leaves nothing", async () => {
    // The host's own values (another test's cluster may hold the kubelets' values meanwhile).
    const before = await hostSysctls();
    const up = await run(process.execPath, [script, "up", "--nodes", "1"], { env, timeout: 1_200_000 });
    const kubeconfig = up.stdout.trimEnd().split("\n").at(-1) ?? "";
    expect(existsSync(kubeconfig)).toBe(true);
    const { kubectl } = await assets("kubectl");
    const v = JSON.parse(
      (await run(kubectl, ["--kubeconfig", kubeconfig, "version", "-o", "json"])).stdout,
    ) as {
      serverVersion: { gitVersion: string };
    };
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.36\./);
    // The whole system: real nodes (kubelet v1.36.3) whose kubelets list our driver, the
    // system's pods from manifests/, and the plugin.
    const nodes = JSON.parse(
      (await run(kubectl, ["--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"])).stdout,
    ) as {
      items: { metadata: { name: string }; status: { nodeInfo: { kubeletVersion: string } } }[];
    };
    expect(nodes.items.map((n) => n.status.nodeInfo.kubeletVersion)).toEqual(["v1.36.3"]);
    const csinodes = JSON.parse(
      (await run(kubectl, ["--kubeconfig", kubeconfig, "get", "csinodes", "-o", "json"])).stdout,
    ) as { items: { spec: { drivers: { name: string }[] } }[] };
    expect(csinodes.items.map((c) => c.spec.drivers.map((d) => d.name))).toEqual([["vol.kubectl.io"]]);
    expect(up.stdout).toMatch(/all system pods Ready in \d+(\.\d)? s/);
    const { bin } = JSON.parse((await run("cat", [path.join(dir, "state.json")])).stdout) as { bin: string };
    const vol = await run(kubectl, ["vol", "list", "-A", "--kubeconfig", kubeconfig], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(vol.stdout + vol.stderr).toMatch(/No resources found/);

    const again = await run(process.execPath, [script, "up"], { env });
    expect(again.stdout.trimEnd().split("\n").at(-1)).toBe(kubeconfig);
    const state = JSON.parse((await run("cat", [path.join(dir, "state.json")])).stdout) as {
      pid: number;
      nodeIds: string[];
    };
    expect(state.nodeIds).toHaveLength(1);

    const down = await run(process.execPath, [script, "down"], { env, timeout: 300_000 });
    expect(down.stdout).toMatch(/cluster stopped/);
    expect(() => process.kill(state.pid, 0)).toThrow();
    expect(existsSync(kubeconfig)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith("kubectl-vol-cp-"))).toEqual([]);
    const after = await run("pgrep", ["-f", path.dirname(kubeconfig)]).catch((e: { code: number }) => e);
    expect(after).toMatchObject({ code: 1 });
    expect(await hostLeftovers(path.dirname(kubeconfig), before, state.nodeIds)).toEqual([]);
  }, 1_500_000);
});

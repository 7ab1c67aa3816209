import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { apiMessage, contextNamespace, loadKubeConfig, statusCode } from "../../src/kube/client.ts";
import { parseAssetLines, repoRoot } from "../../src/localcluster/assets.ts";

const run = promisify(execFile);
const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-unit-"));
  tmp.push(d);
  return d;
}

describe("scripts/bins.sh", () => {
  it("takes prebuilt binaries from KUBECTL_VOL_ASSETS without building", async () => {
    const assets = tempDir();
    for (const b of [
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
      "kubectl",
      "kubelet",
    ]) {
      writeFileSync(path.join(assets, b), "#!/bin/sh\n");
      chmodSync(path.join(assets, b), 0o755);
    }
    const { stdout } = await run("bash", [path.join(repoRoot, "scripts/bins.sh"), "etcd", "kube"], {
      env: {
        ...process.env,
        KUBECTL_VOL_ASSETS: assets,
        KUBECTL_VOL_CACHE: tempDir(),
        PATH: process.env.PATH,
      },
    });
    const got = parseAssetLines(stdout);
    expect(got.get("etcd")).toBe(path.join(assets, "etcd"));
    expect(got.get("kube-apiserver")).toBe(path.join(assets, "kube-apiserver"));
    expect(got.get("kubectl")).toBe(path.join(assets, "kubectl"));
    expect(got.get("kubelet")).toBe(path.join(assets, "kubelet"));
  });

  it("refuses an unknown part with a message naming the known ones", async () => {
    const err = await run("bash", [path.join(repoRoot, "scripts/bins.sh"), "kubelets"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(
      /unknown part 'kubelets' \(known: etcd kube containerd csi-sanity sidecars crds cert-manager-crds csi-proto kubelet-proto\)/,
    );
  });
});

describe("parseAssetLines", () => {
  it("reads name=path lines and ignores the rest", () => {
    const m = parseAssetLines("etcd=/a/b/etcd\nnoise\nkubectl=/x=y/kubectl\n");
    expect([...m.entries()]).toEqual([
      ["etcd", "/a/b/etcd"],
      ["kubectl", "/x=y/kubectl"],
    ]);
  });
});

describe("src/kube/client", () => {
  const kubeconfig = (ns?: string) => `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: one, context: {cluster: c, user: u${ns ? `, namespace: ${ns}` : ""}}}
- {name: two, context: {cluster: c, user: u, namespace: shop}}
current-context: one
`;
  it("uses the context's namespace, else default", () => {
    const dir = tempDir();
    const f = path.join(dir, "config");
    writeFileSync(f, kubeconfig());
    expect(contextNamespace(loadKubeConfig({ kubeconfig: f }))).toBe("default");
    expect(contextNamespace(loadKubeConfig({ kubeconfig: f, context: "two" }))).toBe("shop");
  });
  it("names a missing context", () => {
    const f = path.join(tempDir(), "config");
    writeFileSync(f, kubeconfig("x"));
    expect(() => loadKubeConfig({ kubeconfig: f, context: "nope" })).toThrow('context "nope" does not exist');
  });
  it("extracts the Status message and code from client errors", () => {
    const err = Object.assign(new Error("HTTP-Code: 404"), {
      code: 404,
      body: JSON.stringify({ kind: "Status", message: 'persistentvolumeclaims "db" not found' }),
    });
    expect(statusCode(err)).toBe(404);
    expect(apiMessage(err)).toBe('persistentvolumeclaims "db" not found');
    expect(apiMessage(new Error("plain"))).toBe("plain");
    expect(statusCode("x")).toBeUndefined();
  });
  it("is a KubeConfig", () => {
    const f = path.join(tempDir(), "config");
    writeFileSync(f, kubeconfig());
    expect(loadKubeConfig({ kubeconfig: f })).toBeInstanceOf(KubeConfig);
  });
});

// The kubeconfig as kubectl loads it: the KUBECONFIG list merged by client-go's rules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../../src/kube/connection.ts";
import { kubeconfigFiles, loadKubeconfig, mergeKubeconfigs } from "../../../src/kube/kubeconfig.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-kc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  return f;
}

const first = file(
  "a/config",
  `apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://first:6443", certificate-authority: ca.crt}}
users:
- {name: u, user: {client-certificate: certs/u.crt, client-key: ${path.join(dir, "u.key")}}}
contexts:
- {name: one, context: {cluster: c, user: u, namespace: shop}}
`,
);
const second = file(
  "b/config",
  `apiVersion: v1
kind: Config
current-context: one
clusters:
- {name: c, cluster: {server: "https://second:6443"}}
- {name: d, cluster: {server: "https://d:6443"}}
users:
- {name: u, user: {token: second}}
contexts:
- {name: one, context: {cluster: d, user: u}}
- {name: two, context: {cluster: d, user: u}}
`,
);
for (const f of ["a/ca.crt", "a/certs/u.crt", "u.key"]) file(f, "PEM");
const third = file("c/config", `current-context: two\n`);

describe("loadKubeconfig", () => {
  it("skips missing files of KUBECONFIG, and the first file to name an entry wins it whole", () => {
    const env = { KUBECONFIG: ["/nonexistent/config", first, second, first].join(path.delimiter) };
    const { config, files, missing } = loadKubeconfig(undefined, env);
    expect(files).toEqual([first, second]); // deduplicated, in order
    expect(missing).toEqual(["/nonexistent/config"]);
    expect(config.clusters).toEqual([
      {
        name: "c",
        cluster: { server: "https://first:6443", "certificate-authority": path.join(dir, "a/ca.crt") },
      },
      { name: "d", cluster: { server: "https://d:6443" } },
    ]);
    // Paths are relative to the file that holds them; absolute ones stay.
    expect(config.users).toEqual([
      {
        name: "u",
        user: {
          "client-certificate": path.join(dir, "a/certs/u.crt"),
          "client-key": path.join(dir, "u.key"),
        },
      },
    ]);
    expect(config.contexts?.map((c) => [c.name, c.context.cluster])).toEqual([
      ["one", "c"],
      ["two", "d"],
    ]);
    // current-context: the first file that sets it (here the second file).
    expect(config["current-context"]).toBe("one");
  });

  it("takes current-context from the first file that sets it, not the last", () => {
    const env = { KUBECONFIG: [third, second].join(path.delimiter) };
    expect(loadKubeconfig(undefined, env).config["current-context"]).toBe("two");
  });

  it("reads an explicit --kubeconfig alone, and a missing one is an error", () => {
    const env = { KUBECONFIG: second };
    expect(loadKubeconfig(first, env).config["current-context"]).toBeUndefined();
    expect(() => loadKubeconfig(path.join(dir, "nope"), env)).toThrow(/ENOENT/);
  });

  it("lists the files as kubectl does: KUBECONFIG (empty entries dropped), else ~/.kube/config", () => {
    expect(kubeconfigFiles(undefined, { KUBECONFIG: `::${first}:` }, "/home/x")).toEqual([first]);
    expect(kubeconfigFiles(undefined, {}, "/home/x")).toEqual(["/home/x/.kube/config"]);
    expect(kubeconfigFiles(undefined, { KUBECONFIG: "" }, "/home/x")).toEqual(["/home/x/.kube/config"]);
    expect(mergeKubeconfigs([])).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [],
      users: [],
      contexts: [],
    });
  });
});

describe("connect over a KUBECONFIG list", () => {
  const saved = process.env.KUBECONFIG;
  afterAll(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });
  it("uses the merged context, its cluster and namespace; no file at all is kubectl's empty-config error", async () => {
    const token = file("t/config", `current-context: one\nusers: [{name: u, user: {token: t1}}]\n`);
    process.env.KUBECONFIG = ["/nonexistent/config", token, second].join(path.delimiter);
    const conn = await connect();
    expect(conn.server).toBe("https://d:6443");
    process.env.KUBECONFIG = ["/nonexistent/config", first, second].join(path.delimiter);
    expect((await connect()).namespace).toBe("shop");
    process.env.KUBECONFIG = "/nonexistent/a:/nonexistent/b";
    const saveHost = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      await expect(connect()).rejects.toThrow(
        "invalid configuration: no configuration has been provided (no kubeconfig at /nonexistent/a, /nonexistent/b)",
      );
    } finally {
      if (saveHost !== undefined) process.env.KUBERNETES_SERVICE_HOST = saveHost;
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../../src/kube/connection.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-conn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c
  cluster: ${JSON.stringify({ server: "https://10.0.0.1:6443/", ...cluster })}
users:
- name: u
  user: ${JSON.stringify(user)}
contexts:
- name: a
  context: {cluster: c, user: u}
- name: b
  context: {cluster: missing, user: u}
`,
  );
  return file;
}

describe("connect", () => {
  it("reads certificate files relative to the kubeconfig, and inline data", async () => {
    writeFileSync(path.join(dir, "client.crt"), "CERT");
    writeFileSync(path.join(dir, "client.key"), "KEY");
    const file = kubeconfig(
      "files",
      { "client-certificate": "client.crt", "client-key": "client.key" },
      { "certificate-authority-data": Buffer.from("CA").toString("base64") },
    );
    const conn = await connect({ kubeconfig: file });
    expect(conn.server).toBe("https://10.0.0.1:6443");
    const o: RequestOptions = {};
    await conn.apply(o);
    expect([String(o.cert), String(o.key), String(o.ca)]).toEqual(["CERT", "KEY", "CA"]);
    expect(o.headers).toBeUndefined();
  });

  it("sends a token, re-reading a token file when it changes", async () => {
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, "one\n");
    const conn = await connect({ kubeconfig: kubeconfig("token.kubeconfig", { tokenFile: "token" }) });
    const o: RequestOptions = {};
    await conn.apply(o);
    expect((o.headers as Record<string, string>).authorization).toBe("Bearer one");
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(tokenFile, "two\n");
    const o2: RequestOptions = {};
    await conn.apply(o2);
    expect((o2.headers as Record<string, string>).authorization).toBe("Bearer two");
  });

  it("names a missing context or cluster", async () => {
    const file = kubeconfig("ctx", { token: "t" });
    await expect(connect({ kubeconfig: file, context: "nope" })).rejects.toThrow(
      `context "nope" does not exist in the kubeconfig ${file}`,
    );
    await expect(connect({ kubeconfig: file, context: "b" })).rejects.toThrow(
      'cluster "missing" of context "b" has no server',
    );
  });
});

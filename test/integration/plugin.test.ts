// `kubectl vol` end to end against a real kube-apiserver with the upstream snapshot CRDs: every
// verb runs through the BUILT single-file executable (with no node on PATH) and through the
// pinned kubectl's plugin mechanism; the objects it creates are read back from the API server;
// waiting is tested against objects whose status this test advances through the status
// subresource. No CSI driver runs, so nothing else changes the objects.
import { spawn } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { waitUntil } from "../../src/localcluster/session.ts";
import { builtPlugin, type Result, runCommand } from "./plugin-binary.ts";

const NS = "shop";
const X = "x.csi.example"; // two classes, one default
const Y = "y.csi.example"; // no class
const Z = "z.csi.example"; // two classes, no default

let cp: ControlPlane;
let dist: string;
let kubectlBin: string;
let env: NodeJS.ProcessEnv;

/** The built executable, with a PATH that holds no node at all. */
const vol = (args: string[], timeoutMs?: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> =>
  runCommand(path.join(dist, "kubectl-vol"), args, { ...env, ...extraEnv }, timeoutMs);
/** `kubectl vol ...`: kubectl finds kubectl-vol on PATH. */
const kvol = (args: string[], timeoutMs?: number): Promise<Result> =>
  runCommand(kubectlBin, ["vol", ...args], env, timeoutMs);

async function apply(objects: object[]): Promise<void> {
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}
// biome-ignore lint/suspicious/noExplicitAny: objects read back from kubectl as JSON
async function get<T = Record<string, any>>(kind: string, name: string, ns = NS): Promise<T | undefined> {
  try {
    const { stdout } = await cp.kubectl(["get", kind, name, "-n", ns, "-o", "json"]);
    return JSON.parse(stdout) as T;
  } catch (err) {
    if (/NotFound/.test((err as { stderr?: string }).stderr ?? "")) return undefined;
    throw err;
  }
}
async function patchStatus(kind: string, name: string, status: object, ns = NS): Promise<void> {
  await cp.kubectl([
    "patch",
    kind,
    name,
    "-n",
    ns,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  ]);
}

const storageClass = (name: string, provisioner: string) => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name },
  provisioner,
});
const snapshotClass = (name: string, driver: string, isDefault = false) => ({
  apiVersion: "snapshot.storage.k8s.io/v1",
  kind: "VolumeSnapshotClass",
  metadata: {
    name,
    ...(isDefault ? { annotations: { "snapshot.storage.kubernetes.io/is-default-class": "true" } } : {}),
  },
  driver,
  deletionPolicy: "Delete",
});
const claim = (name: string, sc: string, size = "1Gi", extra: object = {}) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace: NS },
  spec: {
    storageClassName: sc,
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: size } },
    ...extra,
  },
});

/** Binds a claim as the PV controller would: a PV (CSI, of `driver`, unless given), then the claim's status. */
async function bind(name: string, driver: string, size: string, source?: object): Promise<void> {
  const pvc = await get("pvc", name);
  await apply([
    {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `pv-${name}` },
      spec: {
        capacity: { storage: size },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Delete",
        storageClassName: pvc?.spec.storageClassName,
        ...(source ?? { csi: { driver, volumeHandle: `handle-${name}` } }),
        claimRef: { namespace: NS, name, uid: pvc?.metadata.uid },
      },
    },
  ]);
  await cp.kubectl([
    "patch",
    "pvc",
    name,
    "-n",
    NS,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { volumeName: `pv-${name}` } }),
  ]);
  await patchStatus("pvc", name, {
    phase: "Bound",
    accessModes: ["ReadWriteOnce"],
    capacity: { storage: size },
  });
}

async function readySnapshot(name: string, restoreSize: string): Promise<void> {
  await patchStatus("volumesnapshot", name, {
    readyToUse: true,
    restoreSize,
    boundVolumeSnapshotContentName: `content-${name}`,
  });
}

beforeAll(async () => {
  [cp, dist, { kubectl: kubectlBin }] = await Promise.all([
    startControlPlane(),
    builtPlugin(),
    assets("kubectl"),
  ]);
  // No node anywhere on PATH: the executable must run on its own, and kubectl must find it there.
  env = { PATH: `${dist}:${path.dirname(kubectlBin)}`, KUBECONFIG: cp.kubeconfig, HOME: cp.session.dir };
  await cp.kubectl(["create", "namespace", NS]);
  await cp.kubectl(["create", "namespace", "empty"]);
  await apply([
    storageClass("fast", X),
    storageClass("fast2", X),
    storageClass("other", Y),
    storageClass("zed", Z),
    snapshotClass("x-default", X, true),
    snapshotClass("x-slow", X),
    snapshotClass("z-a", Z),
    snapshotClass("z-b", Z),
    claim("db", "fast"),
    claim("plain", "other"),
    claim("zvol", "zed"),
    claim("pending", "fast"),
    storageClass("manual", "kubernetes.io/no-provisioner"),
    claim("static", "manual"),
  ]);
  await Promise.all([
    bind("db", X, "1Gi"),
    bind("plain", Y, "1Gi"),
    bind("zvol", Z, "1Gi"),
    bind("static", "", "1Gi", { hostPath: { path: "/tmp/kubectl-vol-static" } }),
  ]);
}, 240_000);

afterAll(async () => {
  await cp?.stop();
});

describe("the executable", () => {
  it("prints help for the plugin and every verb, with usage lines and examples, exit 0", async () => {
    const top = await vol(["--help"]);
    expect(top.code).toBe(0);
    for (const verb of ["snapshot", "clone", "restore", "list", "tree"]) {
      expect(top.stdout).toMatch(new RegExp(`^  ${verb} `, "m"));
    }
    expect(top.stdout).toMatch(/Usage:\n {2}kubectl vol <verb> \[options\]\n/);
    for (const verb of ["snapshot", "clone", "restore", "list", "tree"]) {
      const r = await kvol([verb, "-h"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage:\\n\\s*kubectl vol ${verb} `));
      expect(r.stdout).toContain("Examples:");
      expect(r.stdout).toContain(`kubectl vol ${verb} `);
    }
  });

  it("exits 2 with the message and a pointer to the help on usage errors", async () => {
    const cases: [string[], RegExp, string][] = [
      [["snapshot"], /PVC is required/, "snapshot"],
      [["snapshot", "db", "-o", "xml"], /allowed formats are: json,yaml,name,wide/, "snapshot"],
      [["clone", "db", "--dry-run=maybe"], /invalid value "maybe" for --dry-run/, "clone"],
      [["restore", "s", "--size", "lots"], /invalid --size "lots"/, "restore"],
      [["snapshot", "db", "--timeout", "soon", "--wait"], /invalid value "soon" for --timeout/, "snapshot"],
      [["snapshot", "db", "--bogus"], /^error: unknown flag: --bogus$/m, "snapshot"],
      [["snapshot", "db", "-Z"], /^error: unknown shorthand flag: 'Z' in -Z$/m, "snapshot"],
      [["snapshot", "db", "--name", "Bad_Name"], /invalid --name "Bad_Name"/, "snapshot"],
      [
        ["snapshot", "db", "--wait", "--dry-run=client"],
        /--wait cannot be combined with --dry-run/,
        "snapshot",
      ],
      [["list", "db", "-A"], /cannot be combined with --all-namespaces/, "list"],
      [["clone", "default/db"], /"default\/db" is not a PVC name: to name the namespace use -n/, "clone"],
      [["restore", "pvc/db"], /kubectl vol restore takes a VolumeSnapshot/, "restore"],
      [["tree", "db", "-o", "json"], /allowed formats are: wide/, "tree"],
      [["frob"], /unknown verb "frob"/, ""],
      [[], /a verb is required/, ""],
    ];
    for (const [args, message, verb] of cases) {
      const r = await vol(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(`See 'kubectl vol ${verb ? `${verb} ` : ""}-h' for help and examples.`);
      expect(r.stdout).toBe("");
    }
  });
});

describe("reaching the API server as kubectl does", () => {
  it("skips a missing file in KUBECONFIG and merges the rest", async () => {
    const other = cp.session.path("other.kubeconfig");
    await writeFile(
      other,
      `apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\ncontexts:\n- {name: elsewhere, context: {cluster: nowhere, user: nobody}}\n`,
    );
    const list = [path.join(cp.session.dir, "nonexistent"), cp.kubeconfig, other].join(path.delimiter);
    const r = await vol(["list", "-n", NS, "-o", "name"], undefined, { KUBECONFIG: list });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("persistentvolumeclaim/db\n");
    // The current-context of the first file that sets one wins; the later file adds its context.
    const ctx = await vol(["list", "-n", NS, "--context", "elsewhere"], undefined, { KUBECONFIG: list });
    expect(ctx.code).toBe(1);
    expect(ctx.stderr).toContain('cluster "nowhere" of context "elsewhere" has no server');
    const none = await vol(["list"], undefined, { KUBECONFIG: path.join(cp.session.dir, "nonexistent") });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: invalid configuration: no configuration has been provided/);
  });

  it("works through a proxy on a port browsers block (6666), as kubectl does", async () => {
    const target = new URL(cp.server);
    const proxy = net.createServer((c) => {
      const up = net.connect(Number(target.port), target.hostname);
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    let port = 6666;
    for (const p of [6666, 6667, 6668, 6669, 6665, 6697, 10080]) {
      const ok = await new Promise<boolean>((r) => {
        proxy.once("error", () => r(false));
        proxy.listen(p, "127.0.0.1", () => r(true));
      });
      if (ok) {
        port = p;
        break;
      }
    }
    expect(proxy.listening).toBe(true);
    try {
      const kc = cp.session.path("blocked-port.kubeconfig");
      const { stdout } = await cp.kubectl(["config", "view", "--raw", "--flatten"]);
      await writeFile(kc, stdout.replace(cp.server, `https://127.0.0.1:${port}`));
      expect(
        (await cp.kubectl(["get", "pvc", "db", "-n", NS, "--kubeconfig", kc, "-o", "name"])).stdout,
      ).toBe("persistentvolumeclaim/db\n");
      const r = await vol(["list", "db", "-n", NS, "--kubeconfig", kc, "-o", "name"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("persistentvolumeclaim/db\n");
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it("gets its credentials from a kubeconfig user's exec plugin (the full client, loaded for it alone)", async () => {
    await cp.kubectl(["create", "serviceaccount", "vol-exec", "-n", NS]);
    const token = (await cp.kubectl(["create", "token", "vol-exec", "-n", NS])).stdout.trim();
    const plugin = cp.session.path("exec-credential.sh");
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token },
    };
    await writeFile(plugin, `#!/bin/sh\necho '${JSON.stringify(credential)}'\n`, { mode: 0o755 });
    const kc = cp.session.path("exec.kubeconfig");
    const { stdout } = await cp.kubectl(["config", "view", "--raw", "--flatten", "-o", "json"]);
    const cfg = JSON.parse(stdout);
    cfg.users = [
      {
        name: cfg.users[0].name,
        user: {
          exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" },
        },
      },
    ];
    await writeFile(kc, JSON.stringify(cfg));
    // The API server knows the plugin's token: the service account, which may not list claims
    // or snapshots or group snapshots (whichever answer comes first is the one reported).
    const r = await vol(["list", "-n", NS, "--kubeconfig", kc]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: listing (PersistentVolumeClaims|VolumeSnapshots|VolumeGroupSnapshots) in namespace "${NS}": forbidden: .* User "system:serviceaccount:${NS}:vol-exec" cannot list`,
      ),
    );
  });

  it("gives up after --request-timeout on a server that accepts and never answers, connecting included", async () => {
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((c) => accepted.add(c)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const kc = cp.session.path("silent.kubeconfig");
      const { stdout } = await cp.kubectl(["config", "view", "--raw", "--flatten"]);
      const port = (silent.address() as net.AddressInfo).port;
      await writeFile(kc, stdout.replace(cp.server, `https://127.0.0.1:${port}`));
      const t0 = Date.now();
      const r = await vol(["snapshot", "db", "-n", NS, "--kubeconfig", kc, "--request-timeout", "1s"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("did not answer within 1s (--request-timeout)");
      expect(Date.now() - t0).toBeLessThan(4_000);
    } finally {
      for (const c of accepted) c.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("snapshot", () => {
  it("names the snapshot <pvc>-<UTC timestamp> and picks the driver's default class", async () => {
    const before = new Date();
    const r = await vol(["snapshot", "db", "-n", NS]);
    const after = new Date();
    expect(r.code, r.stderr).toBe(0);
    const m = /^volumesnapshot\.snapshot\.storage\.k8s\.io\/(db-(\d{8})-(\d{6})) created\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [, name, day, time] = m as unknown as string[];
    const stamp = Date.parse(
      `${day!.slice(0, 4)}-${day!.slice(4, 6)}-${day!.slice(6)}T${time!.slice(0, 2)}:${time!.slice(2, 4)}:${time!.slice(4)}Z`,
    );
    expect(stamp).toBeGreaterThanOrEqual(Math.floor(before.getTime() / 1000) * 1000);
    expect(stamp).toBeLessThanOrEqual(after.getTime());
    const snap = await get("volumesnapshot", name!);
    expect(snap?.spec).toEqual({
      volumeSnapshotClassName: "x-default",
      source: { persistentVolumeClaimName: "db" },
    });
    expect(snap?.metadata.annotations).toMatchObject({
      "vol.kubectl.io/source-kind": "PersistentVolumeClaim",
      "vol.kubectl.io/source-name": "db",
    });
  });

  it("through kubectl vol: takes --name and --class, and -o name prints kind/name", async () => {
    const r = await kvol([
      "snapshot",
      "db",
      "-n",
      NS,
      "--name",
      "db-slow",
      "--class",
      "x-slow",
      "-o",
      "name",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("volumesnapshot.snapshot.storage.k8s.io/db-slow\n");
    expect((await get("volumesnapshot", "db-slow"))?.spec.volumeSnapshotClassName).toBe("x-slow");
  });

  it("takes the namespace from the kubeconfig context when -n is absent", async () => {
    const kc = cp.session.path("shop.kubeconfig");
    const { stdout } = await cp.kubectl(["config", "view", "--raw", "--flatten"]);
    await writeFile(kc, stdout.replace("namespace: default", `namespace: ${NS}`));
    const r = await vol(["snapshot", "db", "--name", "db-ctx", "--kubeconfig", kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(await get("volumesnapshot", "db-ctx")).toBeDefined();
    // --context picks another context of the same kubeconfig (and its namespace).
    await cp.kubectl([
      "config",
      "set-context",
      "other",
      "--cluster=kubectl-vol-test",
      "--user=admin",
      "--namespace=default",
      `--kubeconfig=${kc}`,
    ]);
    const other = await kvol(["list", "--kubeconfig", kc, "--context", "other", "-o", "name"]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toBe("");
    expect(other.stderr).toBe("No resources found in default namespace.\n");
    const shop = await kvol(["list", "--kubeconfig", kc, "-o", "name"]);
    expect(shop.stdout).toContain("volumesnapshot.snapshot.storage.k8s.io/db-ctx\n");
    const missing = await vol(["list", "--kubeconfig", kc, "--context", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('context "nope" does not exist in the kubeconfig');
  });

  it("with --wait and -o json prints the object once it is ready", async () => {
    const run = vol(["snapshot", "db", "-n", NS, "--name", "snap-json", "--wait", "-o", "json"]);
    await waitUntil(
      "snap-json to exist",
      async () => (await get("volumesnapshot", "snap-json")) !== undefined,
      30_000,
    );
    await readySnapshot("snap-json", "1Gi");
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.metadata.name).toBe("snap-json");
    expect(printed.status).toMatchObject({ readyToUse: true, restoreSize: "1Gi" });
  });

  it("--dry-run=client prints the object and --dry-run=server validates it; neither creates anything", async () => {
    const client = await vol([
      "snapshot",
      "db",
      "-n",
      NS,
      "--name",
      "dry-c",
      "--dry-run=client",
      "-o",
      "json",
    ]);
    expect(client.code, client.stderr).toBe(0);
    const printed = JSON.parse(client.stdout);
    expect(printed).toMatchObject({
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name: "dry-c", namespace: NS },
      spec: { volumeSnapshotClassName: "x-default", source: { persistentVolumeClaimName: "db" } },
    });
    const plain = await kvol(["snapshot", "db", "-n", NS, "--name", "dry-c2", "--dry-run=client"]);
    expect(plain.stdout).toBe("volumesnapshot.snapshot.storage.k8s.io/dry-c2 created (dry run)\n");
    const server = await vol(["snapshot", "db", "-n", NS, "--name", "dry-s", "--dry-run=server"]);
    expect(server.code, server.stderr).toBe(0);
    expect(server.stdout).toBe("volumesnapshot.snapshot.storage.k8s.io/dry-s created (server dry run)\n");
    const clone = await vol([
      "clone",
      "db",
      "-n",
      NS,
      "--name",
      "dry-clone",
      "--dry-run=server",
      "-o",
      "yaml",
    ]);
    expect(clone.code, clone.stderr).toBe(0);
    expect(clone.stdout).toMatch(/kind: PersistentVolumeClaim/);
    expect(clone.stdout).toMatch(/uid: /); // the server filled it in
    for (const [kind, name] of [
      ["volumesnapshot", "dry-c"],
      ["volumesnapshot", "dry-c2"],
      ["volumesnapshot", "dry-s"],
      ["pvc", "dry-clone"],
    ]) {
      expect(await get(kind!, name!), `${kind}/${name}`).toBeUndefined();
    }
  });

  it("fails with exit 1 and the fix when the claim or a class is missing", async () => {
    const cases: [string[], string][] = [
      [["snapshot", "nope", "-n", NS], 'error: PVC "nope" not found in namespace "shop"'],
      [
        ["snapshot", "plain", "-n", NS],
        'error: no VolumeSnapshotClass for driver "y.csi.example": create one or pass --class',
      ],
      [["snapshot", "pending", "-n", NS], 'PVC "pending" in namespace "shop" is Pending, not Bound'],
      [
        ["snapshot", "db", "-n", NS, "--class", "z-a"],
        'VolumeSnapshotClass "z-a" is for driver "z.csi.example"',
      ],
      [["snapshot", "db", "-n", NS, "--class", "gone"], 'VolumeSnapshotClass "gone" does not exist'],
      [["restore", "nope", "-n", NS], 'error: VolumeSnapshot "nope" not found in namespace "shop"'],
      [["clone", "nope", "-n", NS], 'error: PVC "nope" not found in namespace "shop"'],
      [["clone", "pending", "-n", NS], "a clone needs a Bound source"],
      [["clone", "db", "-n", NS, "--storage-class", "other"], 'would be provisioned by "y.csi.example"'],
      [["tree", "nope", "-n", NS], 'error: PVC "nope" not found in namespace "shop"'],
      [
        ["clone", "static", "-n", NS],
        'error: PVC "static" in namespace "shop" is bound to PersistentVolume "pv-static", a hostPath volume, not a CSI volume: only a CSI driver can clone a volume',
      ],
      [
        ["snapshot", "static", "-n", NS],
        "a hostPath volume, not a CSI volume: only a CSI driver can take a snapshot",
      ],
      [
        ["clone", "db", "-n", NS, "--storage-class", "nosuch"],
        'error: StorageClass "nosuch" (--storage-class) does not exist: use one of "fast" (x.csi.example)',
      ],
      [
        ["restore", "db-slow", "-n", NS, "--storage-class", "nosuch"],
        'StorageClass "nosuch" (--storage-class) does not exist',
      ],
    ];
    for (const [args, message] of cases) {
      const r = await vol(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain("See 'kubectl vol");
    }
    const several = await kvol(["snapshot", "zvol", "-n", NS]);
    expect(several.code).toBe(1);
    expect(several.stderr).toBe(
      'error: driver "z.csi.example" has several VolumeSnapshotClasses (z-a, z-b) and none is the default: pass --class with one of them, or mark one with snapshot.storage.kubernetes.io/is-default-class: "true"\n',
    );
    const { stdout } = await cp.kubectl(["get", "volumesnapshot", "-n", NS, "-o", "name"]);
    expect(stdout).not.toMatch(/nope|plain|pending|zvol|static/);
    const claims = await cp.kubectl(["get", "pvc", "-n", NS, "-o", "name"]);
    expect(claims.stdout).not.toMatch(/static-clone|db-clone/);
  });

  it("--wait shows each state change and returns once the test marks the snapshot ready", async () => {
    const run = vol(["snapshot", "db", "-n", NS, "--name", "snap-w", "--wait", "--timeout", "60s"]);
    await waitUntil(
      "snap-w to exist",
      async () => (await get("volumesnapshot", "snap-w")) !== undefined,
      30_000,
    );
    await patchStatus("volumesnapshot", "snap-w", { readyToUse: false, error: { message: "backend busy" } });
    await new Promise((r) => setTimeout(r, 1200));
    await readySnapshot("snap-w", "1Gi");
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("volumesnapshot.snapshot.storage.k8s.io/snap-w created\n");
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe("volumesnapshot/snap-w: not ready: waiting for the snapshot controller");
    expect(lines).toContain("volumesnapshot/snap-w: not ready: backend busy");
    expect(lines[lines.length - 1]).toBe("volumesnapshot/snap-w: ready to use (restoreSize 1Gi)");
  });

  it("--wait times out with exit 1, the last state and the object's events", async () => {
    await apply([
      {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "snap-t.1", namespace: NS },
        involvedObject: {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          name: "snap-t",
          namespace: NS,
        },
        reason: "SnapshotCreationFailed",
        message: "Failed to create snapshot: the driver is not installed",
        type: "Warning",
        count: 3,
      },
    ]);
    const r = await vol(["snapshot", "db", "-n", NS, "--name", "snap-t", "--wait", "--timeout", "2s"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: timed out after 2s waiting for volumesnapshot/snap-t to be ready to use",
    );
    expect(r.stderr).toContain("last state: not ready: waiting for the snapshot controller");
    expect(r.stderr).toContain(
      "Warning  SnapshotCreationFailed  Failed to create snapshot: the driver is not installed (x3)",
    );
    expect(await get("volumesnapshot", "snap-t")).toBeDefined(); // created, left as it is
  });
});

describe("waiting, interrupted and on a terminal", () => {
  it("Ctrl-C while waiting stops at once with exit 130 (128 + SIGINT) and leaves the created object", async () => {
    const child = spawn(
      path.join(dist, "kubectl-vol"),
      ["snapshot", "db", "-n", NS, "--name", "snap-int", "--wait"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await waitUntil(
        "the first state line",
        async () => stderr.includes("volumesnapshot/snap-int:"),
        30_000,
      );
      const t0 = Date.now();
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(stderr).toContain(
        "error: interrupted while waiting for volumesnapshot/snap-int to be ready to use; it was created and is left as it is",
      );
      expect(await get("volumesnapshot", "snap-int")).toBeDefined();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("on a terminal redraws a spinner line, coloured unless NO_COLOR is set", async () => {
    // script(1) gives the executable a pseudo-terminal.
    const onTty = async (extraEnv: Record<string, string>, name: string) => {
      const cmd = `${path.join(dist, "kubectl-vol")} snapshot db -n ${NS} --name ${name} --wait --timeout 1s`;
      return runCommand("/usr/bin/script", ["-qec", cmd, "/dev/null"], {
        ...env,
        PATH: `${env.PATH}:/usr/bin:/bin`,
        TERM: "xterm",
        ...extraEnv,
      });
    };
    const plain = await onTty({ NO_COLOR: "1" }, "snap-tty1");
    expect(plain.code).toBe(1); // timed out: nothing makes it ready
    expect(plain.stdout).toContain(
      "\r\x1b[Kvolumesnapshot/snap-tty1: not ready: waiting for the snapshot controller",
    );
    expect(plain.stdout).toMatch(
      /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] volumesnapshot\/snap-tty1: not ready: waiting for the snapshot controller \(\ds\)/,
    );
    expect(plain.stdout).not.toContain("\x1b[2m");
    const coloured = await onTty({}, "snap-tty2");
    expect(coloured.stdout).toContain("\x1b[2m");
  });
});

describe("restore and clone", () => {
  it("restore sizes the claim max(source request, restoreSize) and takes the source's class and modes", async () => {
    await vol(["snapshot", "db", "-n", NS, "--name", "big"]);
    await readySnapshot("big", "2Gi");
    await vol(["snapshot", "db", "-n", NS, "--name", "small"]);
    await readySnapshot("small", "512Mi");
    const a = await vol(["restore", "big", "-n", NS, "--name", "from-big"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe("persistentvolumeclaim/from-big created\n");
    const b = await kvol(["restore", "small", "-n", NS, "--name", "from-small"]);
    expect(b.code, b.stderr).toBe(0);
    const big = await get("pvc", "from-big");
    expect(big?.spec).toMatchObject({
      storageClassName: "fast",
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      resources: { requests: { storage: "2Gi" } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "big" },
    });
    expect(big?.metadata.annotations).toMatchObject({
      "vol.kubectl.io/source-kind": "VolumeSnapshot",
      "vol.kubectl.io/source-name": "big",
      "vol.kubectl.io/snapshot-of": "db",
    });
    expect((await get("pvc", "from-small"))?.spec.resources.requests.storage).toBe("1Gi");
    const sized = await vol([
      "restore",
      "small",
      "-n",
      NS,
      "--name",
      "from-small-5",
      "--size",
      "5Gi",
      "--storage-class",
      "fast2",
    ]);
    expect(sized.code, sized.stderr).toBe(0);
    expect((await get("pvc", "from-small-5"))?.spec).toMatchObject({
      storageClassName: "fast2",
      resources: { requests: { storage: "5Gi" } },
    });
  });

  it("restores a snapshot that is not ready yet with the rules' warning (the claim waits for it)", async () => {
    await vol(["snapshot", "db", "-n", NS, "--name", "unready"]);
    const r = await vol(["restore", "unready", "-n", NS, "--name", "from-unready"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^Warning: VolumeSnapshot "unready" in namespace "shop" is not ready yet: .* stays Pending/m,
    );
    expect(r.stdout).toBe("persistentvolumeclaim/from-unready created\n");
    expect((await get("pvc", "from-unready"))?.spec.resources.requests.storage).toBe("1Gi"); // the source's request
  });

  it("clone defaults size, class, access modes and volume mode from the source and waits until Bound", async () => {
    const run = kvol(["clone", "db", "-n", NS, "--name", "db-copy", "--wait", "--timeout", "60s"]);
    await waitUntil("db-copy to exist", async () => (await get("pvc", "db-copy")) !== undefined, 30_000);
    await bind("db-copy", X, "1Gi");
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("persistentvolumeclaim/db-copy created\n");
    expect(r.stderr).toContain("pvc/db-copy: Pending: waiting for a volume to be provisioned");
    expect(r.stderr).toContain("pvc/db-copy: Bound to pv-db-copy (1Gi)");
    const copy = await get("pvc", "db-copy");
    expect(copy?.spec).toMatchObject({
      storageClassName: "fast",
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      resources: { requests: { storage: "1Gi" } },
      dataSource: { kind: "PersistentVolumeClaim", name: "db" },
    });
    expect(copy?.metadata.annotations).toMatchObject({
      "vol.kubectl.io/source-kind": "PersistentVolumeClaim",
      "vol.kubectl.io/source-name": "db",
    });
  });

  it("raises a --size below the source's with the rules' warning, as the webhook would", async () => {
    const r = await vol(["clone", "db", "-n", NS, "--name", "db-tiny", "--size", "100Mi"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Warning: .*requested 100Mi, less than the 1Gi .*raised the request to 1Gi/m);
    expect((await get("pvc", "db-tiny"))?.spec.resources.requests.storage).toBe("1Gi");
  });

  it("clone --wait reports a claim that is Lost and exits 1", async () => {
    const run = vol(["clone", "db", "-n", NS, "--name", "db-lost", "--wait", "--timeout", "60s"]);
    await waitUntil("db-lost to exist", async () => (await get("pvc", "db-lost")) !== undefined, 30_000);
    await patchStatus("pvc", "db-lost", { phase: "Lost" });
    const r = await run;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: pvc/db-lost is Lost: its volume is gone; it will not become Bound");
  });
});

describe("list and tree", () => {
  // db → snapshot chain-s1 → restore chain-r1 → snapshot chain-s2 → clone chain-c1 (of chain-r1),
  // and a claim made by hand from chain-s2 (no annotations: lineage from spec.dataSource).
  beforeAll(async () => {
    const steps: string[][] = [
      ["snapshot", "db", "--name", "chain-s1"],
      ["restore", "chain-s1", "--name", "chain-r1"],
      ["snapshot", "chain-r1", "--name", "chain-s2"],
      ["clone", "chain-r1", "--name", "chain-c1"],
    ];
    await cp.kubectl(["create", "namespace", "chain"]);
    await cp.kubectl(
      ["create", "-n", "chain", "-f", "-"],
      JSON.stringify({ ...claim("db", "fast"), metadata: { name: "db", namespace: "chain" } }),
    );
    const bindIn = async (name: string) => {
      const pvc = await get("pvc", name, "chain");
      await apply([
        {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: `pv-chain-${name}` },
          spec: {
            capacity: { storage: "1Gi" },
            accessModes: ["ReadWriteOnce"],
            storageClassName: "fast",
            csi: { driver: X, volumeHandle: `chain-${name}` },
            claimRef: { namespace: "chain", name, uid: pvc?.metadata.uid },
          },
        },
      ]);
      await patchStatus("pvc", name, { phase: "Bound", capacity: { storage: "1Gi" } }, "chain");
    };
    await bindIn("db");
    for (const step of steps) {
      const r = await vol([...step, "-n", "chain"]);
      expect(r.code, `${step.join(" ")}: ${r.stderr}`).toBe(0);
      if (step[0] === "snapshot")
        await patchStatus("volumesnapshot", step[3]!, { readyToUse: true, restoreSize: "1Gi" }, "chain");
      if (step[0] === "restore") await bindIn(step[3]!);
    }
    await cp.kubectl(
      ["create", "-n", "chain", "-f", "-"],
      JSON.stringify({
        ...claim("manual", "fast"),
        metadata: { name: "manual", namespace: "chain" },
        spec: {
          ...claim("manual", "fast").spec,
          dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "chain-s2" },
        },
      }),
    );
    await cp.kubectl(
      ["create", "-n", "chain", "-f", "-"],
      JSON.stringify({ ...claim("loner", "fast"), metadata: { name: "loner", namespace: "chain" } }),
    );
  });

  const rows = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((l) => l.split(/\s{3,}/));

  it("list shows every claim and snapshot with its SOURCE, READY and SIZE in a kubectl table", async () => {
    const r = await kvol(["list", "-n", "chain"]);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...body] = rows(r.stdout);
    expect(header).toEqual(["NAME", "SOURCE", "READY", "SIZE", "AGE"]);
    const byName = Object.fromEntries(body.map((row) => [row[0], row.slice(1, 4)]));
    expect(byName).toEqual({
      "pvc/db": ["<none>", "true", "1Gi"],
      "volumesnapshot/chain-s1": ["pvc/db", "true", "1Gi"],
      "pvc/chain-r1": ["volumesnapshot/chain-s1", "true", "1Gi"],
      "volumesnapshot/chain-s2": ["pvc/chain-r1", "true", "1Gi"],
      "pvc/chain-c1": ["pvc/chain-r1", "false", "1Gi"],
      "pvc/manual": ["volumesnapshot/chain-s2", "false", "1Gi"],
      "pvc/loner": ["<none>", "false", "1Gi"],
    });
    // Columns line up: every row's SOURCE starts where the header's does.
    const at = r.stdout.split("\n")[0]!.indexOf("SOURCE");
    for (const line of r.stdout.trim().split("\n").slice(1)) expect(line[at - 1]).toBe(" ");
  });

  it("list PVC keeps to its lineage; -o wide adds STATUS and CLASS; -o name and -o json list the objects", async () => {
    const only = await vol(["list", "chain-r1", "-n", "chain", "-o", "wide"]);
    expect(only.code, only.stderr).toBe(0);
    const [header, ...body] = rows(only.stdout);
    expect(header).toEqual(["NAME", "SOURCE", "READY", "SIZE", "AGE", "STATUS", "CLASS"]);
    expect(body.map((b) => b[0]).sort()).toEqual([
      "pvc/chain-c1",
      "pvc/chain-r1",
      "pvc/manual",
      "volumesnapshot/chain-s2",
    ]);
    expect(body.find((b) => b[0] === "pvc/chain-c1")?.slice(5)).toEqual(["Pending", "fast"]);
    expect(body.find((b) => b[0] === "volumesnapshot/chain-s2")?.slice(5)).toEqual([
      "ReadyToUse",
      "x-default",
    ]);
    const names = await vol(["list", "db", "-n", "chain", "-o", "name"]);
    expect(names.stdout.trim().split("\n")).toEqual([
      "persistentvolumeclaim/db",
      "volumesnapshot.snapshot.storage.k8s.io/chain-s1",
      "persistentvolumeclaim/chain-r1",
      "volumesnapshot.snapshot.storage.k8s.io/chain-s2",
      "persistentvolumeclaim/manual",
      "persistentvolumeclaim/chain-c1",
    ]);
    // The same bundles run under node too (the core then loads from the file next to the bundle).
    const underNode = await runCommand(
      process.execPath,
      [path.join(dist, "bundles/kubectl-vol.cjs"), "list", "db", "-n", "chain", "-o", "name"],
      {
        ...env,
      },
    );
    expect(underNode.code, underNode.stderr).toBe(0);
    expect(underNode.stdout).toBe(names.stdout);
    const json = JSON.parse((await vol(["list", "-n", "chain", "-o", "json"])).stdout);
    expect(json.kind).toBe("List");
    expect(json.items).toHaveLength(7);
  });

  it("list -A adds the NAMESPACE column; an empty namespace prints only kubectl's notice", async () => {
    const all = await vol(["list", "-A"]);
    expect(all.code, all.stderr).toBe(0);
    const [header, ...body] = rows(all.stdout);
    expect(header).toEqual(["NAMESPACE", "NAME", "SOURCE", "READY", "SIZE", "AGE"]);
    expect(body.some((b) => b[0] === "chain" && b[1] === "pvc/chain-c1")).toBe(true);
    expect(body.some((b) => b[0] === NS && b[1] === "pvc/db")).toBe(true);
    const empty = await kvol(["list", "-n", "empty"]);
    expect(empty).toEqual({ code: 0, stdout: "", stderr: "No resources found in empty namespace.\n" });
  });

  it("tree draws the lineage snapshot → restore → snapshot → clone under the claim", async () => {
    const r = await vol(["tree", "db", "-n", "chain"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const width = lines[0]!.indexOf("SOURCE");
    const names = lines.map((l) => l.slice(0, width).trimEnd());
    expect(names).toEqual([
      "NAME",
      "pvc/db",
      "└─volumesnapshot/chain-s1",
      "  └─pvc/chain-r1",
      "    ├─volumesnapshot/chain-s2",
      "    │ └─pvc/manual",
      "    └─pvc/chain-c1",
    ]);
    const viaKubectl = await kvol(["tree", "chain-r1", "-n", "chain"]);
    expect(viaKubectl.stdout.split("\n")[1]).toMatch(
      /^pvc\/chain-r1\s+volumesnapshot\/chain-s1\s+true\s+1Gi\s/,
    );
  });
});

describe("completion through kubectl's plugin protocol", () => {
  it("completes verbs, claim names, snapshot names and -o values, ending with the directive", async () => {
    const verbs = await runCommand(kubectlBin, ["__complete", "vol", ""], env);
    expect(verbs.stdout).toMatch(/^snapshot\t/m);
    expect(verbs.stdout).toMatch(/^tree\t/m);
    expect(verbs.stdout.trim().split("\n").at(-1)).toBe(":4");
    const pvcs = await runCommand(
      kubectlBin,
      ["__complete", "vol", "snapshot", "-n", "chain", "chain-"],
      env,
    );
    expect(pvcs.stdout.split("\n").filter((l) => !l.startsWith(":"))).toEqual(["chain-c1", "chain-r1", ""]);
    const snaps = await runCommand(
      kubectlBin,
      ["__complete", "vol", "restore", "--namespace=chain", ""],
      env,
    );
    expect(snaps.stdout).toMatch(/^chain-s1$/m);
    expect(snaps.stdout).toMatch(/^chain-s2$/m);
    const formats = await runCommand(path.join(dist, "kubectl_complete-vol"), ["list", "-o", ""], env);
    expect(formats.stdout).toBe("json\nyaml\nname\nwide\n:4\n");
  });

  it("completes through a link named kubectl_complete-vol to the executable, as a krew install makes", async () => {
    // krew links only kubectl-vol into its bin folder; the caveat in its manifest adds this link.
    const bin = path.join(cp.session.dir, "krew-bin");
    await mkdir(bin, { recursive: true });
    await symlink(path.join(dist, "kubectl-vol"), path.join(bin, "kubectl-vol"));
    await symlink("kubectl-vol", path.join(bin, "kubectl_complete-vol"));
    const krewEnv = { ...env, PATH: `${bin}:${path.dirname(kubectlBin)}` };
    const pvcs = await runCommand(
      kubectlBin,
      ["__complete", "vol", "snapshot", "-n", "chain", "chain-"],
      krewEnv,
    );
    expect(pvcs.stdout.split("\n").filter((l) => !l.startsWith(":"))).toEqual(["chain-c1", "chain-r1", ""]);
    expect(pvcs.stdout.trim().split("\n").at(-1)).toBe(":4");
  });
});

describe("tree after a claim in the middle of the lineage is deleted", () => {
  it("shows the deleted link and keeps what was made below it", async () => {
    await cp.kubectl([
      "patch",
      "pvc",
      "chain-r1",
      "-n",
      "chain",
      "--type=merge",
      "-p",
      JSON.stringify({ metadata: { finalizers: null } }),
    ]);
    await cp.kubectl(["delete", "pvc", "chain-r1", "-n", "chain", "--wait=true"]);
    const r = await vol(["tree", "db", "-n", "chain"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const width = lines[0]!.indexOf("SOURCE");
    expect(lines.map((l) => l.slice(0, width).trimEnd())).toEqual([
      "NAME",
      "pvc/db",
      "└─volumesnapshot/chain-s1",
      "  └─pvc/chain-r1 (deleted)",
      "    ├─volumesnapshot/chain-s2",
      "    │ └─pvc/manual",
      "    └─pvc/chain-c1",
    ]);
    const names = await vol(["list", "db", "-n", "chain", "-o", "name"]);
    expect(names.stdout).toContain("persistentvolumeclaim/chain-c1\n");
    expect(names.stdout).not.toContain("chain-r1");
  });
});

// The driver's node-side duties, in process on a temp data directory: registering with the
// kubelet over its plugin registration socket (called by a client built from the same proto, as
// the kubelet's plugin watcher calls it), /healthz and /readyz backed by the CSI Probe logic,
// Prometheus /metrics after real calls, the flags that turn these on, and the DaemonSet that
// passes them.
import { lstat, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { load as loadYaml } from "js-yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CONTROLLER_CAPS, NODE_CAPS, PLUGIN_EXPANSION } from "../../src/driver/capabilities.ts";
import { runDriverCli, VOL_CSI } from "../../src/driver/cli.ts";
import { parseListenAddress, startHealthServer } from "../../src/driver/health.ts";
import { CSI_PROTO, findProto, REGISTRATION_PROTO } from "../../src/driver/proto.ts";
import { registrationSocket, startRegistration } from "../../src/driver/registration.ts";
import { type RunningDriver, socketPathOf, startDriver } from "../../src/driver/server.ts";
import { parseFlags, renderUsage } from "../../src/kube/flags.ts";
import { createLogger, type Logger } from "../../src/kube/log.ts";
import { Counter, Histogram, Registry } from "../../src/kube/metrics.ts";
import { connectCsi, connectRegistration, MOUNT_CAP } from "../../src/localcluster/csi-client.ts";

let tmp: string;
let csiProto: string;
let regProto: string;

function capture(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  return {
    log: createLogger({ level: "debug", write: (l) => out.push(l) }),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "vol-driver-node-"));
  // npm test runs scripts/bins.sh first, which caches both protos.
  csiProto = findProto(CSI_PROTO);
  regProto = findProto(REGISTRATION_PROTO);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const HOST_SOCKET = "/var/lib/kubelet/plugins/vol.kubectl.io/csi.sock";
const regConfig = (dir: string, log = capture().log) => ({
  dir,
  driverName: "vol.kubectl.io",
  kubeletEndpoint: HOST_SOCKET,
  protoPath: regProto,
  log,
});

describe("plugin registration with the kubelet", () => {
  it("answers GetInfo with the CSI plugin's name, the host path of its socket and version 1.0.0", async () => {
    const dir = path.join(tmp, "registry-1");
    const c = capture();
    const reg = await startRegistration(regConfig(dir, c.log));
    expect(reg.socketPath).toBe(path.join(dir, "vol.kubectl.io-reg.sock"));
    expect((await lstat(reg.socketPath)).isSocket()).toBe(true);
    const kubelet = connectRegistration(reg.socketPath, regProto);
    try {
      expect(await kubelet.getInfo()).toEqual({
        type: "CSIPlugin",
        name: "vol.kubectl.io",
        endpoint: "/var/lib/kubelet/plugins/vol.kubectl.io/csi.sock",
        supported_versions: ["1.0.0"],
      });
      expect(reg.status().registered).toBeUndefined();
      expect(await kubelet.notify({ plugin_registered: true })).toEqual({});
      expect(reg.status()).toEqual({ registered: true });
      // A refusal is recorded and logged at error level with the kubelet's reason.
      await kubelet.notify({
        plugin_registered: false,
        error: "plugin vol.kubectl.io: version 9 unsupported",
      });
      expect(reg.status()).toEqual({
        registered: false,
        error: "plugin vol.kubectl.io: version 9 unsupported",
      });
      const refused = c.lines().find((l) => l.level === "error");
      expect(refused?.msg).toMatch(/refused the plugin registration/);
      expect(refused?.error).toBe("plugin vol.kubectl.io: version 9 unsupported");
    } finally {
      kubelet.close();
      await reg.stop();
    }
    await expect(lstat(reg.socketPath)).rejects.toThrow(/ENOENT/);
  });

  it("replaces a stale socket at start, so a restarted driver is seen as a new plugin", async () => {
    const dir = path.join(tmp, "registry-2");
    await mkdir(dir, { recursive: true });
    const sock = registrationSocket(dir, "vol.kubectl.io");
    // A socket left by a killed predecessor: bound, then its server gone.
    const stale = net.createServer().listen(sock);
    await new Promise((r) => stale.once("listening", r));
    const staleIno = (await stat(sock)).ino;
    stale.unref();
    const cfg = regConfig(dir);
    const first = await startRegistration(cfg);
    const firstIno = (await stat(sock)).ino;
    expect(firstIno).not.toBe(staleIno);
    await first.stop();
    const second = await startRegistration(cfg);
    const kubelet = connectRegistration(sock, regProto);
    try {
      expect((await kubelet.getInfo()).name).toBe("vol.kubectl.io");
    } finally {
      kubelet.close();
      await second.stop();
      stale.close();
    }
  });

  it("refuses to replace a file that is not a socket, and a relative kubelet path", async () => {
    const dir = path.join(tmp, "registry-3");
    await mkdir(dir, { recursive: true });
    await writeFile(registrationSocket(dir, "vol.kubectl.io"), "not a socket");
    const cfg = regConfig(dir);
    await expect(startRegistration(cfg)).rejects.toThrow(/is not a socket; refusing to replace it/);
    await expect(startRegistration({ ...cfg, kubeletEndpoint: "csi.sock" })).rejects.toThrow(
      /not an absolute path/,
    );
  });
});

describe("the driver's health endpoints and metrics", () => {
  let driver: RunningDriver | undefined;
  afterEach(async () => {
    await driver?.stop();
    driver = undefined;
  });

  const start = async (name: string, extra: Record<string, string> = {}) => {
    const c = capture();
    const dataDir = path.join(tmp, name, "data");
    driver = await startDriver(
      {
        endpoint: `unix://${path.join(tmp, name, "csi.sock")}`,
        driverName: "vol.kubectl.io",
        nodeId: "node-1",
        dataDir,
        maxVolumes: 0,
        csiProto,
        healthAddress: "127.0.0.1:0",
        shutdownGraceMs: 2000,
        ...extra,
      },
      { log: c.log },
    );
    const base = `http://127.0.0.1:${driver.health?.port}`;
    const get = async (p: string) => {
      const res = await fetch(base + p);
      return { code: res.status, body: await res.text(), type: res.headers.get("content-type") };
    };
    return { dataDir, get, logs: c.lines, socket: driver.socketPath };
  };

  it("answers /healthz 200 while Probe is ready and 500 with the reason once the data directory is gone", async () => {
    const d = await start("health");
    expect(await d.get("/healthz")).toMatchObject({ code: 200, body: "ok\n" });
    expect(await d.get("/readyz")).toMatchObject({ code: 200, body: "ok\n" });
    const csi = connectCsi(d.socket, csiProto);
    try {
      expect((await csi.call("Identity", "Probe")).ready).toEqual({ value: true });
      await rm(d.dataDir, { recursive: true, force: true });
      const broken = await d.get("/healthz");
      expect(broken.code).toBe(500);
      expect(broken.body).toContain(`data directory ${d.dataDir} is not writable (ENOENT)`);
      expect((await d.get("/readyz")).code).toBe(500);
      // The same verdict as the CSI Probe itself.
      expect((await csi.call("Identity", "Probe")).ready).toEqual({ value: false });
      expect(d.logs().some((l) => l.msg === "health check failed")).toBe(true);
    } finally {
      csi.close();
    }
    expect((await d.get("/nope")).code).toBe(404);
  });

  it("counts calls by method and code, times them, and reports volumes and the backend on /metrics", async () => {
    const d = await start("metrics");
    const csi = connectCsi(d.socket, csiProto);
    try {
      await csi.call("Identity", "Probe");
      await csi.call("Identity", "Probe");
      await csi.call("Controller", "CreateVolume", { name: "m1", volume_capabilities: [MOUNT_CAP] });
      expect(await csi.code("Controller", "DeleteVolume", { volume_id: "../x" })).toBe(
        status.INVALID_ARGUMENT,
      );
      expect(await csi.code("Controller", "ControllerExpandVolume", { volume_id: "vol-x" })).toBe(
        status.UNIMPLEMENTED,
      );
    } finally {
      csi.close();
    }
    const m = await d.get("/metrics");
    expect(m.code).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const line = (prefix: string) => m.body.split("\n").find((l) => l.startsWith(prefix));
    expect(line('vol_csi_rpc_total{service="Identity",method="Probe",code="OK"}')).toMatch(/ 2$/);
    expect(line('vol_csi_rpc_total{service="Controller",method="CreateVolume",code="OK"}')).toMatch(/ 1$/);
    expect(
      line('vol_csi_rpc_total{service="Controller",method="DeleteVolume",code="INVALID_ARGUMENT"}'),
    ).toMatch(/ 1$/);
    expect(
      line('vol_csi_rpc_total{service="Controller",method="ControllerExpandVolume",code="UNIMPLEMENTED"}'),
    ).toMatch(/ 1$/);
    expect(line('vol_csi_rpc_duration_seconds_count{service="Identity",method="Probe"}')).toMatch(/ 2$/);
    expect(line('vol_csi_rpc_duration_seconds_bucket{service="Identity",method="Probe",le="+Inf"}')).toMatch(
      / 2$/,
    );
    expect(line("vol_csi_rpc_in_flight ")).toBe("vol_csi_rpc_in_flight 0");
    expect(line('vol_csi_volumes{state="ready"}')).toBe('vol_csi_volumes{state="ready"} 1');
    expect(line('vol_csi_snapshots{state="ready"}')).toBe('vol_csi_snapshots{state="ready"} 0');
    expect(line("vol_csi_backend_info{")).toMatch(
      /^vol_csi_backend_info\{backend="(copy|reflink|btrfs)",enforces_size="(true|false)"\} 1$/,
    );
    // Not registering: no registration gauge series.
    expect(line("vol_csi_kubelet_registered ")).toBeUndefined();
  });

  it("registers when given a registration directory, reports it, and removes both sockets on stop", async () => {
    const regDir = path.join(tmp, "reg-driver", "registry");
    const d = await start("reg-driver", {
      registrationDir: regDir,
      kubeletRegistrationPath: "/var/lib/kubelet/plugins/vol.kubectl.io/csi.sock",
      registrationProto: regProto,
    });
    const sock = registrationSocket(regDir, "vol.kubectl.io");
    const kubelet = connectRegistration(sock, regProto);
    try {
      expect((await kubelet.getInfo()).endpoint).toBe("/var/lib/kubelet/plugins/vol.kubectl.io/csi.sock");
      await kubelet.notify({ plugin_registered: false, error: "no such driver" });
      const ready = await d.get("/readyz");
      expect(ready).toMatchObject({ code: 500 });
      expect(ready.body).toContain("the kubelet refused the plugin registration: no such driver");
      // Liveness stays with the Probe: a refused registration is not cured by a restart loop.
      expect((await d.get("/healthz")).code).toBe(200);
      expect((await d.get("/metrics")).body).toContain("\nvol_csi_kubelet_registered 0\n");
      await kubelet.notify({ plugin_registered: true });
      expect((await d.get("/readyz")).code).toBe(200);
      expect((await d.get("/metrics")).body).toContain("\nvol_csi_kubelet_registered 1\n");
    } finally {
      kubelet.close();
    }
    const running = driver;
    await running?.stop();
    await expect(lstat(sock)).rejects.toThrow(/ENOENT/);
    await expect(lstat(d.socket)).rejects.toThrow(/ENOENT/);
    await expect(fetch(`http://127.0.0.1:${running?.health?.port}/healthz`)).rejects.toThrow();
  });
});

describe("the health server on its own", () => {
  it("fails a check that hangs or throws, answers HEAD, refuses other methods", async () => {
    const c = capture();
    const h = await startHealthServer("127.0.0.1:0", {
      live: () => new Promise(() => {}),
      ready: async () => {
        throw new Error("store not loaded");
      },
      metrics: () => "m 1\n",
      log: c.log,
      checkTimeoutMs: 200,
    });
    const base = `http://127.0.0.1:${h.port}`;
    try {
      const slow = await fetch(`${base}/healthz`);
      expect(slow.status).toBe(500);
      expect(await slow.text()).toBe("the check did not answer within 200 ms\n");
      const thrown = await fetch(`${base}/readyz`);
      expect([thrown.status, await thrown.text()]).toEqual([500, "store not loaded\n"]);
      const head = await fetch(`${base}/metrics`, { method: "HEAD" });
      expect([head.status, await head.text()]).toEqual([200, ""]);
      const post = await fetch(`${base}/healthz`, { method: "POST" });
      expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    } finally {
      await h.stop();
    }
    const ok = async () => ({ ok: true, reason: "ok" });
    await expect(
      startHealthServer("127.0.0.1:x", { live: ok, ready: ok, metrics: () => "", log: c.log }),
    ).rejects.toThrow(/not host:port/);
  });
});

describe("expansion is a node call", () => {
  it("advertises node EXPAND_VOLUME and online expansion, not controller EXPAND_VOLUME", () => {
    expect(CONTROLLER_CAPS as readonly string[]).not.toContain("EXPAND_VOLUME");
    expect(NODE_CAPS as readonly string[]).toContain("EXPAND_VOLUME");
    expect(PLUGIN_EXPANSION).toBe("ONLINE");
  });
});

describe("flags", () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
  };

  it("parses the listen address forms the manifests use", () => {
    expect(parseListenAddress(":9808")).toEqual({ host: undefined, port: 9808 });
    expect(parseListenAddress("127.0.0.2:9808")).toEqual({ host: "127.0.0.2", port: 9808 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    for (const bad of ["9808", "127.0.0.2", "host:99999", ":x", "a b:1", ""])
      expect(() => parseListenAddress(bad), bad).toThrow(/not host:port/);
  });

  it("reports usage errors in one format with exit code 2, and help with 0", async () => {
    const cases: [string[], RegExp][] = [
      [["--frobnicate"], /^vol-csi: unknown flag: --frobnicate\nSee 'vol-csi --help'\.\n$/],
      [["--health-address=9808"], /^vol-csi: --health-address: health address "9808" is not host:port/],
      [["--registration-dir=/registration"], /needs --kubelet-registration-path/],
      [["--kubelet-registration-path=/x.sock"], /has no effect without --registration-dir/],
      [["--registration-dir=/r", "--kubelet-registration-path=x.sock"], /is not an absolute path/],
      [["--max-volumes=-1"], /--max-volumes -1 is not a whole number/],
      [["--log-level=loud"], /--log-level loud is not one of/],
      [["stray"], /unexpected argument "stray"/],
    ];
    for (const [argv, want] of cases) {
      const o = io();
      expect(await runDriverCli(argv, o.io), argv.join(" ")).toBe(2);
      expect(o.err.join(""), argv.join(" ")).toMatch(want);
      expect(o.err.join("")).toMatch(/\nSee 'vol-csi --help'\.\n$/);
    }
    const h = io();
    expect(await runDriverCli(["--help"], h.io)).toBe(0);
    expect(h.out.join("")).toContain("--kubelet-registration-path PATH");
    expect(h.out.join("")).toContain("--health-address HOST:PORT");
  });

  it("renders usage from the declarations and names how to run the command", () => {
    const spec = {
      name: "sanity",
      invocation: "npm run sanity --",
      synopsis: "[fs ...] [flags]",
      positionals: true,
      flags: { focus: { type: "string", arg: "REGEX", help: "only matching specs" } },
    } as const;
    expect(renderUsage(spec)).toMatch(/^Usage: npm run sanity -- \[fs \.\.\.\] \[flags\]\n/);
    expect(renderUsage(spec)).toMatch(/--focus REGEX {2,}only matching specs/);
    const o = io();
    const p = parseFlags(spec, ["--focus"], o.io);
    expect(p).toEqual({ ok: false, exitCode: 2 });
    expect(o.err.join("")).toMatch(/^sanity: .*--focus.*\nSee 'npm run sanity -- --help'\.\n$/);
    const ok = parseFlags(spec, ["btrfs", "--focus=Node"], o.io);
    expect(ok).toEqual({ ok: true, values: { focus: "Node" }, positionals: ["btrfs"] });
  });
});

describe("metrics primitives", () => {
  it("renders counters and histograms with escaped labels in the text format", () => {
    const r = new Registry();
    const c = r.add(new Counter("x_total", "X."));
    const h = r.add(new Histogram("x_seconds", "X time.", [0.1, 1]));
    c.inc({ path: 'a"b\\c\nd' });
    c.inc({ path: 'a"b\\c\nd' });
    h.observe({ m: "a" }, 0.05);
    h.observe({ m: "a" }, 0.5);
    h.observe({ m: "a" }, 5);
    expect(r.render()).toBe(
      [
        "# HELP x_total X.",
        "# TYPE x_total counter",
        'x_total{path="a\\"b\\\\c\\nd"} 2',
        "# HELP x_seconds X time.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{m="a",le="0.1"} 1',
        'x_seconds_bucket{m="a",le="1"} 2',
        'x_seconds_bucket{m="a",le="+Inf"} 3',
        'x_seconds_sum{m="a"} 5.55',
        'x_seconds_count{m="a"} 3',
        "",
      ].join("\n"),
    );
  });
});

describe("the node DaemonSet as shipped", () => {
  interface Container {
    name: string;
    args?: string[];
    ports?: { name: string; containerPort: number }[];
    livenessProbe?: { httpGet?: { path: string; port: string } };
    readinessProbe?: { httpGet?: { path: string; port: string } };
    volumeMounts?: { name: string; mountPath: string }[];
  }
  interface DaemonSet {
    spec: {
      template: {
        spec: {
          containers: Container[];
          volumes: { name: string; hostPath?: { path: string; type?: string } }[];
        };
      };
    };
  }

  it("runs vol-csi with flags it accepts, registering the socket the kubelet can reach and probing its own /healthz", async () => {
    const ds = loadYaml(
      await readFile(path.join(import.meta.dirname, "../../manifests/base/node-daemonset.yaml"), "utf8"),
    ) as DaemonSet;
    const pod = ds.spec.template.spec;
    const names = pod.containers.map((c) => c.name);
    expect(names).not.toContain("node-driver-registrar");
    expect(names).not.toContain("liveness-probe");
    const csi = pod.containers.find((c) => c.name === "vol-csi") as Container;
    const args = (csi.args ?? []).map((a) =>
      a.replace("$(NODE_NAME)", "node-1").replace("$(POD_IP)", "10.0.0.7"),
    );
    const p = parseFlags(VOL_CSI, args);
    if (!p.ok) throw new Error(`the DaemonSet's vol-csi args do not parse: ${args.join(" ")}`);
    const hostOf = (mountPath: string) => {
      const m = csi.volumeMounts?.find(
        (v) => mountPath === v.mountPath || mountPath.startsWith(`${v.mountPath}/`),
      );
      const vol = pod.volumes.find((v) => v.name === m?.name);
      return vol?.hostPath
        ? path.join(vol.hostPath.path, path.relative(m?.mountPath ?? "/", mountPath))
        : undefined;
    };
    // The path told to the kubelet is where the CSI socket really is on the host.
    expect(hostOf(socketPathOf(p.values.endpoint))).toBe(p.values["kubelet-registration-path"]);
    // The registration socket lands in the kubelet's plugin registry.
    expect(hostOf(p.values["registration-dir"] as string)).toBe("/var/lib/kubelet/plugins_registry");
    expect(pod.volumes.find((v) => v.name === "registration-dir")?.hostPath?.type).toBe("DirectoryOrCreate");
    // Both probes hit the driver's own port.
    const port = parseListenAddress(p.values["health-address"] as string).port;
    const named = csi.ports?.find((x) => x.name === csi.livenessProbe?.httpGet?.port);
    expect(named?.containerPort).toBe(port);
    expect(csi.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(csi.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: named?.name });
  });
});

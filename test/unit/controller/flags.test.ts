// vol-controller's flags through src/kube/flags.ts: every flag in the help with its text, each
// value into the options, each usage error in the one format with exit code 2 (from main, which
// stops there before touching the network).
import { describe, expect, it } from "vitest";
import { controllerOptions } from "../../../src/controller/flags.ts";
import { main } from "../../../src/controller/main.ts";

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
};

describe("vol-controller flags", () => {
  it("prints every flag with its help, exit 0", async () => {
    const h = io();
    expect(await main(["--help"], h.io)).toBe(0);
    const text = h.out.join("");
    expect(text).toMatch(/^Usage: vol-controller \[flags\]\n/);
    for (const line of [
      "--kubeconfig FILE  +default: \\$KUBECONFIG, ~/.kube/config, else in-cluster",
      "--context NAME  +kubeconfig context",
      "--bind-address ADDR  +default 0.0.0.0",
      "--port N  +default 8080 \\(0: any free port\\)",
      "--leader-elect true\\|false  +default true",
      "--leader-election-namespace NS  +the Lease's namespace \\(default \\$POD_NAMESPACE, else vol-system\\)",
      "--leader-election-name NAME  +the Lease's name \\(default vol-controller\\)",
      "--leader-election-id ID  +this replica's identity \\(default <hostname>_<random>\\)",
      "--lease-duration D  +default 15s",
      "--renew-deadline D  +default 10s",
      "--retry-period D  +default 2s",
      "--resync-period D  +a pass over every schedule at least this often \\(default 30s\\)",
      "--min-interval D  +the shortest spec.every accepted \\(default 1m\\)",
      "--log-level LEVEL  +debug \\| info \\| warn \\| error \\(default info\\)",
      "-h, --help  +show this help",
    ])
      expect(text).toMatch(new RegExp(`\\n {2,}${line}\\n`));
    expect(text).toContain("Durations are numbers with units s, m, h, d");
    expect(h.err).toEqual([]);
  });

  it("takes the defaults, and every flag's value", () => {
    const env = process.env.POD_NAMESPACE;
    delete process.env.POD_NAMESPACE;
    try {
      expect(controllerOptions([])).toEqual({
        ok: true,
        options: {
          kubeconfig: undefined,
          context: undefined,
          bindAddress: "0.0.0.0",
          port: 8080,
          leaderElect: true,
          leaseNamespace: "vol-system",
          leaseName: "vol-controller",
          identity: undefined,
          leaseMs: 15_000,
          renewMs: 10_000,
          retryMs: 2_000,
          resyncMs: 30_000,
          minIntervalMs: 60_000,
          level: "info",
        },
      });
      process.env.POD_NAMESPACE = "ops";
      expect(controllerOptions([])).toMatchObject({ options: { leaseNamespace: "ops" } });
    } finally {
      if (env === undefined) delete process.env.POD_NAMESPACE;
      else process.env.POD_NAMESPACE = env;
    }
    const all = controllerOptions([
      "--kubeconfig=/k",
      "--context",
      "c",
      "--bind-address=127.0.0.1",
      "--port=0",
      "--leader-elect=false",
      "--leader-election-namespace=ns",
      "--leader-election-name=n",
      "--leader-election-id=me",
      "--lease-duration=3s",
      "--renew-deadline=2s",
      "--retry-period=1s",
      "--resync-period=1m30s",
      "--min-interval=1s",
      "--log-level=debug",
    ]);
    expect(all).toEqual({
      ok: true,
      options: {
        kubeconfig: "/k",
        context: "c",
        bindAddress: "127.0.0.1",
        port: 0,
        leaderElect: false,
        leaseNamespace: "ns",
        leaseName: "n",
        identity: "me",
        leaseMs: 3000,
        renewMs: 2000,
        retryMs: 1000,
        resyncMs: 90_000,
        minIntervalMs: 1000,
        level: "debug",
      },
    });
  });

  it("reports each usage error in one format, exit 2", async () => {
    const cases: [string[], string][] = [
      [["--frobnicate"], "unknown flag: --frobnicate"],
      [["stray"], 'unexpected argument "stray": this command takes flags only'],
      [["--port=x"], "--port x is not a port number"],
      [["--port=65536"], "--port 65536 is not a port number"],
      [["--leader-elect=yes"], "--leader-elect yes must be true or false"],
      [["--log-level=loud"], "--log-level loud is not one of debug, info, warn, error"],
      [["--lease-duration=500ms"], "--lease-duration 500ms is not a duration such as 10s or 1m"],
      [["--renew-deadline=soon"], "--renew-deadline soon is not a duration such as 10s or 1m"],
      [["--retry-period=0s"], "--retry-period 0s is not a duration such as 10s or 1m"],
      [["--resync-period="], "--resync-period  is not a duration such as 10s or 1m"],
      [["--min-interval=1"], "--min-interval 1 is not a duration such as 10s or 1m"],
      [["--retry-period=10s"], "need --retry-period < --renew-deadline < --lease-duration"],
      [["--renew-deadline=15s"], "need --retry-period < --renew-deadline < --lease-duration"],
    ];
    for (const [argv, message] of cases) {
      const o = io();
      expect(await main(argv, o.io), argv.join(" ")).toBe(2);
      expect(o.err.join(""), argv.join(" ")).toBe(
        `vol-controller: ${message}\nSee 'vol-controller --help'.\n`,
      );
      expect(o.out).toEqual([]);
    }
  });
});

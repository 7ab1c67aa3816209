// vol-webhook's flags through src/kube/flags.ts: every flag in the help with its text, each value
// into the options, each usage error in the one format with exit code 2 (from main, which stops
// there before reading a certificate or the kubeconfig).
import { describe, expect, it } from "vitest";
import { webhookOptions } from "../../../src/webhook/flags.ts";
import { main } from "../../../src/webhook/main.ts";

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
};
const TLS = ["--tls-cert-file=/c.pem", "--tls-private-key-file=/k.pem"];

describe("vol-webhook flags", () => {
  it("prints every flag with its help, exit 0", async () => {
    const h = io();
    expect(await main(["--help"], h.io)).toBe(0);
    const text = h.out.join("");
    expect(text).toMatch(/^Usage: vol-webhook --tls-cert-file FILE --tls-private-key-file FILE \[flags\]\n/);
    for (const line of [
      "--tls-cert-file FILE  +serving certificate \\(PEM\\)",
      "--tls-private-key-file FILE  +its private key \\(PEM\\)",
      "--bind-address ADDR  +default 0.0.0.0",
      "--port N  +default 8443",
      "--kubeconfig FILE  +default: \\$KUBECONFIG, ~/.kube/config, else in-cluster",
      "--context NAME  +kubeconfig context",
      "--log-level LEVEL  +debug \\| info \\| warn \\| error \\(default info\\)",
      "-h, --help  +show this help",
    ])
      expect(text).toMatch(new RegExp(`\\n {2,}${line}\\n`));
    expect(text).toContain("POST /mutate and /validate (AdmissionReview v1)");
  });

  it("takes the defaults, and every flag's value", () => {
    expect(webhookOptions(TLS)).toEqual({
      ok: true,
      options: {
        certFile: "/c.pem",
        keyFile: "/k.pem",
        bindAddress: "0.0.0.0",
        port: 8443,
        kubeconfig: undefined,
        context: undefined,
        level: "info",
      },
    });
    const all = webhookOptions([
      ...TLS,
      "--bind-address=127.0.0.1",
      "--port",
      "9443",
      "--kubeconfig=/k",
      "--context=c",
      "--log-level=warn",
    ]);
    expect(all).toMatchObject({
      ok: true,
      options: { bindAddress: "127.0.0.1", port: 9443, kubeconfig: "/k", context: "c", level: "warn" },
    });
  });

  it("reports each usage error in one format, exit 2", async () => {
    const cases: [string[], string][] = [
      [[], "--tls-cert-file and --tls-private-key-file are required"],
      [["--tls-cert-file=/c.pem"], "--tls-cert-file and --tls-private-key-file are required"],
      [["--frobnicate", ...TLS], "unknown flag: --frobnicate"],
      [[...TLS, "stray"], 'unexpected argument "stray": this command takes flags only'],
      [[...TLS, "--port=x"], "--port x is not a port number"],
      [[...TLS, "--port=70000"], "--port 70000 is not a port number"],
      [[...TLS, "--log-level=loud"], "--log-level loud is not one of debug, info, warn, error"],
    ];
    for (const [argv, message] of cases) {
      const o = io();
      expect(await main(argv, o.io), argv.join(" ")).toBe(2);
      expect(o.err.join(""), argv.join(" ")).toBe(`vol-webhook: ${message}\nSee 'vol-webhook --help'.\n`);
      expect(o.out).toEqual([]);
    }
  });
});

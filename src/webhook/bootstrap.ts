// `vol-webhook bootstrap-certs`: the self-signed certificate bootstrap (manifests/overlays/self-signed).
// Run as an init container of each webhook pod: takes the serving certificate from a Secret,
// making a CA and the certificate first when the Secret does not exist (replicas racing to
// create it all end up with the one that won), writes tls.crt and tls.key into a folder the
// server container reads, and writes the CA into the caBundle of our webhook configurations.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Secret,
} from "@kubernetes/client-node";
import { writeFileAtomic } from "../kube/atomic-file.ts";
import { apiMessage, loadKubeConfig, statusCode } from "../kube/client.ts";
import { issueServing, makeCA } from "./selfsigned.ts";

export interface BootstrapOptions {
  namespace: string;
  secret: string;
  service: string;
  /** Name of both the Mutating- and the ValidatingWebhookConfiguration. */
  webhookConfiguration: string;
  outDir: string;
  now?: Date;
}

const CA_NAME = "kubectl-vol webhook CA";
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** The DNS names the API server may use to reach the Service. */
export function serviceNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/** A new Secret holding a fresh CA (its certificate only) and a serving certificate it signed. */
export function newTlsSecret(o: BootstrapOptions): V1Secret {
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000);
  const ca = makeCA(CA_NAME, notBefore, new Date(now.getTime() + 10 * YEAR_MS));
  const serving = issueServing(
    { ...ca, commonName: CA_NAME },
    {
      commonName: `${o.service}.${o.namespace}.svc`,
      dnsNames: serviceNames(o.service, o.namespace),
      notBefore,
      notAfter: new Date(now.getTime() + 5 * YEAR_MS),
    },
  );
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: o.secret,
      namespace: o.namespace,
      labels: {
        "app.kubernetes.io/part-of": "kubectl-vol",
        "app.kubernetes.io/managed-by": "vol-webhook-bootstrap",
      },
    },
    data: { "tls.crt": b64(serving.certPem), "tls.key": b64(serving.keyPem), "ca.crt": b64(ca.certPem) },
  };
}

export interface BootstrapResult {
  created: boolean;
  caBundle: string;
  patched: string[];
}

export async function bootstrapCerts(kc: KubeConfig, o: BootstrapOptions): Promise<BootstrapResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  let created = false;
  let secret: V1Secret;
  try {
    secret = await core.readNamespacedSecret({ namespace: o.namespace, name: o.secret });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    try {
      secret = await core.createNamespacedSecret({ namespace: o.namespace, body: newTlsSecret(o) });
      created = true;
    } catch (e) {
      if (statusCode(e) !== 409) throw e;
      secret = await core.readNamespacedSecret({ namespace: o.namespace, name: o.secret });
    }
  }
  const field = (k: string) => {
    const v = secret.data?.[k];
    if (!v)
      throw new Error(
        `Secret "${o.secret}" in namespace "${o.namespace}" has no ${k}: delete it to have a new one made`,
      );
    return Buffer.from(v, "base64").toString("utf8");
  };
  const caPem = field("ca.crt");
  await mkdir(o.outDir, { recursive: true });
  await writeFileAtomic(path.join(o.outDir, "tls.crt"), field("tls.crt"), { mode: 0o644 });
  await writeFileAtomic(path.join(o.outDir, "tls.key"), field("tls.key"), { mode: 0o600 });

  const caBundle = Buffer.from(caPem).toString("base64");
  const patched: string[] = [];
  const kinds = [
    {
      kind: "MutatingWebhookConfiguration",
      read: () => admission.readMutatingWebhookConfiguration({ name: o.webhookConfiguration }),
      // biome-ignore lint/suspicious/noExplicitAny: the two configuration kinds share this shape
      replace: (body: any) =>
        admission.replaceMutatingWebhookConfiguration({ name: o.webhookConfiguration, body }),
    },
    {
      kind: "ValidatingWebhookConfiguration",
      read: () => admission.readValidatingWebhookConfiguration({ name: o.webhookConfiguration }),
      // biome-ignore lint/suspicious/noExplicitAny: the two configuration kinds share this shape
      replace: (body: any) =>
        admission.replaceValidatingWebhookConfiguration({ name: o.webhookConfiguration, body }),
    },
  ];
  for (const k of kinds) {
    for (let attempt = 0; ; attempt++) {
      const cfg = await k.read();
      const hooks = cfg.webhooks ?? [];
      if (hooks.every((w) => w.clientConfig.caBundle === caBundle)) break;
      for (const w of hooks) w.clientConfig.caBundle = caBundle;
      try {
        await k.replace(cfg);
        patched.push(`${k.kind}/${o.webhookConfiguration}`);
        break;
      } catch (err) {
        if (statusCode(err) !== 409 || attempt >= 5) throw err;
      }
    }
  }
  return { created, caBundle, patched };
}

const USAGE = `Usage: vol-webhook bootstrap-certs --namespace NS --secret NAME --service NAME --webhook-configuration NAME --out-dir DIR [--kubeconfig FILE]

Takes the webhook's serving certificate from the Secret (making a CA and the certificate when the
Secret does not exist), writes tls.crt and tls.key into --out-dir, and writes the CA into the
caBundle of the Mutating- and ValidatingWebhookConfiguration named --webhook-configuration.
`;

export async function runBootstrapCli(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        namespace: { type: "string" },
        secret: { type: "string" },
        service: { type: "string" },
        "webhook-configuration": { type: "string" },
        "out-dir": { type: "string" },
        kubeconfig: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`vol-webhook bootstrap-certs: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const missing = ["namespace", "secret", "service", "webhook-configuration", "out-dir"].filter(
    (k) => !values[k],
  );
  if (missing.length > 0) {
    process.stderr.write(
      `vol-webhook bootstrap-certs: missing ${missing.map((m) => `--${m}`).join(", ")}\n${USAGE}`,
    );
    return 2;
  }
  const o: BootstrapOptions = {
    namespace: String(values.namespace),
    secret: String(values.secret),
    service: String(values.service),
    webhookConfiguration: String(values["webhook-configuration"]),
    outDir: String(values["out-dir"]),
  };
  try {
    const kc = loadKubeConfig({ kubeconfig: values.kubeconfig as string | undefined });
    const r = await bootstrapCerts(kc, o);
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: "info", msg: "certificates ready", secret: `${o.namespace}/${o.secret}`, created: r.created, patched: r.patched })}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "bootstrap-certs failed", error: apiMessage(err) })}\n`,
    );
    return 1;
  }
}

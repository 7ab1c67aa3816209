// `vol-webhook bootstrap-certs`: the self-signed certificate bootstrap (manifests/overlays/self-signed).
// Run as an init container of each webhook pod: takes the serving certificate from a Secret,
// making a CA and the certificate first when the Secret does not exist (replicas racing to
// create it all end up with the one that won), renews the certificate from the CA's key (kept in
// the Secret) when it nears its end, writes tls.crt and tls.key durably into a folder the server
// container reads, and writes the CA into the caBundle of our webhook configurations.
import { X509Certificate } from "node:crypto";
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
import { createLogger } from "../kube/log.ts";
import { type Issued, issueServing, makeCA } from "./selfsigned.ts";

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
const CA_LIFE_MS = 10 * YEAR_MS;
const SERVING_LIFE_MS = 5 * YEAR_MS;

/** The DNS names the API server may use to reach the Service. */
export function serviceNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/** What the Secret holds (PEM): the serving pair, the CA bundle to trust, and the CA's own pair. */
export interface TlsMaterial {
  "tls.crt": string;
  "tls.key": string;
  /** The current CA, followed by an older one while certificates it signed may still be served. */
  "ca.crt": string;
  /** The current CA's key: what renews the serving certificate. */
  "ca.key": string;
}

function newServing(ca: Issued, o: BootstrapOptions, now: Date): Issued {
  return issueServing(
    { ...ca, commonName: CA_NAME },
    {
      commonName: `${o.service}.${o.namespace}.svc`,
      dnsNames: serviceNames(o.service, o.namespace),
      notBefore: new Date(now.getTime() - 3600_000),
      notAfter: new Date(now.getTime() + SERVING_LIFE_MS),
    },
  );
}

/** A fresh CA and a serving certificate it signed. */
export function newTlsMaterial(o: BootstrapOptions, now = o.now ?? new Date()): TlsMaterial {
  const ca = makeCA(CA_NAME, new Date(now.getTime() - 3600_000), new Date(now.getTime() + CA_LIFE_MS));
  const serving = newServing(ca, o, now);
  return { "tls.crt": serving.certPem, "tls.key": serving.keyPem, "ca.crt": ca.certPem, "ca.key": ca.keyPem };
}

/** True when less than a third of the certificate's life is left (cert-manager's default too). */
export function nearsExpiry(certPem: string, now: Date): boolean {
  const c = new X509Certificate(certPem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return now.getTime() > to - (to - from) / 3;
}

/** The certificates of a PEM bundle. */
function certificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * What the Secret should hold now: `current` as it is while its serving certificate has life in
 * it; else a serving certificate renewed from the CA's key. Without that key (a Secret made before
 * it was kept) or with the CA near its own end, a new CA signs it, and the bundle keeps the old CA
 * as long as it is valid, so pods still serving the old certificate stay trusted. `undefined`: no
 * change.
 */
export function renewed(
  current: TlsMaterial,
  o: BootstrapOptions,
  now = o.now ?? new Date(),
): TlsMaterial | undefined {
  if (!nearsExpiry(current["tls.crt"], now)) return undefined;
  const [caCert] = certificates(current["ca.crt"]);
  if (current["ca.key"] && caCert && !nearsExpiry(caCert, now)) {
    const serving = newServing({ certPem: caCert, keyPem: current["ca.key"] }, o, now);
    return { ...current, "tls.crt": serving.certPem, "tls.key": serving.keyPem };
  }
  const fresh = newTlsMaterial(o, now);
  const stillValid = certificates(current["ca.crt"]).filter(
    (c) => Date.parse(new X509Certificate(c).validTo) > now.getTime(),
  );
  return { ...fresh, "ca.crt": [fresh["ca.crt"], ...stillValid.slice(0, 1)].join("") };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

function secretOf(o: BootstrapOptions, m: TlsMaterial, base?: V1Secret): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      ...base?.metadata,
      name: o.secret,
      namespace: o.namespace,
      labels: {
        ...base?.metadata?.labels,
        "app.kubernetes.io/part-of": "kubectl-vol",
        "app.kubernetes.io/managed-by": "vol-webhook-bootstrap",
      },
    },
    data: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, b64(v)])),
  };
}

/** A new Secret holding a fresh CA (with its key) and a serving certificate it signed. */
export function newTlsSecret(o: BootstrapOptions): V1Secret {
  return secretOf(o, newTlsMaterial(o));
}

export interface BootstrapResult {
  created: boolean;
  /** The serving certificate was renewed (it neared its end). */
  renewed: boolean;
  caBundle: string;
  patched: string[];
}

export async function bootstrapCerts(kc: KubeConfig, o: BootstrapOptions): Promise<BootstrapResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const now = o.now ?? new Date();
  let created = false;
  let renewedNow = false;
  let secret: V1Secret;
  const read = () => core.readNamespacedSecret({ namespace: o.namespace, name: o.secret });
  try {
    secret = await read();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    try {
      secret = await core.createNamespacedSecret({
        namespace: o.namespace,
        body: newTlsSecret({ ...o, now }),
      });
      created = true;
    } catch (e) {
      if (statusCode(e) !== 409) throw e;
      secret = await read();
    }
  }
  const text = (s: V1Secret, k: keyof TlsMaterial) => {
    const v = s.data?.[k];
    return v ? Buffer.from(v, "base64").toString("utf8") : "";
  };
  const field = (k: keyof TlsMaterial) => {
    const v = text(secret, k);
    if (!v)
      throw new Error(
        `Secret "${o.secret}" in namespace "${o.namespace}" has no ${k}: delete it to have a new one made`,
      );
    return v;
  };
  const current: TlsMaterial = {
    "tls.crt": field("tls.crt"),
    "tls.key": field("tls.key"),
    "ca.crt": field("ca.crt"),
    "ca.key": text(secret, "ca.key"),
  };
  const next = renewed(current, o, now);
  if (next) {
    // Written with the resourceVersion read: when another replica renewed first, take its Secret.
    try {
      secret = await core.replaceNamespacedSecret({
        namespace: o.namespace,
        name: o.secret,
        body: secretOf(o, next, secret),
      });
      renewedNow = true;
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      secret = await read();
    }
  }
  const caPem = field("ca.crt");
  await mkdir(o.outDir, { recursive: true });
  await writeFileAtomic(path.join(o.outDir, "tls.key"), field("tls.key"), { mode: 0o600 });
  await writeFileAtomic(path.join(o.outDir, "tls.crt"), field("tls.crt"), { mode: 0o644 });

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
  return { created, renewed: renewedNow, caBundle, patched };
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
  const log = createLogger({ base: { component: "vol-webhook" }, write: (l) => process.stdout.write(l) });
  try {
    const kc = loadKubeConfig({ kubeconfig: values.kubeconfig as string | undefined });
    const r = await bootstrapCerts(kc, o);
    log.info("certificates ready", {
      secret: `${o.namespace}/${o.secret}`,
      created: r.created,
      renewed: r.renewed,
      patched: r.patched,
    });
    return 0;
  } catch (err) {
    createLogger({ base: { component: "vol-webhook" }, write: (l) => process.stderr.write(l) }).error(
      "bootstrap-certs failed",
      { error: apiMessage(err) },
    );
    return 1;
  }
}

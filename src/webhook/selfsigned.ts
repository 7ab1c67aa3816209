// Self-signed certificates for the webhook's bootstrap, made with Node's crypto alone (the
// container has no openssl): a CA and a serving certificate signed by it, ECDSA P-256 with
// SHA-256, encoded as DER by the few ASN.1 rules X.509 needs. Pure apart from key generation
// and randomness.
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

// --- DER ---------------------------------------------------------------------------------
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Buffer) => tlv(0xa0 | n, body);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));

function uint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [(parts[0] ?? 0) * 40 + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = p >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDhhmmss
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`));
}

// --- X.509 -------------------------------------------------------------------------------
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

export interface Issued {
  certPem: string;
  keyPem: string;
}

export interface CertSpec {
  commonName: string;
  /** DNS names (subjectAltName); required for a serving certificate. */
  dnsNames?: string[];
  isCA?: boolean;
  notBefore: Date;
  notAfter: Date;
}

function pem(label: string, der: Buffer): string {
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function certificate(spec: CertSpec, subjectKey: KeyObject, issuer: { cn: string; key: KeyObject }): Buffer {
  const spki = subjectKey.export({ type: "spki", format: "der" });
  const exts: Buffer[] = [];
  if (spec.isCA) {
    exts.push(ext("2.5.29.19", true, seq(bool(true))));
    // keyCertSign | cRLSign
    exts.push(ext("2.5.29.15", true, tlv(0x03, Buffer.from([1, 0x06]))));
  } else {
    exts.push(ext("2.5.29.19", true, seq()));
    // digitalSignature
    exts.push(ext("2.5.29.15", true, tlv(0x03, Buffer.from([7, 0x80]))));
    exts.push(ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))));
  }
  if (spec.dnsNames?.length) {
    exts.push(ext("2.5.29.17", false, seq(...spec.dnsNames.map((d) => tlv(0x82, Buffer.from(d, "ascii"))))));
  }
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(issuer.cn),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.commonName),
    Buffer.from(spki),
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, { key: issuer.key, dsaEncoding: "der" });
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

function newKey(): { priv: KeyObject; pub: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { priv: privateKey, pub: publicKey };
}

const keyPem = (k: KeyObject) => String(k.export({ type: "pkcs8", format: "pem" }));

/** A self-signed CA. */
export function makeCA(commonName: string, notBefore: Date, notAfter: Date): Issued {
  const k = newKey();
  const der = certificate({ commonName, isCA: true, notBefore, notAfter }, k.pub, {
    cn: commonName,
    key: k.priv,
  });
  return { certPem: pem("CERTIFICATE", der), keyPem: keyPem(k.priv) };
}

/** A serving certificate for `dnsNames`, signed by `ca`. */
export function issueServing(ca: Issued & { commonName: string }, spec: Omit<CertSpec, "isCA">): Issued {
  const k = newKey();
  const der = certificate({ ...spec, isCA: false }, k.pub, {
    cn: ca.commonName,
    key: createPrivateKey(ca.keyPem),
  });
  return { certPem: pem("CERTIFICATE", der), keyPem: keyPem(k.priv) };
}

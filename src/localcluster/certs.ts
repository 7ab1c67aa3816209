// Certificates for a throwaway control plane or webhook, made with the openssl command.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`);
  });
}

export interface CertFiles {
  cert: string;
  key: string;
}

export interface CA extends CertFiles {
  dir: string;
  /** Issues a certificate signed by this CA. `sans` are `DNS:x` / `IP:y` entries. */
  issue(
    name: string,
    opts: { cn: string; org?: string; sans?: string[]; client?: boolean },
  ): Promise<CertFiles>;
  pem(): Promise<string>;
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function createCA(dir: string, cn = "kubectl-vol test CA"): Promise<CA> {
  const cert = path.join(dir, "ca.crt");
  const key = path.join(dir, "ca.key");
  await openssl(
    ["req", "-x509", ...ecKey, "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${cn}`],
    dir,
  );
  return {
    dir,
    cert,
    key,
    pem: () => readFile(cert, "utf8"),
    async issue(name, { cn: subjectCn, org, sans = [], client = false }) {
      const out = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
      const csr = path.join(dir, `${name}.csr`);
      const ext = path.join(dir, `${name}.ext`);
      const subj = `${org ? `/O=${org}` : ""}/CN=${subjectCn}`;
      await openssl(["req", "-new", ...ecKey, "-keyout", out.key, "-out", csr, "-subj", subj], dir);
      const lines = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage=${client ? "clientAuth" : "serverAuth,clientAuth"}`,
      ];
      if (sans.length > 0) lines.push(`subjectAltName=${sans.join(",")}`);
      await writeFile(ext, `${lines.join("\n")}\n`);
      await openssl(
        [
          "x509",
          "-req",
          "-in",
          csr,
          "-CA",
          cert,
          "-CAkey",
          key,
          "-set_serial",
          `0x${randomBytes(12).toString("hex")}`,
          "-out",
          out.cert,
          "-days",
          "2",
          "-extfile",
          ext,
        ],
        dir,
      );
      return out;
    },
  };
}

/** A key pair for signing service-account tokens. */
export async function createKeyPair(dir: string, name: string): Promise<{ priv: string; pub: string }> {
  const priv = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", priv], dir);
  await openssl(["ec", "-in", priv, "-pubout", "-out", pub], dir);
  return { priv, pub };
}

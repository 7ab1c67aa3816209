// The serving certificate: read from files, and reloaded when either file changes (a rotated
// Secret, cert-manager renewal) without a restart. A bad pair is refused and the old one kept.
import { readFileSync, type StatWatcher, unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:https";
import { createSecureContext } from "node:tls";
import { errorMessage, type Logger } from "../kube/log.ts";

/** The TLS floor, for the server and for every reloaded context (Node's own default may be lowered). */
export const MIN_TLS_VERSION = "TLSv1.2";

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** Reads and checks a certificate/key pair; throws a message naming the files. */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  let pair: KeyPair;
  try {
    pair = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (err) {
    throw new Error(`cannot read the serving certificate ${certFile} / key ${keyFile}: ${errorMessage(err)}`);
  }
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(
      `the serving certificate ${certFile} and key ${keyFile} are not a valid pair: ${errorMessage(err)}`,
    );
  }
  return pair;
}

export interface CertReloader {
  /** Checks the files now (also runs on every change the poller sees). */
  reload(): boolean;
  close(): void;
}

/** Watches both files (by polling their stat, which also sees Secret volume symlink swaps). */
export function reloadCertificates(
  server: Server,
  certFile: string,
  keyFile: string,
  log: Logger,
  intervalMs = 1000,
): CertReloader {
  let current = readKeyPair(certFile, keyFile);
  const reload = () => {
    let next: KeyPair;
    try {
      next = readKeyPair(certFile, keyFile);
    } catch (err) {
      log.warn("serving certificate not reloaded; keeping the current one", { error: errorMessage(err) });
      return false;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return false;
    server.setSecureContext({ ...next, minVersion: MIN_TLS_VERSION });
    current = next;
    log.info("serving certificate reloaded", { certFile });
    return true;
  };
  const listener = () => {
    reload();
  };
  const watchers: StatWatcher[] = [certFile, keyFile].map((f) =>
    watchFile(f, { interval: intervalMs }, listener),
  );
  for (const w of watchers) w.unref();
  return {
    reload,
    close() {
      unwatchFile(certFile, listener);
      unwatchFile(keyFile, listener);
    },
  };
}

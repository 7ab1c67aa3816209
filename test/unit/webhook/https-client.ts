// A small HTTPS client for the webhook tests and the benchmark: keep-alive, raw status + body.
import https from "node:https";

export interface Answer {
  code: number;
  body: string;
}

export function post(
  agent: https.Agent,
  url: string,
  body: string | Buffer,
  contentType = "application/json",
  method = "POST",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, agent, headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The subject CN of the certificate a TLS server presents. */
export function servedCommonName(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: false }, (res) => {
      const cert = (res.socket as import("node:tls").TLSSocket).getPeerCertificate();
      res.resume();
      resolve(String(cert.subject?.CN ?? ""));
    });
    req.on("error", reject);
  });
}

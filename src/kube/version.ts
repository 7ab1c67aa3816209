// The version of kubectl-vol. The build writes it into every bundle (scripts/build.ts defines
// __KUBECTL_VOL_VERSION__); run from source, it is read from package.json beside src/.
import { readFileSync } from "node:fs";
import path from "node:path";

declare const __KUBECTL_VOL_VERSION__: string | undefined;

function fromPackage(): string {
  const file = path.join(import.meta.dirname, "../../package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/** kubectl-vol's version, e.g. "0.1.0". */
export const VERSION: string =
  typeof __KUBECTL_VOL_VERSION__ === "string" ? __KUBECTL_VOL_VERSION__ : fromPackage();

// CSI Identity service: who the plugin is, what it offers, whether it is ready. The readiness
// check (with its reason) also answers the driver's /healthz.
import { access, constants } from "node:fs/promises";
import { PLUGIN_EXPANSION, PLUGIN_SERVICES } from "./capabilities.ts";
import type { Check } from "./health.ts";
import type { Service } from "./rpc.ts";

export interface IdentityDeps {
  driverName: string;
  version: string;
  dataDir: string;
  /** False until the store is loaded and reconciled, and again while stopping. */
  ready: () => boolean;
}

/** The CSI rule for plugin names (at most 63 characters, DNS-like). */
export const DRIVER_NAME = /^[a-zA-Z][A-Za-z0-9.\-_]{0,61}[a-zA-Z]$/;

/** What Probe answers: serving, and the data directory writable. */
export function probeCheck(d: IdentityDeps): () => Promise<Check> {
  return async () => {
    if (!d.ready()) return { ok: false, reason: "the driver is starting or stopping" };
    try {
      await access(d.dataDir, constants.W_OK);
      return { ok: true, reason: "ok" };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { ok: false, reason: `data directory ${d.dataDir} is not writable (${code})` };
    }
  };
}

export function identityService(d: IdentityDeps): Service {
  const check = probeCheck(d);
  return {
    GetPluginInfo: async () => ({ name: d.driverName, vendor_version: d.version, manifest: {} }),
    GetPluginCapabilities: async () => ({
      capabilities: [
        ...PLUGIN_SERVICES.map((type) => ({ service: { type } })),
        { volume_expansion: { type: PLUGIN_EXPANSION } },
      ],
    }),
    Probe: async () => ({ ready: { value: (await check()).ok } }),
  };
}

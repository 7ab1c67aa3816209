// CSI Identity service: who the plugin is, what it offers, whether it is ready.
import { access, constants } from "node:fs/promises";
import { PLUGIN_EXPANSION, PLUGIN_SERVICES } from "./capabilities.ts";
import type { Service } from "./rpc.ts";

export interface IdentityDeps {
  driverName: string;
  version: string;
  dataDir: string;
  /** False until the store is loaded and reconciled. */
  ready: () => boolean;
}

/** The CSI rule for plugin names (at most 63 characters, DNS-like). */
export const DRIVER_NAME = /^[a-zA-Z][A-Za-z0-9.\-_]{0,61}[a-zA-Z]$/;

export function identityService(d: IdentityDeps): Service {
  return {
    GetPluginInfo: async () => ({ name: d.driverName, vendor_version: d.version, manifest: {} }),
    GetPluginCapabilities: async () => ({
      capabilities: [
        ...PLUGIN_SERVICES.map((type) => ({ service: { type } })),
        { volume_expansion: { type: PLUGIN_EXPANSION } },
      ],
    }),
    Probe: async () => {
      let ok = d.ready();
      if (ok)
        ok = await access(d.dataDir, constants.W_OK).then(
          () => true,
          () => false,
        );
      return { ready: { value: ok } };
    },
  };
}

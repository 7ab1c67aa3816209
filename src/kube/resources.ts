// The resources the rules read, with every version each may be served at: one table for the
// plugin's direct lookup (lookup.ts) and the webhook's watch caches, so both find a
// ReferenceGrant (or any optional CRD) the same way. Paths and version discovery live here too.
import {
  GATEWAY_API_GROUP,
  GROUP_SNAPSHOT_API_GROUP,
  POPULATOR_API_GROUP,
  SNAPSHOT_API_GROUP,
} from "../rules/source.ts";

export interface Resource {
  group: string;
  /** Tried in order; the first the API server serves is used. */
  versions: string[];
  plural: string;
  namespaced: boolean;
  /** A CRD that may be missing. */
  optional: boolean;
}

export const RESOURCES = {
  pvcs: { group: "", versions: ["v1"], plural: "persistentvolumeclaims", namespaced: true, optional: false },
  pvs: { group: "", versions: ["v1"], plural: "persistentvolumes", namespaced: false, optional: false },
  storageClasses: {
    group: "storage.k8s.io",
    versions: ["v1"],
    plural: "storageclasses",
    namespaced: false,
    optional: false,
  },
  volumeSnapshots: {
    group: SNAPSHOT_API_GROUP,
    versions: ["v1"],
    plural: "volumesnapshots",
    namespaced: true,
    optional: true,
  },
  volumeSnapshotContents: {
    group: SNAPSHOT_API_GROUP,
    versions: ["v1"],
    plural: "volumesnapshotcontents",
    namespaced: false,
    optional: true,
  },
  volumeSnapshotClasses: {
    group: SNAPSHOT_API_GROUP,
    versions: ["v1"],
    plural: "volumesnapshotclasses",
    namespaced: false,
    optional: true,
  },
  referenceGrants: {
    group: GATEWAY_API_GROUP,
    versions: ["v1", "v1beta1", "v1alpha2"],
    plural: "referencegrants",
    namespaced: true,
    optional: true,
  },
  volumePopulators: {
    group: POPULATOR_API_GROUP,
    versions: ["v1beta1"],
    plural: "volumepopulators",
    namespaced: false,
    optional: true,
  },
  volumeGroupSnapshots: {
    group: GROUP_SNAPSHOT_API_GROUP,
    versions: ["v1"],
    plural: "volumegroupsnapshots",
    namespaced: true,
    optional: true,
  },
  volumeGroupSnapshotClasses: {
    group: GROUP_SNAPSHOT_API_GROUP,
    versions: ["v1"],
    plural: "volumegroupsnapshotclasses",
    namespaced: false,
    optional: true,
  },
} satisfies Record<string, Resource>;

export type ResourceKey = keyof typeof RESOURCES;

export const groupPath = (group: string, version: string) =>
  group ? `/apis/${group}/${version}` : `/api/${version}`;

export function listPath(r: Resource, version: string, namespace?: string): string {
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${groupPath(r.group, version)}${ns}/${r.plural}`;
}

export function objectPath(r: Resource, version: string, name: string, namespace?: string): string {
  return `${listPath(r, version, namespace)}/${encodeURIComponent(name)}`;
}

/**
 * The version of `r` the API server serves: the first of its versions whose discovery document
 * lists it (built-in resources: their one version, unasked). `undefined`: not served at all.
 */
export async function servedVersion(
  r: Resource,
  get: (path: string) => Promise<{ resources?: { name: string }[] } | undefined>,
): Promise<string | undefined> {
  if (!r.optional) return r.versions[0];
  for (const v of r.versions) {
    const list = await get(groupPath(r.group, v));
    if (list?.resources?.some((x) => x.name === r.plural)) return v;
  }
  return undefined;
}

// Lineage: where a claim or snapshot came from. The plugin and the mutating webhook record it
// in annotations (LINEAGE) on what they create: the source, and the chain of the source's own
// ancestors (so a tree can show a deleted link in the middle and keep what was made below it).
// Objects made by hand fall back to spec.dataSource(Ref) / spec.source. Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { type DataSource, dataSourceOf } from "./source.ts";
import { LINEAGE_PREFIX, type VolumeSnapshot } from "./types.ts";

/** The lineage annotations (one prefix, LINEAGE_PREFIX) recording where a claim's data came from. */
export const LINEAGE = {
  /** "PersistentVolumeClaim" or "VolumeSnapshot". */
  sourceKind: `${LINEAGE_PREFIX}source-kind`,
  sourceName: `${LINEAGE_PREFIX}source-name`,
  sourceNamespace: `${LINEAGE_PREFIX}source-namespace`,
  /** The source object's uid, when it was known: tells a re-created source of the same name apart. */
  sourceUid: `${LINEAGE_PREFIX}source-uid`,
  /** For a restore: the PVC the snapshot was taken from. */
  snapshotOf: `${LINEAGE_PREFIX}snapshot-of`,
  /**
   * The source's own ancestors, oldest first, as `Kind/name` joined by ","; only when the
   * source has any (a source made from nothing adds no annotation).
   */
  ancestors: `${LINEAGE_PREFIX}ancestors`,
} as const;

export type LineageKind = "PersistentVolumeClaim" | "VolumeSnapshot";
export interface LineageRef {
  kind: LineageKind;
  name: string;
}

type Annotated = { metadata?: { annotations?: Record<string, string>; uid?: string } };

function fromAnnotations(annotations: Record<string, string> | undefined): LineageRef | undefined {
  const kind = annotations?.[LINEAGE.sourceKind];
  const name = annotations?.[LINEAGE.sourceName];
  if (!name || (kind !== "PersistentVolumeClaim" && kind !== "VolumeSnapshot")) return undefined;
  return { kind, name };
}

/**
 * The source of a claim (its lineage annotations, else its same-namespace dataSourceRef /
 * dataSource) or of a snapshot (its annotations, else spec.source.persistentVolumeClaimName).
 */
export function parentOf(kind: LineageKind, obj: Annotated): LineageRef | undefined {
  const annotated = fromAnnotations(obj.metadata?.annotations);
  if (annotated) return annotated;
  if (kind === "VolumeSnapshot") {
    const name = (obj as VolumeSnapshot).spec?.source?.persistentVolumeClaimName;
    return name ? { kind: "PersistentVolumeClaim", name } : undefined;
  }
  const ds = dataSourceOf(obj as V1PersistentVolumeClaim);
  if (!ds?.name || ds.crossNamespace || ds.type === "other") return undefined;
  return { kind: ds.type === "clone" ? "PersistentVolumeClaim" : "VolumeSnapshot", name: ds.name };
}

/** The recorded ancestors of an object, oldest first (not its parent). */
export function ancestorsOf(obj: Annotated): LineageRef[] {
  const text = obj.metadata?.annotations?.[LINEAGE.ancestors];
  if (!text) return [];
  return text.split(",").flatMap((entry): LineageRef[] => {
    const slash = entry.indexOf("/");
    const kind = entry.slice(0, slash);
    const name = entry.slice(slash + 1);
    return slash > 0 && name && (kind === "PersistentVolumeClaim" || kind === "VolumeSnapshot")
      ? [{ kind, name }]
      : [];
  });
}

/** The lineage annotations for a clone, restore or snapshot of `src` (values only for what is known). */
export function lineageAnnotations(
  src: Pick<DataSource, "kind" | "name" | "namespace">,
  source?: Annotated & { spec?: unknown },
  snapshotOf?: string,
): Record<string, string> {
  const out: Record<string, string> = {
    [LINEAGE.sourceKind]: src.kind,
    [LINEAGE.sourceName]: src.name,
    [LINEAGE.sourceNamespace]: src.namespace,
  };
  if (source?.metadata?.uid) out[LINEAGE.sourceUid] = source.metadata.uid;
  if (snapshotOf) out[LINEAGE.snapshotOf] = snapshotOf;
  const kind = src.kind === "PersistentVolumeClaim" || src.kind === "VolumeSnapshot" ? src.kind : undefined;
  if (source && kind) {
    const grand = parentOf(kind, source);
    const chain = [...ancestorsOf(source), ...(grand ? [grand] : [])];
    if (chain.length > 0) out[LINEAGE.ancestors] = chain.map((r) => `${r.kind}/${r.name}`).join(",");
  }
  return out;
}

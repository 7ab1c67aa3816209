// The plan of an in-place restore, as pure functions over the objects found: which workloads
// mount the claim and can be stopped (or which stop the verb, named), the record the run starts
// with, the claim recreated from the snapshot (and, for an abort, the claim bound to the old
// volume again), and the plan as printed before anything changes.
import type {
  V1OwnerReference,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
} from "@kubernetes/client-node";
import {
  claimUids,
  IN_PLACE,
  LINEAGE_PREFIX,
  lineageAnnotations,
  restoredSize,
  SELECTED_NODE,
  SNAPSHOT_API_GROUP,
  SNAPSHOT_MANAGED_BY,
  type VolumeSnapshot,
  type VolumeSnapshotContent,
} from "../rules/index.ts";
import { byText, derivedName, timestampSuffix } from "./format.ts";
import {
  type ClaimTemplate,
  commands,
  encodeRecord,
  type RunRecord,
  SCALABLE,
  type ScalableKind,
  type WorkloadRef,
} from "./inplace-steps.ts";

/** A pod's or workload's owner as read (any kind; only metadata and a few spec fields are read). */
export interface OwnerObject {
  kind?: string;
  metadata?: { name?: string; uid?: string; ownerReferences?: V1OwnerReference[] };
  spec?: {
    replicas?: number;
    persistentVolumeClaimRetentionPolicy?: { whenScaled?: string; whenDeleted?: string };
  };
}

/** Owners by `Kind/name` (absent: not found). */
export type Owners = Map<string, OwnerObject>;
export const ownerKey = (kind: string, name: string) => `${kind}/${name}`;

export function controllerOf(obj: { metadata?: { ownerReferences?: V1OwnerReference[] } }) {
  return obj.metadata?.ownerReferences?.find((o) => o.controller === true);
}

/** Whether a pod holds the claim: it names it and has not finished. */
export function mountsClaim(pod: V1Pod, claim: string): boolean {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim);
}

/** The owner the verb has to read next for an object's controller: ReplicaSet → Deployment, Job → CronJob. */
export function ownersToRead(pods: V1Pod[], owners: Owners): { kind: string; name: string }[] {
  const want: { kind: string; name: string }[] = [];
  for (const pod of pods) {
    let ref = controllerOf(pod);
    while (ref) {
      const owner = owners.get(ownerKey(ref.kind, ref.name));
      if (!owners.has(ownerKey(ref.kind, ref.name))) {
        if (KNOWN.has(ref.kind)) want.push({ kind: ref.kind, name: ref.name });
        break;
      }
      const next = owner ? controllerOf(owner) : undefined;
      ref =
        next &&
        ((ref.kind === "ReplicaSet" && next.kind === "Deployment") ||
          (ref.kind === "Job" && next.kind === "CronJob"))
          ? next
          : undefined;
    }
  }
  return want.filter((w, i) => want.findIndex((x) => x.kind === w.kind && x.name === w.name) === i);
}

/** The owner kinds the verb reads. */
export const KNOWN = new Set([...SCALABLE, "DaemonSet", "Job", "CronJob"]);

export interface FoundWorkload extends WorkloadRef {
  pods: string[];
}

export interface Workloads {
  workloads: FoundWorkload[];
  /** One sentence each: what stops the verb, naming it, and what to do. */
  refusals: string[];
}

/**
 * The workloads to scale down for the pods that mount `claim`, with their replicas now; and
 * the refusals: a bare pod, a DaemonSet (cannot be scaled), a Job (runs to completion: wait or
 * delete it; and suspend its CronJob), an owner of an unknown kind or one that is gone, a
 * workload managed by another controller (it would scale it back up), a StatefulSet that
 * deletes the claims of the pods it scales down.
 */
export function findWorkloads(namespace: string, claim: string, pods: V1Pod[], owners: Owners): Workloads {
  const pvc = `PVC "${claim}"`;
  const byKey = new Map<string, FoundWorkload>();
  const refusals: string[] = [];
  const refuse = (text: string) => {
    if (!refusals.includes(text)) refusals.push(text);
  };
  const again = "then run the restore again";
  for (const pod of pods.filter((p) => mountsClaim(p, claim))) {
    const podName = pod.metadata?.name ?? "";
    const podText = `Pod "${podName}" in namespace "${namespace}"`;
    let ref = controllerOf(pod);
    if (!ref) {
      refuse(
        `${podText} mounts ${pvc} and has no controller to stop it and start it again: delete it (and create it again after the restore), ${again}`,
      );
      continue;
    }
    let owner = owners.get(ownerKey(ref.kind, ref.name));
    if (ref.kind === "ReplicaSet" && owner) {
      const up = controllerOf(owner);
      if (up?.kind === "Deployment") {
        ref = up;
        owner = owners.get(ownerKey(up.kind, up.name));
      }
    }
    const what = `${ref.kind} "${ref.name}" in namespace "${namespace}"`;
    if (!KNOWN.has(ref.kind)) {
      refuse(
        `${podText} mounts ${pvc} and is controlled by ${ref.kind} "${ref.name}" (${ref.apiVersion}), which kubectl vol cannot scale: scale it to zero yourself, ${again}`,
      );
      continue;
    }
    if (!owner) {
      refuse(
        `${podText} mounts ${pvc} and is controlled by ${what}, which does not exist (it is being deleted): wait until the pod is gone, ${again}`,
      );
      continue;
    }
    if (ref.kind === "DaemonSet") {
      refuse(
        `${what} mounts ${pvc} (pod "${podName}") and a DaemonSet cannot be scaled to zero: stop it (delete it, or give it a nodeSelector that matches no node), ${again}`,
      );
      continue;
    }
    if (ref.kind === "Job") {
      const cron = controllerOf(owner);
      const suspend =
        cron?.kind === "CronJob"
          ? `, and suspend CronJob "${cron.name}" so it starts no other (kubectl patch cronjob ${cron.name} -n ${namespace} -p '{"spec":{"suspend":true}}')`
          : "";
      refuse(
        `${what} runs pod "${podName}", which mounts ${pvc}, and a Job cannot be stopped and resumed: wait until it completes or delete it${suspend}, ${again}`,
      );
      continue;
    }
    const manager = controllerOf(owner);
    if (manager) {
      refuse(
        `${what} mounts ${pvc} and is managed by ${manager.kind} "${manager.name}", which would scale it back up: stop it through ${manager.kind} "${manager.name}", ${again}`,
      );
      continue;
    }
    if (owner.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === "Delete") {
      refuse(
        `${what} deletes the claims of the pods it scales down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete): set it to Retain, ${again}`,
      );
      continue;
    }
    const key = ownerKey(ref.kind, ref.name);
    const found = byKey.get(key) ?? {
      kind: ref.kind as ScalableKind,
      name: ref.name,
      replicas: owner.spec?.replicas ?? 1,
      pods: [],
    };
    found.pods.push(podName);
    byKey.set(key, found);
  }
  const workloads = [...byKey.values()].sort((a, b) => byText(a.kind, b.kind) || byText(a.name, b.name));
  for (const w of workloads) w.pods.sort();
  return { workloads, refusals };
}

/** Annotations the API server, the PV controller or this verb set, not copied to a new claim. */
function copied(key: string): boolean {
  if (key.startsWith("pv.kubernetes.io/")) return false;
  if (key === SELECTED_NODE) return false;
  if (key === "volume.kubernetes.io/storage-provisioner") return false;
  if (key === "volume.beta.kubernetes.io/storage-provisioner") return false;
  return !(Object.values(IN_PLACE) as string[]).includes(key);
}

/** What the recreated claim copies from the old one. */
export function claimTemplate(old: V1PersistentVolumeClaim): ClaimTemplate {
  const annotations = Object.fromEntries(
    Object.entries(old.metadata?.annotations ?? {}).filter(([k]) => copied(k)),
  );
  const owners = (old.metadata?.ownerReferences ?? []).filter((o) => o.kind !== "Pod");
  const spec = old.spec ?? {};
  return {
    ...(old.metadata?.labels ? { labels: { ...old.metadata.labels } } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(owners.length ? { ownerReferences: owners } : {}),
    spec: {
      ...(spec.storageClassName !== undefined ? { storageClassName: spec.storageClassName } : {}),
      ...(spec.accessModes ? { accessModes: [...spec.accessModes] } : {}),
      ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
      ...(spec.resources?.requests?.storage ? { storage: spec.resources.requests.storage } : {}),
      ...(spec.volumeAttributesClassName
        ? { volumeAttributesClassName: spec.volumeAttributesClassName }
        : {}),
    },
  };
}

export interface RecordInput {
  namespace: string;
  snapshot: VolumeSnapshot;
  content?: VolumeSnapshotContent;
  claim: V1PersistentVolumeClaim;
  volume: V1PersistentVolume;
  workloads: WorkloadRef[];
  now: Date;
}

/** The record a run starts with (step "snapshot"). */
export function newRecord(i: RecordInput): RunRecord {
  const claim = i.claim.metadata?.name ?? "";
  return {
    v: 1,
    step: "snapshot",
    mode: "restore",
    namespace: i.namespace,
    claim,
    claimUid: i.claim.metadata?.uid ?? "",
    uids: claimUids(i.claim),
    snapshot: i.snapshot.metadata.name,
    ...(i.snapshot.metadata.uid ? { snapshotUid: i.snapshot.metadata.uid } : {}),
    safety: derivedName(claim, "before-restore", timestampSuffix(i.now)),
    volume: i.volume.metadata?.name ?? "",
    reclaimPolicy: i.volume.spec?.persistentVolumeReclaimPolicy ?? "Delete",
    workloads: i.workloads.map(({ kind, name, replicas }) => ({ kind, name, replicas })),
    size: restoredSize(i.claim, i.snapshot, i.content),
    node:
      i.content?.metadata.labels?.[SNAPSHOT_MANAGED_BY] ||
      i.claim.metadata?.annotations?.[SELECTED_NODE] ||
      undefined,
    template: claimTemplate(i.claim),
    started: i.now.toISOString(),
  };
}

function base(r: RunRecord, annotations: Record<string, string>): V1PersistentVolumeClaim {
  const t = r.template;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: r.claim,
      namespace: r.namespace,
      ...(t.labels ? { labels: { ...t.labels } } : {}),
      annotations,
      ...(t.ownerReferences ? { ownerReferences: t.ownerReferences } : {}),
    },
    spec: {
      ...(t.spec.storageClassName !== undefined ? { storageClassName: t.spec.storageClassName } : {}),
      accessModes: t.spec.accessModes?.length ? [...t.spec.accessModes] : ["ReadWriteOnce"],
      ...(t.spec.volumeMode ? { volumeMode: t.spec.volumeMode } : {}),
      ...(t.spec.volumeAttributesClassName
        ? { volumeAttributesClassName: t.spec.volumeAttributesClassName }
        : {}),
      resources: { requests: t.spec.storage ? { storage: t.spec.storage } : {} },
    },
  };
}

/**
 * The claim recreated from the snapshot: the old claim's class, access modes, volume mode,
 * labels and annotations; size the larger of its request and the restoreSize; the snapshot's
 * node for node-local storage; lineage saying it was restored in place from which snapshot,
 * which volume it replaced and the uids the claim had before (snapshots of those are its own).
 * It carries the record, at step create-claim.
 */
export function restoredClaim(r: RunRecord): V1PersistentVolumeClaim {
  const kept = Object.fromEntries(
    Object.entries(r.template.annotations ?? {}).filter(([k]) => !k.startsWith(LINEAGE_PREFIX)),
  );
  const lineage = lineageAnnotations(
    { kind: "VolumeSnapshot", name: r.snapshot, namespace: r.namespace },
    r.snapshotUid ? { metadata: { uid: r.snapshotUid } } : undefined,
    r.claim,
  );
  const pvc = base(r, {
    ...kept,
    ...lineage,
    [IN_PLACE.restoredFrom]: r.snapshot,
    [IN_PLACE.replacedVolume]: r.volume,
    [IN_PLACE.previousUids]: r.uids.join(","),
    ...(r.node ? { [SELECTED_NODE]: r.node } : {}),
    [IN_PLACE.record]: encodeRecord({ ...r, step: "create-claim" }),
  });
  pvc.spec = {
    ...pvc.spec,
    resources: { requests: { storage: r.size ?? r.template.spec.storage ?? "" } },
    dataSource: { apiGroup: SNAPSHOT_API_GROUP, kind: "VolumeSnapshot", name: r.snapshot },
  };
  return pvc;
}

/** For an abort: a claim of the old spec bound to the old volume again (it carries the record). */
export function reboundClaim(r: RunRecord): V1PersistentVolumeClaim {
  const pvc = base(r, {
    ...(r.template.annotations ?? {}),
    [IN_PLACE.previousUids]: r.uids.join(","),
    [IN_PLACE.record]: encodeRecord({ ...r, mode: "abort" }),
  });
  pvc.spec = { ...pvc.spec, volumeName: r.volume };
  return pvc;
}

export interface Plan {
  record: RunRecord;
  workloads: FoundWorkload[];
  /** The snapshot's restoreSize, as it shows. */
  restoreSize?: string;
  /** The snapshot's creation time, as it shows. */
  taken?: string;
}

const list = (items: string[]) => (items.length ? items.join(", ") : "none");

/** The plan, as printed before anything changes. */
export function formatPlan(p: Plan): string {
  const r = p.record;
  const pvc = `PVC "${r.claim}"`;
  const snapFacts = [p.restoreSize, p.taken ? `taken ${p.taken}` : undefined].filter(Boolean).join(", ");
  const stop = p.workloads.map(
    (w) => `${w.kind} "${w.name}" (${w.replicas} → 0 replicas; pods ${list(w.pods)})`,
  );
  const start = p.workloads.map((w) => `${w.kind} "${w.name}" (0 → ${w.replicas})`);
  const t = r.template.spec;
  const spec = [
    t.storageClassName !== undefined ? `class "${t.storageClassName}"` : undefined,
    r.size,
    (t.accessModes ?? ["ReadWriteOnce"]).join(","),
    t.volumeMode ?? "Filesystem",
  ].filter(Boolean);
  const lines = [
    `Restore ${pvc} in namespace "${r.namespace}" in place from VolumeSnapshot "${r.snapshot}"${snapFacts ? ` (${snapFacts})` : ""}:`,
    `  1. snapshot  ${pvc} as it is now, into VolumeSnapshot "${r.safety}" (the undo)`,
    `  2. keep      PersistentVolume "${r.volume}": reclaim policy ${r.reclaimPolicy} → Retain`,
    `  3. stop      ${stop.length ? stop.join(", ") : "nothing (no pod mounts the claim)"}`,
    `  4. replace   delete ${pvc} (uid ${r.claimUid}); PersistentVolume "${r.volume}" stays, Released`,
    `  5. restore   create ${pvc} from VolumeSnapshot "${r.snapshot}" (${spec.join(", ")})`,
    `  6. start     ${start.length ? start.join(", ") : "nothing"}`,
    `Kept: ${keptText(r)}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** What a run keeps, with the commands to use it. */
export function keptText(r: RunRecord): string {
  return `VolumeSnapshot "${r.safety}" (undo: kubectl vol restore ${r.safety} --in-place -n ${r.namespace}) and PersistentVolume "${r.volume}" with the old data (once satisfied: kubectl delete pv ${r.volume})`;
}

/** The lines printed when a run stops before its end. */
export function interruptedText(r: RunRecord): string {
  const c = commands(r);
  return `the in-place restore of PVC "${r.claim}" in namespace "${r.namespace}" stopped at step "${r.step}" (recorded on the claim and on VolumeSnapshot "${r.safety}"): run ${c.continue} to finish it, or ${c.abort} to roll it back`;
}

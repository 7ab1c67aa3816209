// The in-place restore's plan: workloads found from the pods that mount the claim (and what
// stops the verb), the recreated claims, the printed plan, and the verb's command line.
import type {
  V1OwnerReference,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/plugin/errors.ts";
import {
  claimTemplate,
  findWorkloads,
  formatPlan,
  newRecord,
  type OwnerObject,
  type Owners,
  ownerKey,
  ownersToRead,
  reboundClaim,
  restoredClaim,
} from "../../../src/plugin/inplace-plan.ts";
import { decodeRecord } from "../../../src/plugin/inplace-steps.ts";
import { inPlaceOptions, wantsInPlace } from "../../../src/plugin/restore-in-place.ts";
import { IN_PLACE, LINEAGE, type VolumeSnapshot } from "../../../src/rules/index.ts";

const ref = (kind: string, name: string, apiVersion = "apps/v1"): V1OwnerReference => ({
  apiVersion,
  kind,
  name,
  uid: `uid-${name}`,
  controller: true,
});

function pod(name: string, owner?: V1OwnerReference, claim = "db", phase = "Running"): V1Pod {
  return {
    metadata: { name, namespace: "shop", ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { containers: [], volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }] },
    status: { phase },
  };
}

function owner(
  kind: string,
  name: string,
  extra: Partial<OwnerObject["spec"]> = {},
  up?: V1OwnerReference,
): OwnerObject {
  return {
    kind,
    metadata: { name, uid: `uid-${name}`, ...(up ? { ownerReferences: [up] } : {}) },
    spec: { replicas: 2, ...extra },
  };
}

const owners = (...list: OwnerObject[]): Owners =>
  new Map(list.map((o) => [ownerKey(o.kind ?? "", o.metadata?.name ?? ""), o]));

describe("findWorkloads", () => {
  it("finds a StatefulSet and a Deployment (through its ReplicaSet) with their replicas and pods", () => {
    const pods = [
      pod("db-0", ref("StatefulSet", "db")),
      pod("db-1", ref("StatefulSet", "db")),
      pod("api-7d-x", ref("ReplicaSet", "api-7d")),
      pod("other", ref("StatefulSet", "other"), "other-claim"),
      pod("done", undefined, "db", "Succeeded"),
    ];
    const found = owners(
      owner("StatefulSet", "db", { replicas: 3 }),
      owner("ReplicaSet", "api-7d", {}, ref("Deployment", "api")),
      owner("Deployment", "api", { replicas: 1 }),
    );
    expect(findWorkloads("shop", "db", pods, found)).toEqual({
      workloads: [
        { kind: "Deployment", name: "api", replicas: 1, pods: ["api-7d-x"] },
        { kind: "StatefulSet", name: "db", replicas: 3, pods: ["db-0", "db-1"] },
      ],
      refusals: [],
    });
  });

  it("asks for the owners one level at a time: ReplicaSet, then its Deployment", () => {
    const pods = [
      pod("api-x", ref("ReplicaSet", "api-7d")),
      pod("bare"),
      pod("j-1", ref("Job", "j", "batch/v1")),
    ];
    expect(ownersToRead(pods, new Map())).toEqual([
      { kind: "ReplicaSet", name: "api-7d" },
      { kind: "Job", name: "j" },
    ]);
    const some = owners(
      owner("ReplicaSet", "api-7d", {}, ref("Deployment", "api")),
      owner("Job", "j", {}, ref("CronJob", "nightly", "batch/v1")),
    );
    expect(ownersToRead(pods, some)).toEqual([
      { kind: "Deployment", name: "api" },
      { kind: "CronJob", name: "nightly" },
    ]);
  });

  it("refuses a bare pod, naming it and what to do", () => {
    expect(findWorkloads("shop", "db", [pod("debug")], new Map()).refusals).toEqual([
      'Pod "debug" in namespace "shop" mounts PVC "db" and has no controller to stop it and start it again: delete it (and create it again after the restore), then run the restore again',
    ]);
  });

  it("refuses a DaemonSet, a Job (and says to suspend its CronJob), an unknown or missing owner", () => {
    const pods = [
      pod("agent-abc", ref("DaemonSet", "agent")),
      pod("backup-1-x", ref("Job", "backup-1", "batch/v1")),
      pod("crd-0", ref("Database", "pg", "db.example.com/v1")),
      pod("gone-x", ref("ReplicaSet", "gone")),
    ];
    const found = owners(
      owner("DaemonSet", "agent"),
      owner("Job", "backup-1", {}, ref("CronJob", "backup", "batch/v1")),
    );
    const { refusals, workloads } = findWorkloads("shop", "db", pods, found);
    expect(workloads).toEqual([]);
    expect(refusals).toEqual([
      'DaemonSet "agent" in namespace "shop" mounts PVC "db" (pod "agent-abc") and a DaemonSet cannot be scaled to zero: stop it (delete it, or give it a nodeSelector that matches no node), then run the restore again',
      `Job "backup-1" in namespace "shop" runs pod "backup-1-x", which mounts PVC "db", and a Job cannot be stopped and resumed: wait until it completes or delete it, and suspend CronJob "backup" so it starts no other (kubectl patch cronjob backup -n shop -p '{"spec":{"suspend":true}}'), then run the restore again`,
      'Pod "crd-0" in namespace "shop" mounts PVC "db" and is controlled by Database "pg" (db.example.com/v1), which kubectl vol cannot scale: scale it to zero yourself, then run the restore again',
      'Pod "gone-x" in namespace "shop" mounts PVC "db" and is controlled by ReplicaSet "gone" in namespace "shop", which does not exist (it is being deleted): wait until the pod is gone, then run the restore again',
    ]);
  });

  it("refuses a workload another controller manages, and a StatefulSet that deletes claims on scale-down", () => {
    const pods = [pod("pg-0", ref("StatefulSet", "pg")), pod("web-0", ref("StatefulSet", "web"))];
    const found = owners(
      owner("StatefulSet", "pg", {}, ref("Postgres", "main", "acid.example.com/v1")),
      owner("StatefulSet", "web", { persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete" } }),
    );
    const { refusals } = findWorkloads("shop", "db", pods, found);
    expect(refusals[0]).toContain('is managed by Postgres "main", which would scale it back up');
    expect(refusals[1]).toContain("persistentVolumeClaimRetentionPolicy.whenScaled: Delete");
  });
});

const old: V1PersistentVolumeClaim = {
  metadata: {
    name: "db",
    namespace: "shop",
    uid: "uid-old",
    labels: { app: "db" },
    annotations: {
      team: "payments",
      "pv.kubernetes.io/bind-completed": "yes",
      "pv.kubernetes.io/bound-by-controller": "yes",
      "volume.kubernetes.io/storage-provisioner": "vol.kubectl.io",
      "volume.kubernetes.io/selected-node": "127.0.0.2",
      [LINEAGE.sourceKind]: "PersistentVolumeClaim",
      [LINEAGE.sourceName]: "seed",
    },
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: "u1" },
      { apiVersion: "v1", kind: "Pod", name: "db-0", uid: "u2" },
    ],
  },
  spec: {
    storageClassName: "vol-local",
    accessModes: ["ReadWriteOnce"],
    volumeMode: "Filesystem",
    resources: { requests: { storage: "1Gi" } },
    volumeName: "pv-old",
  },
  status: { phase: "Bound" },
};
const volume: V1PersistentVolume = {
  metadata: { name: "pv-old" },
  spec: { persistentVolumeReclaimPolicy: "Delete", csi: { driver: "vol.kubectl.io", volumeHandle: "h" } },
};
const snap: VolumeSnapshot = {
  metadata: { name: "db-1400", namespace: "shop", uid: "uid-snap" },
  spec: { source: { persistentVolumeClaimName: "db" } },
  status: { readyToUse: true, restoreSize: "2Gi" },
};
const rec = () =>
  newRecord({
    namespace: "shop",
    snapshot: snap,
    claim: old,
    volume,
    workloads: [{ kind: "StatefulSet", name: "db", replicas: 1 }],
    now: new Date("2026-12-01T14:10:00Z"),
  });

describe("the claims", () => {
  it("the record starts at the safety snapshot, with the counts, the volume and its policy", () => {
    const r = rec();
    expect(r).toMatchObject({
      step: "snapshot",
      mode: "restore",
      claimUid: "uid-old",
      uids: ["uid-old"],
      safety: "db-before-restore-20261201-141000",
      volume: "pv-old",
      reclaimPolicy: "Delete",
      size: "2Gi",
      node: "127.0.0.2",
      workloads: [{ kind: "StatefulSet", name: "db", replicas: 1 }],
    });
  });

  it("the template keeps the user's labels, annotations and owners, not what controllers set", () => {
    expect(claimTemplate(old)).toEqual({
      labels: { app: "db" },
      annotations: {
        team: "payments",
        [LINEAGE.sourceKind]: "PersistentVolumeClaim",
        [LINEAGE.sourceName]: "seed",
      },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: "u1" }],
      spec: {
        storageClassName: "vol-local",
        accessModes: ["ReadWriteOnce"],
        volumeMode: "Filesystem",
        storage: "1Gi",
      },
    });
  });

  it("the restored claim: same name, spec and labels, the larger size, the snapshot as source, lineage", () => {
    const c = restoredClaim(rec());
    expect(c.metadata?.name).toBe("db");
    expect(c.metadata?.labels).toEqual({ app: "db" });
    expect(c.spec).toEqual({
      storageClassName: "vol-local",
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      resources: { requests: { storage: "2Gi" } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "db-1400" },
    });
    const a = c.metadata?.annotations ?? {};
    expect(a).toMatchObject({
      team: "payments",
      [LINEAGE.sourceKind]: "VolumeSnapshot",
      [LINEAGE.sourceName]: "db-1400",
      [LINEAGE.sourceUid]: "uid-snap",
      [LINEAGE.snapshotOf]: "db",
      [IN_PLACE.restoredFrom]: "db-1400",
      [IN_PLACE.replacedVolume]: "pv-old",
      [IN_PLACE.previousUids]: "uid-old",
      "volume.kubernetes.io/selected-node": "127.0.0.2",
    });
    expect(a["pv.kubernetes.io/bind-completed"]).toBeUndefined();
    expect(decodeRecord(a[IN_PLACE.record])?.step).toBe("create-claim");
  });

  it("the rebound claim (an abort): the old spec and lineage, bound to the old volume", () => {
    const c = reboundClaim({ ...rec(), step: "create-claim" });
    expect(c.spec?.volumeName).toBe("pv-old");
    expect(c.spec?.dataSource).toBeUndefined();
    expect(c.spec?.resources).toEqual({ requests: { storage: "1Gi" } });
    expect(c.metadata?.annotations?.[LINEAGE.sourceName]).toBe("seed");
    expect(decodeRecord(c.metadata?.annotations?.[IN_PLACE.record])?.mode).toBe("abort");
  });
});

describe("formatPlan", () => {
  it("says what is stopped, replaced and kept, with the undo and how to delete the old volume", () => {
    const r = rec();
    expect(
      formatPlan({
        record: r,
        workloads: [{ ...r.workloads[0]!, pods: ["db-0"] }],
        restoreSize: "2Gi",
        taken: "2026-12-01T14:00:00.000Z",
      }),
    ).toBe(
      [
        'Restore PVC "db" in namespace "shop" in place from VolumeSnapshot "db-1400" (2Gi, taken 2026-12-01T14:00:00.000Z):',
        '  1. snapshot  PVC "db" as it is now, into VolumeSnapshot "db-before-restore-20261201-141000" (the undo)',
        '  2. keep      PersistentVolume "pv-old": reclaim policy Delete → Retain',
        '  3. stop      StatefulSet "db" (1 → 0 replicas; pods db-0)',
        '  4. replace   delete PVC "db" (uid uid-old); PersistentVolume "pv-old" stays, Released',
        '  5. restore   create PVC "db" from VolumeSnapshot "db-1400" (class "vol-local", 2Gi, ReadWriteOnce, Filesystem)',
        '  6. start     StatefulSet "db" (0 → 1)',
        'Kept: VolumeSnapshot "db-before-restore-20261201-141000" (undo: kubectl vol restore db-before-restore-20261201-141000 --in-place -n shop) and PersistentVolume "pv-old" with the old data (once satisfied: kubectl delete pv pv-old)',
        "",
      ].join("\n"),
    );
  });
});

describe("the command line", () => {
  const usage = (args: Record<string, unknown>) => {
    try {
      wantsInPlace(args) && inPlaceOptions(args);
      return "";
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
  };
  it("reads the three forms", () => {
    expect(inPlaceOptions({ "in-place": true, snapshot: "s", timeout: "5m", yes: true })).toMatchObject({
      mode: "start",
      snapshot: "s",
      yes: true,
      timeoutMs: 300_000,
      dryRun: "none",
    });
    expect(inPlaceOptions({ "in-place": true, continue: "db", timeout: "5m" })).toMatchObject({
      mode: "continue",
      claim: "db",
    });
    expect(inPlaceOptions({ "in-place": true, abort: "db", timeout: "1m" })).toMatchObject({
      mode: "abort",
      claim: "db",
    });
    expect(wantsInPlace({ snapshot: "s" })).toBe(false);
  });
  it("says what is wrong with the others", () => {
    expect(usage({ continue: "db" })).toBe(
      "--continue goes with --in-place: kubectl vol restore --in-place --continue CLAIM",
    );
    expect(usage({ "in-place": true, continue: "db", abort: "db", timeout: "5m" })).toBe(
      "--continue and --abort cannot be combined",
    );
    expect(usage({ "in-place": true, snapshot: "s", abort: "db", timeout: "5m" })).toContain(
      "--abort takes the claim and no SNAPSHOT",
    );
    expect(usage({ "in-place": true, timeout: "5m" })).toBe(
      "SNAPSHOT is required (or --continue CLAIM, --abort CLAIM)",
    );
    expect(usage({ "in-place": true, snapshot: "s", name: "x", timeout: "5m" })).toContain(
      "--name cannot be combined with --in-place",
    );
    expect(
      usage({ "in-place": true, snapshot: "s", wait: true, "dry-run": "client", timeout: "5m" }),
    ).toContain("--wait cannot be combined with --dry-run");
  });
});

// The admission webhook against a real kube-apiserver (with etcd, kube-controller-manager
// binding the claims, and the upstream snapshot CRDs): the webhook runs as its own process
// (cmd/vol-webhook), is registered with the configurations that ship
// (manifests/base/webhook-configurations.yaml) pointed at it by `url` + `caBundle`, and every rule
// and default is shown through ordinary API calls and kubectl. No snapshot-controller runs: the tests write the
// VolumeSnapshot/VolumeSnapshotContent status the way it would.
//
// The ReferenceGrant and VolumePopulator CRDs are not part of our pinned upstream parts; this
// file installs minimal CRDs of the same group, version and kind (schema-less) to show the rules
// that read them turning on when they appear.

import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  StorageV1Api,
  type V1PersistentVolumeClaim,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/kube/connection.ts";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { type Proc, Session, waitUntil } from "../../src/localcluster/session.ts";
import { LINEAGE } from "../../src/rules/index.ts";
import { KubeCache } from "../../src/webhook/cache.ts";
import { pointedAt, type ShippedConfigurations, shippedConfigurations } from "../../src/webhook/config.ts";
import { runCommand } from "./plugin-binary.ts";
import { httpsGet as httpsGetWith, kubectlResult, startWebhook } from "./webhook-process.ts";

const DRIVER = "vol.csi.kubectl.io";
const OTHER = "other.csi.example.com";
const SNAP = { group: "snapshot.storage.k8s.io", version: "v1" };
const HOLD = "test.vol.kubectl.io/hold";

let cp: ControlPlane;
let session: Session;
let webhook: Proc;
let webhookUrl: string;
let caPem: string;
let core: CoreV1Api;
let storage: StorageV1Api;
let custom: CustomObjectsApi;
let admission: AdmissionregistrationV1Api;

// --- helpers ------------------------------------------------------------------------------

type Spec = NonNullable<V1PersistentVolumeClaim["spec"]>;

function pvc(
  name: string,
  spec: Spec,
  ns = "shop",
  extra: Partial<V1PersistentVolumeClaim["metadata"]> = {},
) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns, ...extra },
    spec: { accessModes: ["ReadWriteOnce"], ...spec },
  } satisfies V1PersistentVolumeClaim;
}

const fromPvc = (name: string, spec: Partial<Spec> = {}, claimName = "copy") =>
  pvc(claimName, {
    storageClassName: "fast",
    resources: { requests: { storage: "10Gi" } },
    dataSource: { kind: "PersistentVolumeClaim", name },
    ...spec,
  });

const fromSnapshot = (name: string, spec: Partial<Spec> = {}, claimName = "restored") =>
  pvc(claimName, {
    storageClassName: "fast",
    resources: { requests: { storage: "10Gi" } },
    dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name },
    ...spec,
  });

async function create(body: V1PersistentVolumeClaim, dryRun = true): Promise<V1PersistentVolumeClaim> {
  return core.createNamespacedPersistentVolumeClaim({
    namespace: body.metadata?.namespace ?? "shop",
    body,
    ...(dryRun ? { dryRun: "All" } : {}),
  });
}

/** The message of a refused API call, with its HTTP code. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; body?: string };
    let message = String(e.body);
    try {
      message = (JSON.parse(String(e.body)) as { message: string }).message;
    } catch {
      // keep the raw body
    }
    return { code: e.code ?? 0, message };
  }
  throw new Error("the call was admitted but should have been refused");
}

const denial = (webhookName: string, message: string) =>
  `admission webhook "${webhookName}" denied the request: ${message}`;
// What ships, read once (top-level await): the webhooks' names come from there.
const SHIPPED: ShippedConfigurations = await shippedConfigurations();
const validatingFor = (resource: string) =>
  SHIPPED.validating.webhooks?.find((w) => w.rules?.some((r) => r.resources?.includes(resource)))?.name ?? "";
const CLAIMS = validatingFor("persistentvolumeclaims");
const DEFAULTS = SHIPPED.mutating.webhooks?.[0]?.name ?? "";
/** A claim whose spec.dataSource is a ConfigMap (core group), which the API server drops. */
const fromConfigMap = (name: string) =>
  pvc(name, {
    storageClassName: "fast",
    resources: { requests: { storage: "1Gi" } },
    dataSource: { kind: "ConfigMap", name: "settings" },
  });
const SNAPSHOTS = validatingFor("volumesnapshots");

async function createSnapshot(
  name: string,
  spec: Record<string, unknown>,
  opts: { dryRun?: boolean; finalizers?: string[] } = {},
) {
  return custom.createNamespacedCustomObject({
    ...SNAP,
    namespace: "shop",
    plural: "volumesnapshots",
    body: {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name, ...(opts.finalizers ? { finalizers: opts.finalizers } : {}) },
      spec,
    },
    ...(opts.dryRun ? { dryRun: "All" } : {}),
  });
}

async function setSnapshotStatus(name: string, status: Record<string, unknown>) {
  const obj = (await custom.getNamespacedCustomObject({
    ...SNAP,
    namespace: "shop",
    plural: "volumesnapshots",
    name,
  })) as Record<string, unknown>;
  await custom.replaceNamespacedCustomObjectStatus({
    ...SNAP,
    namespace: "shop",
    plural: "volumesnapshots",
    name,
    body: { ...obj, status },
  });
}

async function createContent(
  name: string,
  snapshot: string,
  driver: string,
  mode: "Filesystem" | "Block",
  annotations: Record<string, string> = {},
) {
  await custom.createClusterCustomObject({
    ...SNAP,
    plural: "volumesnapshotcontents",
    body: {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshotContent",
      metadata: { name, annotations },
      spec: {
        driver,
        deletionPolicy: "Delete",
        sourceVolumeMode: mode,
        source: { volumeHandle: `handle-${name}` },
        volumeSnapshotRef: { name: snapshot, namespace: "shop" },
      },
    },
  });
  const obj = (await custom.getClusterCustomObject({
    ...SNAP,
    plural: "volumesnapshotcontents",
    name,
  })) as Record<string, unknown>;
  await custom.replaceClusterCustomObjectStatus({
    ...SNAP,
    plural: "volumesnapshotcontents",
    name,
    body: { ...obj, status: { readyToUse: true, restoreSize: 10 * 2 ** 30, snapshotHandle: `snap-${name}` } },
  });
}

/** A snapshot of `pvcName`, bound to a content on `driver`, ready, with restoreSize 10Gi. */
async function readySnapshot(
  name: string,
  pvcName: string,
  driver = DRIVER,
  mode: "Filesystem" | "Block" = "Filesystem",
  annotations: Record<string, string> = {},
) {
  await createSnapshot(name, { source: { persistentVolumeClaimName: pvcName } });
  await createContent(`content-${name}`, name, driver, mode, annotations);
  await setSnapshotStatus(name, {
    boundVolumeSnapshotContentName: `content-${name}`,
    readyToUse: true,
    restoreSize: "10Gi",
    creationTime: new Date().toISOString(),
  });
}

/** A CSI PersistentVolume waiting for claim `name` in "shop", as a provisioner would make it. */
async function volumeFor(
  name: string,
  cls: string,
  driver: string,
  size: string,
  mode: "Filesystem" | "Block" = "Filesystem",
) {
  await core.createPersistentVolume({
    body: {
      metadata: { name: `pv-${name}` },
      spec: {
        capacity: { storage: size },
        accessModes: ["ReadWriteOnce"],
        storageClassName: cls,
        volumeMode: mode,
        persistentVolumeReclaimPolicy: "Retain",
        claimRef: { namespace: "shop", name },
        csi: { driver, volumeHandle: `vol-${name}` },
      },
    },
  });
}

/** A Bound claim: a pre-bound CSI PersistentVolume plus the claim, bound by kube-controller-manager. */
async function boundClaim(
  name: string,
  cls: string,
  driver: string,
  size: string,
  mode: "Filesystem" | "Block" = "Filesystem",
) {
  await volumeFor(name, cls, driver, size, mode);
  await core.createNamespacedPersistentVolumeClaim({
    namespace: "shop",
    body: pvc(name, { storageClassName: cls, volumeMode: mode, resources: { requests: { storage: size } } }),
  });
}

/** Read-modify-write of a claim, again on a conflict (controllers write to claims too). */
async function updateClaim(name: string, change: (c: V1PersistentVolumeClaim) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const c = await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name });
    change(c);
    try {
      await core.replaceNamespacedPersistentVolumeClaim({ namespace: "shop", name, body: c });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || attempt > 20) throw err;
    }
  }
}

const kubectl = (args: string[], input?: string) => kubectlResult(cp, args, input);

const httpsGet = (url: string) => httpsGetWith(url, caPem);

/**
 * Registers the shipped configurations, pointed at the test's webhook. They ship with
 * failurePolicy Ignore; here they are set to Fail, so that a webhook that does not answer fails
 * a test instead of passing as an admission. Nothing else differs from what ships.
 */
function failClosed<T extends { webhooks?: { failurePolicy?: string }[] }>(c: T): T {
  return { ...c, webhooks: c.webhooks?.map((w) => ({ ...w, failurePolicy: "Fail" })) };
}

async function register(which: { mutating: boolean; validating: boolean }) {
  const { mutating, validating } = pointedAt(SHIPPED, { url: webhookUrl, caBundle: caPem });
  await admission
    .deleteMutatingWebhookConfiguration({ name: mutating.metadata?.name ?? "" })
    .catch(() => undefined);
  await admission
    .deleteValidatingWebhookConfiguration({ name: validating.metadata?.name ?? "" })
    .catch(() => undefined);
  if (which.validating)
    await admission.createValidatingWebhookConfiguration({ body: failClosed(validating) });
  if (which.mutating) await admission.createMutatingWebhookConfiguration({ body: failClosed(mutating) });
  // The API server picks configurations up asynchronously: wait until it behaves as configured.
  await waitUntil(
    "the webhook configurations to take effect",
    async () => {
      // Too small: denied by /validate. Without a size: sized by /mutate (else refused as invalid).
      const small = fromPvc("db", { resources: { requests: { storage: "1Gi" } } }, "probe");
      const sizeless = fromPvc("db", {}, "probe");
      delete (sizeless.spec as Spec).resources;
      const denied = await create(small).then(
        () => false,
        (err: { body?: string }) => String(err.body).includes(CLAIMS),
      );
      const filled = await create(sizeless).then(
        (out) => out.spec?.resources?.requests?.storage === "10Gi",
        () => false,
      );
      return denied === which.validating && filled === which.mutating;
    },
    30_000,
  );
}

// --- the cluster ----------------------------------------------------------------------------

beforeAll(async () => {
  cp = await startControlPlane({
    controllerManager: true,
    apiserverArgs: ["--feature-gates=CrossNamespaceVolumeDataSource=true"],
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  storage = kc.makeApiClient(StorageV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  admission = kc.makeApiClient(AdmissionregistrationV1Api);

  session = await Session.create("kubectl-vol-webhook");
  // The webhook runs as its own user with only webhookClusterRole(): RBAC proves that role is enough.
  ({ proc: webhook, url: webhookUrl, caPem } = await startWebhook(cp, session));

  for (const ns of ["shop", "dev"]) await core.createNamespace({ body: { metadata: { name: ns } } });
  const sc = (name: string, provisioner: string, isDefault: boolean) =>
    storage.createStorageClass({
      body: {
        metadata: {
          name,
          annotations: isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {},
        },
        provisioner,
        volumeBindingMode: "Immediate",
      },
    });
  await sc("fast", DRIVER, true);
  await sc("slow", OTHER, false);
  for (const [name, driver, isDefault] of [
    ["snaps", DRIVER, true],
    ["other-snaps", OTHER, false],
  ] as const) {
    await custom.createClusterCustomObject({
      ...SNAP,
      plural: "volumesnapshotclasses",
      body: {
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshotClass",
        metadata: {
          name,
          annotations: isDefault ? { "snapshot.storage.kubernetes.io/is-default-class": "true" } : {},
        },
        driver,
        deletionPolicy: "Delete",
      },
    });
  }
  await boundClaim("db", "fast", DRIVER, "10Gi");
  await boundClaim("raw", "fast", DRIVER, "4Gi", "Block");
  await boundClaim("elsewhere", "slow", OTHER, "1Gi");
  await core.createNamespacedPersistentVolumeClaim({
    namespace: "shop",
    body: pvc("pending", { storageClassName: "nowhere", resources: { requests: { storage: "1Gi" } } }),
  });
  // A source being deleted: a finalizer holds it.
  await boundClaim("leaving", "fast", DRIVER, "1Gi");
  await waitUntil(
    "the claims to be Bound",
    async () => {
      const list = await core.listNamespacedPersistentVolumeClaim({ namespace: "shop" });
      const bound = list.items.filter((c) => c.status?.phase === "Bound").map((c) => c.metadata?.name);
      return ["db", "raw", "elsewhere", "leaving"].every((n) => bound.includes(n));
    },
    90_000,
  );
  await updateClaim("leaving", (c) => {
    c.metadata!.finalizers = [...(c.metadata?.finalizers ?? []), HOLD];
  });
  await core.deleteNamespacedPersistentVolumeClaim({ namespace: "shop", name: "leaving" });

  await readySnapshot("db-snap", "db");
  await readySnapshot("other-snap", "elsewhere", OTHER);
  await readySnapshot("allow-snap", "db", DRIVER, "Filesystem", {
    "snapshot.storage.kubernetes.io/allow-volume-mode-change": "true",
  });
  await createSnapshot("broken-snap", { source: { persistentVolumeClaimName: "db" } });
  await setSnapshotStatus("broken-snap", {
    readyToUse: false,
    error: { message: "CreateSnapshot failed: disk full" },
  });
  await createSnapshot(
    "leaving-snap",
    { source: { persistentVolumeClaimName: "db" } },
    { finalizers: [HOLD] },
  );
  await custom.deleteNamespacedCustomObject({
    ...SNAP,
    namespace: "shop",
    plural: "volumesnapshots",
    name: "leaving-snap",
  });
}, 300_000);

afterAll(async () => {
  await session?.stop();
  await cp?.stop();
});

// --- validation alone: every denial ---------------------------------------------------------

describe("validating webhook, alone", () => {
  beforeAll(() => register({ mutating: false, validating: true }), 60_000);

  it("serves /healthz, /readyz and /metrics over HTTPS", async () => {
    expect(await httpsGet(`${webhookUrl}/healthz`)).toEqual({ code: 200, body: "ok\n" });
    const m = await httpsGet(`${webhookUrl}/metrics`);
    expect(m.code).toBe(200);
    expect(m.body).toMatch(/vol_webhook_requests_total\{path="\/validate",code="200"\} \d+/);
    expect(m.body).toMatch(
      /vol_webhook_decisions_total\{webhook="validate",rule="clone-size",severity="deny"\} \d+/,
    );
  });

  it("admits a valid clone and a valid restore unchanged", async () => {
    const clone = fromPvc("db");
    const out = await create(clone);
    expect(out.spec?.resources).toEqual(clone.spec.resources);
    expect(out.metadata?.annotations).toBeUndefined();
    const restore = fromSnapshot("db-snap");
    expect((await create(restore)).spec?.dataSource).toEqual(restore.spec.dataSource);
  });

  it("denies a data source of a kind nobody populates", async () => {
    const r = await refusal(
      create(
        pvc("widget", {
          resources: { requests: { storage: "1Gi" } },
          dataSourceRef: { apiGroup: "example.com", kind: "Widget", name: "w" },
        }),
      ),
    );
    expect(r.code).toBe(403);
    expect(r.message).toBe(
      denial(
        CLAIMS,
        'PVC "widget" in namespace "shop" has a data source of kind "Widget" of group "example.com", which cannot be a data source: use a PersistentVolumeClaim or a VolumeSnapshot (snapshot.storage.k8s.io) (no VolumePopulator CRD of populator.storage.k8s.io is installed, so no other kind can be)',
      ),
    );
  });

  it("denies each broken clone with its message", async () => {
    const cases: [V1PersistentVolumeClaim, string][] = [
      [
        fromPvc("nope"),
        'PVC "nope" in namespace "shop" does not exist: create it first, or fix the data source of PVC "copy" in namespace "shop"',
      ],
      [
        fromPvc("leaving"),
        'PVC "leaving" in namespace "shop" is being deleted: a clone needs a source that stays; clone another PVC',
      ],
      [
        fromPvc("elsewhere"),
        `PVC "copy" in namespace "shop" would be provisioned by "${DRIVER}" (StorageClass "fast") but its source PVC "elsewhere" in namespace "shop" is on driver "${OTHER}": use a StorageClass whose provisioner is "${OTHER}", such as "slow"`,
      ],
      // No volumeMode here: the API server defaults it to Filesystem before any webhook runs,
      // so the webhook cannot fill it in from the source; it explains the fix instead.
      [
        fromPvc("raw", { resources: { requests: { storage: "4Gi" } } }),
        'PVC "copy" in namespace "shop" has volumeMode Filesystem but its source PVC "raw" in namespace "shop" is Block: set spec.volumeMode: Block',
      ],
      [
        fromPvc("db", { resources: { requests: { storage: "1Gi" } } }),
        'PVC "copy" in namespace "shop" requests 1Gi but its source PVC "db" in namespace "shop" holds 10Gi: request at least 10Gi',
      ],
    ];
    for (const [claim, message] of cases) {
      expect(await refusal(create(claim))).toEqual({ code: 403, message: denial(CLAIMS, message) });
    }
  });

  it("denies each broken restore with its message", async () => {
    const cases: [V1PersistentVolumeClaim, string][] = [
      [
        fromSnapshot("nope"),
        'VolumeSnapshot "nope" in namespace "shop" does not exist: create it first, or fix the data source of PVC "restored" in namespace "shop"',
      ],
      [
        fromSnapshot("leaving-snap"),
        'VolumeSnapshot "leaving-snap" in namespace "shop" is being deleted: restore from another snapshot',
      ],
      [
        fromSnapshot("broken-snap"),
        'VolumeSnapshot "broken-snap" in namespace "shop" failed (CreateSnapshot failed: disk full): fix the cause and take the snapshot again, or restore from another snapshot',
      ],
      [
        fromSnapshot("other-snap"),
        `PVC "restored" in namespace "shop" would be provisioned by "${DRIVER}" (StorageClass "fast") but its source VolumeSnapshot "other-snap" in namespace "shop" is on driver "${OTHER}": use a StorageClass whose provisioner is "${OTHER}", such as "slow"`,
      ],
      [
        fromSnapshot("db-snap", { resources: { requests: { storage: "5Gi" } } }),
        'PVC "restored" in namespace "shop" requests 5Gi but its source VolumeSnapshot "db-snap" in namespace "shop" holds 10Gi: request at least 10Gi',
      ],
      [
        fromSnapshot("db-snap", { volumeMode: "Block" }),
        'PVC "restored" in namespace "shop" has volumeMode Block but its source VolumeSnapshot "db-snap" in namespace "shop" was taken from a Filesystem volume: set spec.volumeMode: Filesystem, or annotate VolumeSnapshotContent "content-db-snap" with snapshot.storage.kubernetes.io/allow-volume-mode-change: "true"',
      ],
    ];
    for (const [claim, message] of cases) {
      expect(await refusal(create(claim))).toEqual({ code: 403, message: denial(CLAIMS, message) });
    }
  });

  it("never sees a ConfigMap in spec.dataSource: the API server drops it first (so /mutate must)", async () => {
    const out = await create(fromConfigMap("cm-blank"));
    expect(out.spec?.dataSource).toBeUndefined();
    expect(out.spec?.dataSourceRef).toBeUndefined();
  });

  it("leaves out a namespace labelled vol.kubectl.io/webhook: skip, as shipped", async () => {
    await core.createNamespace({
      body: { metadata: { name: "skipped", labels: { "vol.kubectl.io/webhook": "skip" } } },
    });
    const out = await create(
      pvc(
        "copy",
        {
          resources: { requests: { storage: "1Gi" } },
          dataSource: { kind: "PersistentVolumeClaim", name: "nope" },
        },
        "skipped",
      ),
    );
    expect(out.spec?.dataSource?.name).toBe("nope");
  });

  it("allows a volume mode change where the content carries the annotation", async () => {
    const out = await create(fromSnapshot("allow-snap", { volumeMode: "Block" }));
    expect(out.spec?.volumeMode).toBe("Block");
  });

  it("denies each broken VolumeSnapshot with its message", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { source: { persistentVolumeClaimName: "nope" } },
        'VolumeSnapshot "s" in namespace "shop" takes a snapshot of PVC "nope" in namespace "shop", which does not exist: create the PVC first, or fix spec.source.persistentVolumeClaimName',
      ],
      [
        { source: { persistentVolumeClaimName: "db" }, volumeSnapshotClassName: "other-snaps" },
        `VolumeSnapshot "s" in namespace "shop": VolumeSnapshotClass "other-snaps" is for driver "${OTHER}", not "${DRIVER}": use "snaps"`,
      ],
      [
        { source: { persistentVolumeClaimName: "db" }, volumeSnapshotClassName: "gone" },
        `VolumeSnapshot "s" in namespace "shop": VolumeSnapshotClass "gone" does not exist: use "snaps" (driver "${DRIVER}")`,
      ],
      [
        { source: { persistentVolumeClaimName: "elsewhere" } },
        `VolumeSnapshot "s" in namespace "shop" names no VolumeSnapshotClass and driver "${OTHER}" has no default class: set spec.volumeSnapshotClassName: other-snaps, or annotate VolumeSnapshotClass "other-snaps" with snapshot.storage.kubernetes.io/is-default-class: "true"`,
      ],
    ];
    for (const [spec, message] of cases) {
      expect(await refusal(createSnapshot("s", spec, { dryRun: true }))).toEqual({
        code: 403,
        message: denial(SNAPSHOTS, message),
      });
    }
    // ...and the same snapshot of a Bound claim with a usable class is admitted.
    await createSnapshot(
      "s",
      { source: { persistentVolumeClaimName: "elsewhere" }, volumeSnapshotClassName: "other-snaps" },
      { dryRun: true },
    );
  });

  it("never blocks updates and deletion of a claim whose source is gone", async () => {
    await boundClaim("temp-src", "fast", DRIVER, "1Gi");
    await waitUntil(
      "temp-src to be Bound",
      async () => {
        const c = await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name: "temp-src" });
        return c.status?.phase === "Bound";
      },
      60_000,
    );
    await create(fromPvc("temp-src", { resources: { requests: { storage: "1Gi" } } }, "child"), false);
    await core.deleteNamespacedPersistentVolumeClaim({ namespace: "shop", name: "temp-src" });
    await waitUntil(
      "temp-src to be gone",
      async () => {
        const l = await core.listNamespacedPersistentVolumeClaim({ namespace: "shop" });
        return !l.items.some((c) => c.metadata?.name === "temp-src");
      },
      60_000,
    );
    // The child's source no longer exists; a label, a finalizer, and deletion still work.
    const { code: c1 } = await kubectl(["-n", "shop", "label", "pvc", "child", "tier=gold"]);
    expect(c1).toBe(0);
    await updateClaim("child", (c) => {
      c.metadata!.finalizers = [...(c.metadata?.finalizers ?? []), HOLD];
    });
    await core.deleteNamespacedPersistentVolumeClaim({ namespace: "shop", name: "child" });
    await updateClaim("child", (c) => {
      c.metadata!.finalizers = c.metadata?.finalizers?.filter((f) => f !== HOLD);
    });
    await waitUntil(
      "child to be gone",
      async () => {
        const l = await core.listNamespacedPersistentVolumeClaim({ namespace: "shop" });
        return !l.items.some((c) => c.metadata?.name === "child");
      },
      60_000,
    );
  });
});

// --- optional CRDs: the namespace and populator rules ----------------------------------------

const minimalCrd = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  scope: "Namespaced" | "Cluster",
) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  // Protected *.k8s.io groups need the approval annotation the upstream CRDs carry.
  metadata: {
    name: `${plural}.${group}`,
    annotations: { "api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111" },
  },
  spec: {
    group,
    scope,
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
});

async function installCrd(body: ReturnType<typeof minimalCrd>) {
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify(body));
  await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", `crd/${body.metadata.name}`]);
}

describe("optional CRDs", () => {
  beforeAll(() => register({ mutating: true, validating: true }), 60_000);

  it("denies another namespace until a ReferenceGrant allows it", async () => {
    const cross = () =>
      pvc(
        "cross",
        {
          storageClassName: "fast",
          resources: { requests: { storage: "10Gi" } },
          dataSourceRef: { kind: "PersistentVolumeClaim", name: "db", namespace: "shop" },
        },
        "dev",
      );
    const grantText =
      'a ReferenceGrant in namespace "shop" with from {group: "", kind: PersistentVolumeClaim, namespace: dev} and to {group: "", kind: PersistentVolumeClaim, name: db}';
    await refusedWith(
      () => create(cross()),
      denial(
        CLAIMS,
        `PVC "cross" in namespace "dev" takes its data from PVC "db" in namespace "shop", another namespace, but the ReferenceGrant CRD (gateway.networking.k8s.io) is not installed: install it and create ${grantText}, or copy the source into namespace "dev"`,
      ),
    );
    await installCrd(
      minimalCrd("gateway.networking.k8s.io", "v1beta1", "ReferenceGrant", "referencegrants", "Namespaced"),
    );
    await refusedWith(
      () => create(cross()),
      denial(
        CLAIMS,
        `PVC "cross" in namespace "dev" takes its data from PVC "db" in namespace "shop", another namespace, and no ReferenceGrant allows it: create ${grantText}, or copy the source into namespace "dev"`,
      ),
    );
    await custom.createNamespacedCustomObject({
      group: "gateway.networking.k8s.io",
      version: "v1beta1",
      namespace: "shop",
      plural: "referencegrants",
      body: {
        apiVersion: "gateway.networking.k8s.io/v1beta1",
        kind: "ReferenceGrant",
        metadata: { name: "dev-may-clone" },
        spec: {
          from: [{ group: "", kind: "PersistentVolumeClaim", namespace: "dev" }],
          to: [{ group: "", kind: "PersistentVolumeClaim" }],
        },
      },
    });
    const out = await waitFor(() => create(cross()));
    expect(out.spec?.dataSourceRef).toMatchObject({
      kind: "PersistentVolumeClaim",
      name: "db",
      namespace: "shop",
    });
    expect(out.metadata?.annotations?.[LINEAGE.sourceNamespace]).toBe("shop");
  });

  it("admits a kind a VolumePopulator registers once that CRD exists", async () => {
    const hello = () =>
      pvc("hello", {
        storageClassName: "fast",
        resources: { requests: { storage: "1Gi" } },
        dataSourceRef: { apiGroup: "hello.example.com", kind: "Hello", name: "h" },
      });
    await refusedWith(
      () => create(hello()),
      /no VolumePopulator CRD of populator.storage.k8s.io is installed/,
    );
    await installCrd(
      minimalCrd("populator.storage.k8s.io", "v1beta1", "VolumePopulator", "volumepopulators", "Cluster"),
    );
    await refusedWith(() => create(hello()), /\(no VolumePopulator registers any other kind\)$/);
    await custom.createClusterCustomObject({
      group: "populator.storage.k8s.io",
      version: "v1beta1",
      plural: "volumepopulators",
      body: {
        apiVersion: "populator.storage.k8s.io/v1beta1",
        kind: "VolumePopulator",
        metadata: { name: "hello" },
        sourceKind: { group: "hello.example.com", kind: "Hello" },
      },
    });
    const out = await waitFor(() => create(hello()));
    expect(out.spec?.dataSourceRef?.kind).toBe("Hello");
    expect(out.metadata?.annotations).toBeUndefined();
  });
});

/**
 * Asserts a call is refused with `expected`, allowing a few seconds for the API server's
 * discovery to show a CRD installed a moment ago (it is eventually consistent).
 */
async function refusedWith(call: () => Promise<unknown>, expected: string | RegExp): Promise<void> {
  const matches = (m: string) => (typeof expected === "string" ? m === expected : expected.test(m));
  let last = "";
  await waitUntil(
    "the expected refusal",
    async () => {
      last = (await refusal(call())).message;
      return matches(last);
    },
    20_000,
  ).catch(() => undefined);
  if (typeof expected === "string") expect(last).toBe(expected);
  else expect(last).toMatch(expected);
}

/** Retries a call that should start succeeding (caches catch up) and returns its result. */
async function waitFor<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`still refused: ${String((err as { body?: string }).body ?? err)}`);
      await sleep(200);
    }
  }
}

// --- mutation and validation together: the defaults ----------------------------------------

describe("mutating and validating webhooks together", () => {
  beforeAll(() => register({ mutating: true, validating: true }), 60_000);

  it("fills a missing size from the source and records the lineage", async () => {
    const clone = fromPvc("db", { resources: {} }, "sized");
    delete (clone.spec as Spec).resources;
    const out = await create(clone, false);
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
    const db = await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name: "db" });
    expect(out.metadata?.annotations).toEqual({
      [LINEAGE.sourceKind]: "PersistentVolumeClaim",
      [LINEAGE.sourceName]: "db",
      [LINEAGE.sourceNamespace]: "shop",
      [LINEAGE.sourceUid]: db.metadata?.uid,
    });
    const restore = fromSnapshot("db-snap");
    delete (restore.spec as Spec).resources;
    const r = await create(restore);
    expect(r.spec?.resources?.requests?.storage).toBe("10Gi");
    expect(r.metadata?.annotations?.[LINEAGE.snapshotOf]).toBe("db");
  });

  it("denies a smaller request with the size to ask for, instead of raising it", async () => {
    // Raised, the claim would differ from its manifest, and applying that manifest again would
    // fail once bound ("field can not be less than status.capacity").
    const manifest = JSON.stringify(fromPvc("db", { resources: { requests: { storage: "1Gi" } } }, "small"));
    for (const how of [[], ["--server-side"]]) {
      const r = await kubectl(["apply", ...how, "-f", "-"], manifest);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        denial(
          CLAIMS,
          'PVC "small" in namespace "shop" requests 1Gi but its source PVC "db" in namespace "shop" holds 10Gi: request at least 10Gi',
        ),
      );
    }
  });

  it("denies a ConfigMap in spec.dataSource, instead of a claim created empty", async () => {
    const r = await kubectl(["apply", "-f", "-"], JSON.stringify(fromConfigMap("cm")));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      denial(
        DEFAULTS,
        'PVC "cm" in namespace "shop" has spec.dataSource of kind "ConfigMap" of the core group, which Kubernetes drops, creating the claim empty: spec.dataSource takes a PersistentVolumeClaim or a VolumeSnapshot (snapshot.storage.k8s.io); name a VolumePopulator\'s kind in spec.dataSourceRef instead',
      ),
    );
    const got = await kubectl(["-n", "shop", "get", "pvc", "cm", "--ignore-not-found", "-o", "name"]);
    expect(got.stdout.trim()).toBe("");
  });

  it("applies an admitted manifest again and again, client-side and server-side, once it is Bound", async () => {
    for (const [name, how] of [
      ["gitops-csa", []],
      ["gitops-ssa", ["--server-side"]],
    ] as const) {
      await volumeFor(name, "fast", DRIVER, "10Gi");
      // No size: the webhook fills it in from the source.
      const claim = fromPvc("db", {}, name);
      delete (claim.spec as Spec).resources;
      const manifest = JSON.stringify(claim);
      const first = await kubectl(["apply", ...how, "-f", "-"], manifest);
      expect(first).toMatchObject({ code: 0 });
      await waitUntil(
        `${name} to be Bound`,
        async () =>
          (await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name })).status?.phase ===
          "Bound",
        60_000,
      );
      // Twice more in the same mode (switching modes is a field-manager matter of its own).
      for (const again of [how, how]) {
        const r = await kubectl(["apply", ...again, "-f", "-"], manifest);
        expect({ ...r, stdout: "" }).toEqual({ code: 0, stdout: "", stderr: "" });
        expect(r.stdout).toMatch(
          new RegExp(`persistentvolumeclaim/${name} (unchanged|configured|serverside-applied)`),
        );
      }
      const live = await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name });
      expect(live.spec?.resources?.requests?.storage).toBe("10Gi");
      expect(live.metadata?.annotations?.[LINEAGE.sourceName]).toBe("db");
    }
  });

  it("applies a claim and its clone, or a claim and its snapshot, from one file, warning that they wait", async () => {
    const fresh = (name: string) =>
      pvc(name, { storageClassName: "fast", resources: { requests: { storage: "1Gi" } } });
    const copy = fromPvc("fresh", {}, "fresh-copy");
    delete (copy.spec as Spec).resources;
    const snapshot = {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name: "fresh2-snap", namespace: "shop" },
      spec: { source: { persistentVolumeClaimName: "fresh2" } },
    };
    const cases: [unknown[], string][] = [
      [
        [fresh("fresh"), copy],
        'Warning: PVC "fresh" in namespace "shop" is Pending, not Bound: a clone needs a Bound source, so PVC "fresh-copy" in namespace "shop" would wait until it is',
      ],
      [
        [fresh("fresh2"), snapshot],
        'Warning: PVC "fresh2" in namespace "shop" is Pending, not Bound: a snapshot needs a Bound source, so VolumeSnapshot "fresh2-snap" in namespace "shop" would wait until it is',
      ],
    ];
    for (const [items, warning] of cases) {
      const r = await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "List", items }),
      );
      expect(r.stderr).toContain(warning);
      expect(r.code).toBe(0);
    }
    const made = await core.readNamespacedPersistentVolumeClaim({ namespace: "shop", name: "fresh-copy" });
    expect(made.spec?.resources?.requests?.storage).toBe("1Gi");
  });

  it("leaves a valid clone's spec unchanged (only lineage is added)", async () => {
    const clone = fromPvc("db", { resources: { requests: { storage: "20Gi" } } });
    const out = await create(clone);
    expect(out.spec?.resources).toEqual(clone.spec.resources);
    expect([out.spec?.dataSource?.kind, out.spec?.dataSource?.name]).toEqual(["PersistentVolumeClaim", "db"]);
    expect(Object.keys(out.metadata?.annotations ?? {}).every((k) => k.startsWith("vol.kubectl.io/"))).toBe(
      true,
    );
  });

  it("kubectl apply --dry-run=server behaves the same, and persists nothing", async () => {
    const bad = JSON.stringify(fromPvc("elsewhere", {}, "dry"));
    const r = await kubectl(["apply", "--dry-run=server", "-f", "-"], bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(denial(CLAIMS, 'PVC "dry" in namespace "shop" would be provisioned by'));
    const sizeless = fromSnapshot("db-snap", {}, "dry");
    delete (sizeless.spec as Spec).resources;
    const ok = await kubectl(
      ["apply", "--dry-run=server", "-o", "json", "-f", "-"],
      JSON.stringify(sizeless),
    );
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as V1PersistentVolumeClaim).spec?.resources?.requests?.storage).toBe(
      "10Gi",
    );
    const got = await kubectl(["-n", "shop", "get", "pvc", "dry", "--ignore-not-found", "-o", "name"]);
    expect(got.stdout.trim()).toBe("");
  });

  it("admits a snapshot and a restore from it applied at once, warning that it is not ready", async () => {
    const snapshot = {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name: "together", namespace: "shop" },
      spec: { source: { persistentVolumeClaimName: "db" } },
    };
    const claim = fromSnapshot("together", {}, "together-restore");
    delete (claim.spec as Spec).resources;
    const list = JSON.stringify({ apiVersion: "v1", kind: "List", items: [snapshot, claim] });
    const r = await kubectl(["apply", "-f", "-"], list);
    expect(r.stderr).toContain(
      'Warning: VolumeSnapshot "together" in namespace "shop" is not ready yet: PVC "together-restore" in namespace "shop" stays Pending until it is ready to use',
    );
    expect(r.code).toBe(0);
    const out = await core.readNamespacedPersistentVolumeClaim({
      namespace: "shop",
      name: "together-restore",
    });
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
    expect(out.metadata?.annotations?.[LINEAGE.sourceKind]).toBe("VolumeSnapshot");
  });

  it("logs one JSON line per denial", () => {
    const lines = webhook
      .logTail(2000)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const denied = lines.find((l) => l.msg === "admission" && l.allowed === false && l.name === "dry");
    expect(denied).toMatchObject({
      level: "info",
      path: "/validate",
      kind: "PersistentVolumeClaim",
      dryRun: true,
      // The API server's ?timeout= (the shipped timeoutSeconds), which the answer keeps within.
      timeoutMs: (SHIPPED.validating.webhooks?.[0]?.timeoutSeconds ?? 0) * 1000,
    });
  });
});

describe("SnapshotSchedules", () => {
  const SCHEDULES = validatingFor("snapshotschedules");
  const schedule = (name: string, spec: Record<string, unknown>) =>
    JSON.stringify({
      apiVersion: "vol.kubectl.io/v1alpha1",
      kind: "SnapshotSchedule",
      metadata: { name, namespace: "shop" },
      spec,
    });
  /** `kubectl vol ...` from the sources, as the admin. */
  const vol = (args: string[]) =>
    runCommand(
      process.execPath,
      [path.join(repoRoot, "cmd/kubectl-vol/main.ts"), "--kubeconfig", cp.kubeconfig, "-n", "shop", ...args],
      { PATH: process.env.PATH, HOME: cp.session.dir },
      120_000,
    );
  const EMPTY =
    'the selector "team=none" matches no PVC in namespace "shop" yet: runs fail until a claim carries those labels';
  const GONE =
    'PVC "gone" not found in namespace "shop" yet: runs fail until it exists, so create it or name another claim';
  const OTHER_CLASS = `VolumeSnapshotClass "other-snaps" is for driver "${OTHER}", not "${DRIVER}": use "snaps"`;
  const NO_CLASS = `VolumeSnapshotClass "nope" does not exist: use "snaps" (driver "${DRIVER}")`;

  beforeAll(async () => {
    await cp.kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/snapshotschedule-crd.yaml")]);
    await cp.kubectl([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/snapshotschedules.vol.kubectl.io",
    ]);
    await register({ mutating: true, validating: true });
    // The configurations are in; wait until the API server sends schedules too.
    await waitUntil(
      "schedules to reach the webhook",
      async () => {
        const r = await kubectl(
          ["apply", "--dry-run=server", "-f", "-"],
          schedule("probe", { claim: "db", every: "1h", keep: 1, snapshotClassName: "nope" }),
        );
        return r.stderr.includes(SCHEDULES);
      },
      30_000,
    );
  }, 90_000);

  it("kubectl apply: a good schedule is admitted without a word; a selector matching nothing and a missing claim with a warning", async () => {
    const good = await kubectl(["apply", "-f", "-"], schedule("good", { claim: "db", every: "1h", keep: 3 }));
    expect(good).toEqual({ code: 0, stdout: "snapshotschedule.vol.kubectl.io/good created\n", stderr: "" });
    const empty = await kubectl(
      ["apply", "-f", "-"],
      schedule("empty", { selector: { matchLabels: { team: "none" } }, every: "1h", keep: 3 }),
    );
    expect(empty).toEqual({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/empty created\n",
      stderr: `Warning: ${EMPTY}\n`,
    });
    const gone = await kubectl(
      ["apply", "-f", "-"],
      schedule("gone", { claim: "gone", every: "1h", keep: 3 }),
    );
    expect(gone).toEqual({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/gone created\n",
      stderr: `Warning: ${GONE}\n`,
    });
    // A selector is matched against the namespace's claims, labels and all.
    await updateClaim("db", (c) => {
      c.metadata!.labels = { ...c.metadata?.labels, team: "shop" };
    });
    const matched = await kubectl(
      ["apply", "--dry-run=server", "-f", "-"],
      schedule("team", { selector: { matchLabels: { team: "shop" } }, every: "1h", keep: 3 }),
    );
    expect(matched).toMatchObject({ code: 0, stderr: "" });
  });

  it("kubectl apply: a class of another driver, or one that does not exist, is denied with its message", async () => {
    const other = await kubectl(
      ["apply", "-f", "-"],
      schedule("other", { claim: "db", every: "1h", keep: 3, snapshotClassName: "other-snaps" }),
    );
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(denial(SCHEDULES, OTHER_CLASS));
    const missing = await kubectl(
      ["apply", "-f", "-"],
      schedule("missing", { claim: "db", every: "1h", keep: 3, snapshotClassName: "nope" }),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(denial(SCHEDULES, NO_CLASS));
    const got = await kubectl(["-n", "shop", "get", "snapshotschedules", "-o", "name"]);
    expect(got.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "snapshotschedule.vol.kubectl.io/empty",
      "snapshotschedule.vol.kubectl.io/gone",
      "snapshotschedule.vol.kubectl.io/good",
    ]);
  });

  it("never blocks a status update, a label or a re-apply of a schedule gone bad; checks a change to its spec", async () => {
    const cls = {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshotClass",
      metadata: { name: "retired" },
      driver: DRIVER,
      deletionPolicy: "Delete",
    };
    await cp.kubectl(["apply", "-f", "-"], JSON.stringify(cls));
    const manifest = schedule("aging", { claim: "db", every: "1h", keep: 3, snapshotClassName: "retired" });
    expect((await kubectl(["apply", "-f", "-"], manifest)).code).toBe(0);
    await cp.kubectl(["delete", "volumesnapshotclass", "retired"]);
    const denied = `VolumeSnapshotClass "retired" does not exist: use "snaps" (driver "${DRIVER}")`;
    // The class is gone: a new schedule naming it is denied (once the webhook has seen it go).
    await waitUntil(
      "the webhook to see the class gone",
      async () =>
        (await kubectl(["apply", "--dry-run=server", "-f", "-"], manifest.replace('"aging"', '"aging2"')))
          .code === 1,
      30_000,
    );
    const status = await kubectl([
      "-n",
      "shop",
      "patch",
      "snapshotschedule",
      "aging",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { result: "Failed", reason: "ClassMissing", message: "gone" } }),
    ]);
    expect(status).toMatchObject({ code: 0, stderr: "" });
    const label = await kubectl(["-n", "shop", "label", "snapshotschedule", "aging", "tier=gold"]);
    expect(label).toMatchObject({ code: 0, stderr: "" });
    const again = await kubectl(["apply", "-f", "-"], manifest);
    expect(again).toEqual({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/aging unchanged\n",
      stderr: "",
    });
    const patchSpec = (spec: object) =>
      kubectl([
        "-n",
        "shop",
        "patch",
        "snapshotschedule",
        "aging",
        "--type=merge",
        "-p",
        JSON.stringify({ spec }),
      ]);
    const changed = await patchSpec({ every: "2h" });
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(denial(SCHEDULES, denied));
    const fixed = await patchSpec({ every: "2h", snapshotClassName: "snaps" });
    expect(fixed).toMatchObject({ code: 0, stderr: "" });
    const { stdout } = await cp.kubectl(["-n", "shop", "get", "snapshotschedule", "aging", "-o", "json"]);
    const obj = JSON.parse(stdout) as { status?: { result?: string }; metadata: { labels?: object } };
    expect(obj.status?.result).toBe("Failed");
    expect(obj.metadata.labels).toEqual({ tier: "gold" });
  });

  it("kubectl vol schedule says the same, from the same rules", async () => {
    const good = await vol(["schedule", "db", "--name", "p-good", "--every", "1h", "--keep", "3"]);
    expect(good).toEqual({ code: 0, stdout: "snapshotschedule.vol.kubectl.io/p-good created\n", stderr: "" });
    const empty = await vol([
      "schedule",
      "-l",
      "team=none",
      "--name",
      "p-empty",
      "--every",
      "1h",
      "--keep",
      "3",
    ]);
    expect(empty).toEqual({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/p-empty created\n",
      stderr: `Warning: ${EMPTY}\n`,
    });
    const gone = await vol(["schedule", "gone", "--name", "p-gone", "--every", "1h", "--keep", "3"]);
    expect(gone).toEqual({
      code: 0,
      stdout: "snapshotschedule.vol.kubectl.io/p-gone created\n",
      stderr: `Warning: ${GONE}\n`,
    });
    for (const [cls, message] of [
      ["other-snaps", OTHER_CLASS],
      ["nope", NO_CLASS],
    ] as const) {
      const r = await vol([
        "schedule",
        "db",
        "--name",
        "p-bad",
        "--every",
        "1h",
        "--keep",
        "3",
        "--class",
        cls,
      ]);
      expect(r).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr).toContain(message);
    }
    const bad = await kubectl([
      "-n",
      "shop",
      "get",
      "snapshotschedule",
      "p-bad",
      "--ignore-not-found",
      "-o",
      "name",
    ]);
    expect(bad.stdout).toBe("");
  }, 180_000);
});

describe("watch-backed cache", () => {
  it("lists in pages, follows creations and deletions through the watch, without managed fields", async () => {
    const cache = new KubeCache(await connect({ kubeconfig: cp.kubeconfig }), { listPage: 2, retryMs: 200 });
    try {
      await cache.start();
      expect(cache.ready()).toBe(true);
      // Every resource is served by now, the minimal optional CRDs included.
      expect(Object.values(cache.states()).every((st) => st === "synced")).toBe(true);
      const db = cache.peek("pvcs", "db", "shop") as V1PersistentVolumeClaim;
      expect(db.status?.phase).toBe("Bound");
      expect(db.metadata?.managedFields).toBeUndefined();
      expect(cache.peek("pvcs", "elsewhere", "shop")).toBeDefined();
      await core.createNamespacedPersistentVolumeClaim({
        namespace: "shop",
        body: pvc("watched", { storageClassName: "fast", resources: { requests: { storage: "1Gi" } } }),
      });
      await waitUntil(
        "the cache to see the new claim",
        async () => !!cache.peek("pvcs", "watched", "shop"),
        20_000,
      );
      await core.deleteNamespacedPersistentVolumeClaim({ namespace: "shop", name: "watched" });
      await waitUntil(
        "the cache to drop the deleted claim",
        async () => !cache.peek("pvcs", "watched", "shop"),
        60_000,
      );
    } finally {
      cache.stop();
    }
  });
});

describe("shutdown", () => {
  it("stops cleanly on SIGTERM, logging it", async () => {
    await webhook.stop();
    expect(webhook.exitCode).toBe(0);
    const last = webhook
      .logTail(5)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(last.map((l) => l.msg).slice(-2)).toEqual(["stopping", "stopped"]);
    expect(last.find((l) => l.msg === "stopping")?.signal).toBe("SIGTERM");
  });
});

// The rules for a PersistentVolumeClaim with a data source (clone from a PVC, restore from a
// VolumeSnapshot, or a VolumePopulator's kind). Pure: reads only through the Lookup.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { compareQuantities, formatBytes, parseQuantity } from "./quantity.ts";
import {
  ALLOW_VOLUME_MODE_CHANGE_ANNOTATION,
  claimClass,
  claimName,
  claimNamespace,
  claimSize,
  type DataSource,
  dataSourceOf,
  decide,
  GATEWAY_API_GROUP,
  granted,
  isDeleting,
  POPULATOR_API_GROUP,
  pvcName,
  requestOf,
  restoreSizeOf,
  SNAPSHOT_API_GROUP,
  snapshotName,
  sourceName,
  volumeDriver,
  volumeModeOf,
} from "./source.ts";
import type { Decision, Finding, Lookup, Operation, VolumeSnapshot, VolumeSnapshotContent } from "./types.ts";
import { nonCsiSourceFinding } from "./volume.ts";

const deny = (rule: string, message: string): Finding => ({ rule, severity: "deny", message });
const warn = (rule: string, message: string): Finding => ({ rule, severity: "warn", message });

/**
 * The kind and namespace rules, shared by checkClaim and defaultClaim: whether the claim may
 * use this source at all. Nothing in another namespace is read before a ReferenceGrant allows it.
 */
export async function sourcePermitted(
  claim: V1PersistentVolumeClaim,
  src: DataSource,
  lookup: Lookup,
): Promise<Finding[]> {
  const me = claimName(claim);
  if (src.type === "other") {
    const populators = await lookup.populatorKinds();
    const registered = (populators ?? []).some((p) => p.group === src.apiGroup && p.kind === src.kind);
    if (!registered) {
      const allowed = ["PersistentVolumeClaim", `VolumeSnapshot (${SNAPSHOT_API_GROUP})`];
      const extra =
        populators === undefined
          ? ` (no VolumePopulator CRD of ${POPULATOR_API_GROUP} is installed, so no other kind can be)`
          : populators.length === 0
            ? " (no VolumePopulator registers any other kind)"
            : `, or a kind a VolumePopulator registers: ${populators
                .map((p) => (p.group ? `${p.kind} (${p.group})` : p.kind))
                .join(", ")}`;
      const group = src.apiGroup ? ` of group "${src.apiGroup}"` : ` of the core group`;
      return [
        deny(
          "source-kind",
          `${me} has a data source of kind "${src.kind}"${group}, which cannot be a data source: use a ${allowed.join(" or a ")}${extra}`,
        ),
      ];
    }
  }
  if (src.crossNamespace) {
    const ns = claimNamespace(claim);
    const grants = await lookup.referenceGrants(src.namespace);
    const grantText = `a ReferenceGrant in namespace "${src.namespace}" with from {group: "", kind: PersistentVolumeClaim, namespace: ${ns}} and to {group: "${src.apiGroup}", kind: ${src.kind}, name: ${src.name}}`;
    if (grants === undefined) {
      return [
        deny(
          "source-namespace",
          `${me} takes its data from ${sourceName(src)}, another namespace, but the ReferenceGrant CRD (${GATEWAY_API_GROUP}) is not installed: install it and create ${grantText}, or copy the source into namespace "${ns}"`,
        ),
      ];
    }
    if (!granted(grants, ns, src)) {
      return [
        deny(
          "source-namespace",
          `${me} takes its data from ${sourceName(src)}, another namespace, and no ReferenceGrant allows it: create ${grantText}, or copy the source into namespace "${ns}"`,
        ),
      ];
    }
  }
  return [];
}

/**
 * A `spec.dataSource` that Kubernetes drops before it creates the claim (any kind but a core
 * PersistentVolumeClaim or a VolumeSnapshot, when no `spec.dataSourceRef` is set): the claim
 * would be created empty. Only a mutating webhook sees it (the API server drops it before
 * validation), and the plugin's pre-flight.
 */
export function droppedDataSource(claim: V1PersistentVolumeClaim): Finding | undefined {
  const ds = claim.spec?.dataSource;
  if (!ds?.kind || claim.spec?.dataSourceRef?.kind) return undefined;
  const group = ds.apiGroup ?? "";
  if (
    (group === "" && ds.kind === "PersistentVolumeClaim") ||
    (group === SNAPSHOT_API_GROUP && ds.kind === "VolumeSnapshot")
  )
    return undefined;
  const of = group ? `of group "${group}"` : "of the core group";
  return deny(
    "source-kind",
    `${claimName(claim)} has spec.dataSource of kind "${ds.kind}" ${of}, which Kubernetes drops, creating the claim empty: spec.dataSource takes a PersistentVolumeClaim or a VolumeSnapshot (${SNAPSHOT_API_GROUP}); name a VolumePopulator's kind in spec.dataSourceRef instead`,
  );
}

/** The source objects of a permitted clone or restore, as far as they exist. */
export interface Sources {
  src: DataSource;
  /** clone: the source PVC. */
  pvc?: V1PersistentVolumeClaim;
  /** restore: the VolumeSnapshot, its bound content, and the PVC it was taken from (if it still exists). */
  snapshot?: VolumeSnapshot;
  content?: VolumeSnapshotContent;
  snapshotPvc?: V1PersistentVolumeClaim;
}

export async function readSources(src: DataSource, lookup: Lookup): Promise<Sources> {
  if (src.type === "clone") return { src, pvc: await lookup.pvc(src.namespace, src.name) };
  if (src.type !== "restore") return { src };
  const snapshot = await lookup.volumeSnapshot(src.namespace, src.name);
  if (!snapshot) return { src };
  const contentName = snapshot.status?.boundVolumeSnapshotContentName;
  const content = contentName ? await lookup.volumeSnapshotContent(contentName) : undefined;
  const pvcN = snapshot.spec?.source?.persistentVolumeClaimName;
  const snapshotPvc = pvcN ? await lookup.pvc(src.namespace, pvcN) : undefined;
  return { src, snapshot, content, snapshotPvc };
}

/** The driver rule's check of the new claim's StorageClass against the source's driver. */
async function driverFindings(
  claim: V1PersistentVolumeClaim,
  lookup: Lookup,
  rule: string,
  what: string,
  sourceDriver: string | undefined,
): Promise<Finding[]> {
  const me = claimName(claim);
  const cls = await claimClass(claim, lookup);
  // The fix names the classes there are for the source's driver (read only when denying or warning).
  const wanted = async () => {
    if (!sourceDriver) return "";
    const names = (await lookup.storageClasses())
      .filter((c) => c.provisioner === sourceDriver && c.metadata?.name)
      .map((c) => `"${c.metadata?.name}"`)
      .sort();
    const such =
      names.length > 0 ? `, such as ${names.slice(0, 3).join(" or ")}` : " (there is none yet: create one)";
    return ` whose provisioner is "${sourceDriver}"${such}`;
  };
  switch (cls.kind) {
    case "none":
      return [
        deny(
          rule,
          `${me} sets storageClassName: "" (no dynamic provisioning), so nothing would copy the data of ${what}: name a StorageClass${await wanted()}`,
        ),
      ];
    case "missing":
      return [
        warn(
          rule,
          `StorageClass "${cls.name}" named by ${me} does not exist yet, so its driver could not be checked against ${what}`,
        ),
      ];
    case "no-default":
      return [
        warn(
          rule,
          `${me} names no StorageClass and there is no default class, so it stays Pending: name a StorageClass${await wanted()}`,
        ),
      ];
    case "class":
      if (!sourceDriver) {
        return [warn(rule, `the CSI driver of ${what} is unknown, so it could not be checked against ${me}`)];
      }
      if (cls.class.provisioner !== sourceDriver) {
        return [
          deny(
            rule,
            `${me} would be provisioned by "${cls.class.provisioner}" (StorageClass "${cls.name}") but ${what} is on driver "${sourceDriver}": use a StorageClass${await wanted()}`,
          ),
        ];
      }
      return [];
  }
}

function sizeFinding(
  claim: V1PersistentVolumeClaim,
  rule: string,
  what: string,
  sourceSize: string | number | undefined,
): Finding[] {
  const request = requestOf(claim);
  if (request === undefined || sourceSize === undefined) return [];
  if (compareQuantities(request, sourceSize) !== -1) return [];
  const need = formatBytes(parseQuantity(sourceSize) as bigint);
  return [
    deny(rule, `${claimName(claim)} requests ${request} but ${what} holds ${need}: request at least ${need}`),
  ];
}

async function cloneFindings(claim: V1PersistentVolumeClaim, s: Sources, lookup: Lookup): Promise<Finding[]> {
  const { src, pvc } = s;
  const me = claimName(claim);
  const source = pvcName(src.namespace, src.name);
  if (!pvc) {
    return [
      deny(
        "clone-source-exists",
        `${source} does not exist: create it first, or fix the data source of ${me}`,
      ),
    ];
  }
  if (isDeleting(pvc)) {
    return [
      deny(
        "clone-source-deleting",
        `${source} is being deleted: a clone needs a source that stays; clone another PVC`,
      ),
    ];
  }
  const findings: Finding[] = [];
  const phase = pvc.status?.phase ?? "Pending";
  if (phase === "Pending") {
    findings.push({
      rule: "clone-source-bound",
      severity: "wait",
      message: `${source} is Pending, not Bound: a clone needs a Bound source, so ${me} would wait until it is`,
    });
  } else if (phase !== "Bound") {
    return [
      deny(
        "clone-source-bound",
        `${source} is ${phase}, not Bound: a clone needs a Bound source; clone another PVC`,
      ),
    ];
  } else {
    const notCsi = await nonCsiSourceFinding(pvc, lookup, "clone-source-csi", "clone");
    if (notCsi) return [notCsi];
  }
  findings.push(
    ...(await driverFindings(
      claim,
      lookup,
      "clone-driver",
      `its source ${source}`,
      await volumeDriver(pvc, lookup),
    )),
  );
  const mode = volumeModeOf(claim);
  const srcMode = volumeModeOf(pvc);
  if (mode !== srcMode) {
    findings.push(
      deny(
        "clone-volume-mode",
        `${me} has volumeMode ${mode} but its source ${source} is ${srcMode}: set spec.volumeMode: ${srcMode}`,
      ),
    );
  }
  findings.push(...sizeFinding(claim, "clone-size", `its source ${source}`, claimSize(pvc)));
  return findings;
}

async function restoreFindings(
  claim: V1PersistentVolumeClaim,
  s: Sources,
  lookup: Lookup,
): Promise<Finding[]> {
  const { src, snapshot, content, snapshotPvc } = s;
  const me = claimName(claim);
  const source = snapshotName(src.namespace, src.name);
  if (!snapshot) {
    return [
      deny(
        "restore-source-exists",
        `${source} does not exist: create it first, or fix the data source of ${me}`,
      ),
    ];
  }
  if (isDeleting(snapshot)) {
    return [deny("restore-source-deleting", `${source} is being deleted: restore from another snapshot`)];
  }
  const error = snapshot.status?.error?.message ?? content?.status?.error?.message;
  if (error) {
    return [
      deny(
        "restore-source-error",
        `${source} failed (${error}): fix the cause and take the snapshot again, or restore from another snapshot`,
      ),
    ];
  }
  const findings: Finding[] = [];
  if (snapshot.status?.readyToUse !== true) {
    findings.push(
      warn(
        "restore-source-ready",
        `${source} is not ready yet: ${me} stays Pending until it is ready to use`,
      ),
    );
  }
  // The driver: the bound content's, else the named class's, else the snapshotted volume's.
  let driver = content?.spec?.driver;
  if (!driver && snapshot.spec?.volumeSnapshotClassName) {
    const name = snapshot.spec.volumeSnapshotClassName;
    driver = (await lookup.volumeSnapshotClasses()).find((c) => c.metadata.name === name)?.driver;
  }
  if (!driver && snapshotPvc) driver = await volumeDriver(snapshotPvc, lookup);
  findings.push(...(await driverFindings(claim, lookup, "restore-driver", `its source ${source}`, driver)));

  const mode = volumeModeOf(claim);
  const contentMode = content?.spec?.sourceVolumeMode;
  if (contentMode && content) {
    const allowed = content.metadata?.annotations?.[ALLOW_VOLUME_MODE_CHANGE_ANNOTATION] === "true";
    if (contentMode !== mode && !allowed) {
      findings.push(
        deny(
          "restore-volume-mode",
          `${me} has volumeMode ${mode} but its source ${source} was taken from a ${contentMode} volume: set spec.volumeMode: ${contentMode}, or annotate VolumeSnapshotContent "${content.metadata.name}" with ${ALLOW_VOLUME_MODE_CHANGE_ANNOTATION}: "true"`,
        ),
      );
    }
  } else if (snapshotPvc && volumeModeOf(snapshotPvc) !== mode) {
    const srcMode = volumeModeOf(snapshotPvc);
    findings.push(
      warn(
        "restore-volume-mode",
        `${me} has volumeMode ${mode} but its source ${source} is being taken from a ${srcMode} volume: the restore will be refused unless spec.volumeMode is ${srcMode}`,
      ),
    );
  }
  findings.push(
    ...sizeFinding(claim, "restore-size", `its source ${source}`, restoreSizeOf(snapshot, content)),
  );
  return findings;
}

/**
 * Rules for a claim. On CREATE with spec.dataSource or spec.dataSourceRef: the kind, the
 * namespace (ReferenceGrant), then the clone or restore rules. Any other operation passes:
 * the source of an existing claim is immutable, and finalizers, labels, annotations, status
 * and deletion must keep working.
 */
export async function checkClaim(
  claim: V1PersistentVolumeClaim,
  lookup: Lookup,
  op: Operation = "CREATE",
): Promise<Decision> {
  if (op !== "CREATE") return decide([]);
  const dropped = droppedDataSource(claim);
  if (dropped) return decide([dropped]);
  const src = dataSourceOf(claim);
  if (!src) return decide([]);
  const permitted = await sourcePermitted(claim, src, lookup);
  if (permitted.length > 0 || src.type === "other") return decide(permitted);
  const sources = await readSources(src, lookup);
  return decide(
    src.type === "clone"
      ? await cloneFindings(claim, sources, lookup)
      : await restoreFindings(claim, sources, lookup),
  );
}

// The VolumeGroupSnapshot rules (groupsnapshot.storage.k8s.io/v1), shared by the webhook and
// `kubectl vol snapshot -l`: the selector matches at least one claim in the namespace; every
// member is Bound, on a CSI volume, of one CSI driver, and — for a node-local driver — on one
// node; a VolumeGroupSnapshotClass exists for that driver. Pure: reads only through the Lookup.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { SELECTED_NODE } from "./defaults.ts";
import { isNodeCopy } from "./node-classes.ts";
import { type LabelSelector, matchesSelector, selectorString } from "./selector.ts";
import { chooseClass } from "./snapshot.ts";
import { decide, GROUP_SNAPSHOT_API_GROUP, isDeleting, volumeDriver } from "./source.ts";
import type {
  ClassChoice,
  Decision,
  Finding,
  Lookup,
  Operation,
  VolumeGroupSnapshot,
  VolumeGroupSnapshotClass,
  VolumeSnapshot,
} from "./types.ts";
import { nonCsiSourceFinding } from "./volume.ts";

/** The annotation that marks a VolumeGroupSnapshotClass as its driver's default. */
export const DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION = "groupsnapshot.storage.kubernetes.io/is-default-class";

/**
 * CSI drivers whose volumes live on one node (kubectl-vol's own): one group snapshot of such a
 * driver can only hold volumes of one node.
 */
export const NODE_LOCAL_DRIVERS: readonly string[] = ["vol.kubectl.io"];
/** The topology keys that name a node: a volume whose node affinity uses one lives on that node. */
const NODE_KEYS = ["topology.vol.kubectl.io/node", "kubernetes.io/hostname"];

const deny = (rule: string, message: string): Finding => ({ rule, severity: "deny", message });
const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");

/** `PVC "a"` or `PVCs "a", "b"` (in namespace "ns"). */
function claimsText(names: string[], namespace: string): string {
  return `${names.length === 1 ? "PVC" : "PVCs"} ${quoted(names)} in namespace "${namespace}"`;
}

export function groupSnapshotName(namespace: string, name: string): string {
  return `VolumeGroupSnapshot "${name}" in namespace "${namespace}"`;
}

/**
 * The node holding a claim's volume: the PersistentVolume's node affinity on a node key
 * (topology.vol.kubectl.io/node, kubernetes.io/hostname) when it pins one node, else the
 * claim's `volume.kubernetes.io/selected-node` (as defaultClaim reads it).
 */
export function claimNode(
  pvc: V1PersistentVolumeClaim,
  pv: V1PersistentVolume | undefined,
): string | undefined {
  for (const term of pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
    for (const e of term.matchExpressions ?? []) {
      if (NODE_KEYS.includes(e.key) && e.operator === "In" && e.values?.length === 1) return e.values[0];
    }
  }
  return pvc.metadata?.annotations?.[SELECTED_NODE] || undefined;
}

/** Whether a driver keeps each volume on one node: one of NODE_LOCAL_DRIVERS, or its volumes say so. */
function nodeLocal(driver: string, pvs: (V1PersistentVolume | undefined)[]): boolean {
  if (NODE_LOCAL_DRIVERS.includes(driver)) return true;
  return pvs.some((pv) =>
    (pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []).some((t) =>
      (t.matchExpressions ?? []).some((e) => e.key === NODE_KEYS[0]),
    ),
  );
}

/** Picks the VolumeGroupSnapshotClass for `driver`: named, else its default class, else its only one. */
export function chooseGroupSnapshotClass(
  driver: string,
  classes: VolumeGroupSnapshotClass[],
  named?: string,
): ClassChoice<VolumeGroupSnapshotClass> {
  return chooseClass(
    "VolumeGroupSnapshotClass",
    DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION,
    driver,
    // vol-controller's per-node copies are not for users to choose (node-classes.ts).
    classes.filter((c) => !isNodeCopy(c)),
    named,
  );
}

/** What the rules found out about a group: its members, their one driver and node, the class. */
export interface GroupFacts {
  /** The claims the selector matches, by name. */
  members: V1PersistentVolumeClaim[];
  /** The members' one CSI driver, when they have one. */
  driver?: string;
  /** The members' one node, for a node-local driver. */
  node?: string;
  /** The class chosen for the driver, once the members passed. */
  choice?: ClassChoice<VolumeGroupSnapshotClass>;
  /** Denials (at most one rule's) and warnings. */
  findings: Finding[];
}

/**
 * The members of a group snapshot of `selector` in `namespace`, and whether they can be one
 * group (rules group-selector, group-member-bound, group-member-csi, group-driver, group-node,
 * group-class, in that order; the first that denies stops the check). `what` names the group in
 * messages. Needs the Lookup's `pvcs`; without it, a warning that nothing could be checked.
 */
export async function groupFacts(
  namespace: string,
  selector: LabelSelector,
  className: string | undefined,
  lookup: Lookup,
  what = "the group snapshot",
): Promise<GroupFacts> {
  if (!lookup.pvcs) {
    return {
      members: [],
      findings: [
        { rule: "group-selector", severity: "warn", message: `the claims of ${what} could not be read` },
      ],
    };
  }
  const all = await lookup.pvcs(namespace);
  const members = all
    .filter((c) => matchesSelector(c.metadata?.labels ?? {}, selector))
    .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const name = (c: V1PersistentVolumeClaim) => c.metadata?.name ?? "";
  const stop = (rule: string, message: string): GroupFacts => ({ members, findings: [deny(rule, message)] });
  const sel = selectorString(selector);

  if (members.length === 0) {
    const there =
      all.length === 0 ? "there is no PVC there" : `none of its ${all.length} PVCs has those labels`;
    return stop(
      "group-selector",
      `${what} selects no PVC in namespace "${namespace}" (selector ${sel ? `"${sel}"` : "{}"}; ${there}): label the claims to snapshot together${sel ? ` with ${sel}` : ""}, or fix the selector`,
    );
  }

  const unbound = members.filter((c) => (c.status?.phase ?? "Pending") !== "Bound" || isDeleting(c));
  if (unbound.length > 0) {
    const one = unbound.length === 1;
    const states = unbound.map(
      (c) => `"${name(c)}" (${isDeleting(c) ? "being deleted" : (c.status?.phase ?? "Pending")})`,
    );
    return stop(
      "group-member-bound",
      `${what} needs every member Bound, and ${one ? "PVC" : "PVCs"} ${states.join(", ")} in namespace "${namespace}" ${one ? "is" : "are"} not: wait until ${one ? "it is" : "they are"} Bound, or take the selector's labels off ${one ? "it" : "them"}`,
    );
  }

  for (const c of members) {
    const notCsi = await nonCsiSourceFinding(c, lookup, "group-member-csi", "snapshot");
    if (notCsi) return stop(notCsi.rule, `${notCsi.message}, or take the selector's labels off it`);
  }

  const pvs = await Promise.all(
    members.map((c) =>
      c.spec?.volumeName && lookup.persistentVolume ? lookup.persistentVolume(c.spec.volumeName) : undefined,
    ),
  );
  const drivers = await Promise.all(members.map((c) => volumeDriver(c, lookup)));
  const unknown = members.filter((_, i) => !drivers[i]).map(name);
  if (unknown.length > 0) {
    return stop(
      "group-driver",
      `the CSI driver of ${claimsText(unknown, namespace)} is unknown (no CSI volume and no StorageClass), so ${what} cannot be checked: give ${unknown.length === 1 ? "it" : "them"} a StorageClass, or remove the selector's labels from ${unknown.length === 1 ? "it" : "them"}`,
    );
  }
  const byDriver = groupBy(members.map((c, i) => [drivers[i] as string, name(c)]));
  if (byDriver.size > 1) {
    const parts = [...byDriver].map(([d, names]) => `${quoted(names)} on driver "${d}"`);
    return stop(
      "group-driver",
      `${what} mixes CSI drivers (PVCs ${parts.join(" and ")}, in namespace "${namespace}"): one group snapshot is cut by one driver, so narrow the selector to the claims of one driver`,
    );
  }
  const driver = drivers[0] as string;

  let node: string | undefined;
  if (nodeLocal(driver, pvs)) {
    const nodes = members.map((c, i) => claimNode(c, pvs[i]));
    const byNode = groupBy(members.map((c, i) => [nodes[i] ?? "", name(c)]));
    const known = [...byNode].filter(([n]) => n);
    if (known.length > 1) {
      const parts = known.map(([n, names]) => `${quoted(names)} on node "${n}"`);
      return {
        members,
        driver,
        findings: [
          deny(
            "group-node",
            `${what} spans nodes (PVCs ${parts.join(" and ")}, in namespace "${namespace}"): driver "${driver}" keeps each volume on its node, so one group snapshot can only hold the claims of one node; narrow the selector to one node's claims`,
          ),
        ],
      };
    }
    node = known[0]?.[0];
  }

  const classes = lookup.volumeGroupSnapshotClasses ? await lookup.volumeGroupSnapshotClasses() : undefined;
  if (classes === undefined) {
    return {
      members,
      driver,
      node,
      findings: [
        deny(
          "group-class",
          `the VolumeGroupSnapshotClass API (${GROUP_SNAPSHOT_API_GROUP}/v1) is not installed, so ${what} has no class: install the group snapshot CRDs and create a VolumeGroupSnapshotClass with driver: ${driver}`,
        ),
      ],
    };
  }
  const choice = chooseGroupSnapshotClass(driver, classes, className);
  const findings = choice.ok ? [] : [deny("group-class", `${what}: ${choice.message}`)];
  return { members, driver, node, choice, findings };
}

/** The group a VolumeSnapshot is a member of (its owner, else its status), if any. */
export function memberOf(snap: VolumeSnapshot): { name: string; uid?: string } | undefined {
  const owner = (snap.metadata.ownerReferences ?? []).find((o) => o.kind === "VolumeGroupSnapshot" && o.name);
  if (owner?.name) return { name: owner.name, uid: owner.uid };
  const name = snap.status?.volumeGroupSnapshotName;
  return name ? { name } : undefined;
}

/** The members of `group` among `snapshots` (one namespace), by the claim each was taken of. */
export function groupMembers(group: VolumeGroupSnapshot, snapshots: VolumeSnapshot[]): VolumeSnapshot[] {
  const uid = group.metadata.uid;
  return snapshots
    .filter((s) => {
      const m = memberOf(s);
      return m && (uid && m.uid ? m.uid === uid : m.name === group.metadata.name);
    })
    .sort(
      (a, b) =>
        memberClaim(a).localeCompare(memberClaim(b)) || a.metadata.name.localeCompare(b.metadata.name),
    );
}

/** The claim a member was taken of ("" when snapshot-controller found no claim for its volume). */
export function memberClaim(s: { spec?: { source?: { persistentVolumeClaimName?: string } } }): string {
  return s.spec?.source?.persistentVolumeClaimName ?? "";
}

/** The status fields readiness reads, of a group snapshot or a VolumeSnapshot. */
interface Readiness {
  status?: { readyToUse?: boolean; error?: { message?: string } };
}

/**
 * Whether a group snapshot can be restored from: the group is ready without an error and so is
 * every member (snapshot-controller may mark the group before the last member's status is
 * written, so the group's own flag is not enough).
 */
export function groupReady(group: Readiness, members: readonly Readiness[]): boolean {
  return (
    group.status?.readyToUse === true &&
    !group.status.error?.message &&
    members.length > 0 &&
    members.every((m) => m.status?.readyToUse === true && !m.status.error?.message)
  );
}

/**
 * A group snapshot of the claims `selector` matches, with the class chosen for their driver
 * (the plugin's `snapshot -l` and a group SnapshotSchedule's slots).
 */
export function buildGroupSnapshot(a: {
  namespace: string;
  name: string;
  selector: LabelSelector;
  className: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}): VolumeGroupSnapshot {
  return {
    apiVersion: `${GROUP_SNAPSHOT_API_GROUP}/v1`,
    kind: "VolumeGroupSnapshot",
    metadata: {
      name: a.name,
      namespace: a.namespace,
      ...(a.labels ? { labels: a.labels } : {}),
      ...(a.annotations ? { annotations: a.annotations } : {}),
    },
    spec: { volumeGroupSnapshotClassName: a.className, source: { selector: a.selector } },
  };
}

/** Names grouped by a key, keys in first-seen order, names sorted. */
function groupBy(pairs: [string, string][]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of pairs) m.set(k, [...(m.get(k) ?? []), v]);
  for (const v of m.values()) v.sort();
  return m;
}

/**
 * Rules for a VolumeGroupSnapshot. On CREATE with spec.source.selector: groupFacts; and with no
 * class named, the driver must have a default class (snapshot-controller picks only a default;
 * the only class is named in the fix). A pre-provisioned group (volumeGroupSnapshotContentName)
 * passes. Any other operation passes: status, finalizer and label updates must keep working.
 */
export async function checkGroupSnapshot(
  group: VolumeGroupSnapshot,
  lookup: Lookup,
  op: Operation = "CREATE",
): Promise<Decision> {
  if (op !== "CREATE") return decide([]);
  const selector = group.spec?.source?.selector;
  if (!selector) return decide([]);
  const ns = group.metadata?.namespace || "default";
  const me = group.metadata?.name
    ? groupSnapshotName(ns, group.metadata.name)
    : `VolumeGroupSnapshot (unnamed) in namespace "${ns}"`;
  const named = group.spec?.volumeGroupSnapshotClassName || undefined;
  const facts = await groupFacts(ns, selector, named, lookup, me);
  const choice = facts.choice;
  if (choice?.ok && choice.how === "only") {
    const c = choice.class.metadata.name;
    facts.findings.push(
      deny(
        "group-class",
        `${me} names no VolumeGroupSnapshotClass and driver "${facts.driver}" has no default class: set spec.volumeGroupSnapshotClassName: ${c}, or annotate VolumeGroupSnapshotClass "${c}" with ${DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION}: "true"`,
      ),
    );
  }
  return decide(facts.findings);
}

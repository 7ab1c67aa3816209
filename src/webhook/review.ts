// AdmissionReview v1: decoding a request body into a checked AdmissionRequest (or a reason
// for HTTP 400) and encoding a response. Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Operation, SnapshotContentLike, VolumeGroupSnapshot, VolumeSnapshot } from "../rules/index.ts";
import type { SnapshotSchedule } from "../rules/schedule/spec.ts";

export const REVIEW_API_VERSION = "admission.k8s.io/v1";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** The kinds this webhook handles. */
export type Subject =
  | { kind: "PersistentVolumeClaim"; object?: V1PersistentVolumeClaim; oldObject?: V1PersistentVolumeClaim }
  | { kind: "VolumeSnapshot"; object?: VolumeSnapshot; oldObject?: VolumeSnapshot }
  | { kind: "SnapshotSchedule"; object?: SnapshotSchedule; oldObject?: SnapshotSchedule }
  | { kind: "VolumeGroupSnapshot"; object?: VolumeGroupSnapshot; oldObject?: VolumeGroupSnapshot }
  | {
      kind: "VolumeSnapshotContent" | "VolumeGroupSnapshotContent";
      object?: SnapshotContentLike;
      oldObject?: SnapshotContentLike;
    };

export interface AdmissionRequest {
  uid: string;
  operation: Operation;
  namespace?: string;
  name?: string;
  dryRun: boolean;
  gvk: GroupVersionKind;
  subject: Subject;
}

export interface AdmissionResponse {
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  /** RFC 6902 operations; sent base64-encoded with patchType JSONPatch. */
  patch?: unknown[];
  warnings?: string[];
}

export class BadRequest extends Error {
  override name = "BadRequest";
}

const OPERATIONS = new Set<Operation>(["CREATE", "UPDATE", "DELETE", "CONNECT"]);

type Shape = "string" | "object" | "strings" | "number" | "boolean" | "objects";

// The fields the rules read, with the JSON type each must have when present (null = absent).
const PVC_SHAPE: Record<string, Shape> = {
  metadata: "object",
  "metadata.name": "string",
  "metadata.generateName": "string",
  "metadata.namespace": "string",
  "metadata.uid": "string",
  "metadata.annotations": "strings",
  "metadata.labels": "strings",
  spec: "object",
  "spec.storageClassName": "string",
  "spec.volumeMode": "string",
  "spec.volumeName": "string",
  "spec.resources": "object",
  "spec.resources.requests": "strings",
  "spec.dataSource": "object",
  "spec.dataSource.apiGroup": "string",
  "spec.dataSource.kind": "string",
  "spec.dataSource.name": "string",
  "spec.dataSourceRef": "object",
  "spec.dataSourceRef.apiGroup": "string",
  "spec.dataSourceRef.kind": "string",
  "spec.dataSourceRef.name": "string",
  "spec.dataSourceRef.namespace": "string",
  status: "object",
};

// Snapshot contents, for their managed-by label (the volume handles are checked where read).
const CONTENT_SHAPE: Record<string, Shape> = {
  metadata: "object",
  "metadata.name": "string",
  "metadata.labels": "strings",
  spec: "object",
  "spec.driver": "string",
  "spec.source": "object",
  "spec.source.volumeHandle": "string",
  "spec.volumeGroupSnapshotClassName": "string",
};

const SNAPSHOT_SHAPE: Record<string, Shape> = {
  metadata: "object",
  "metadata.name": "string",
  "metadata.generateName": "string",
  "metadata.namespace": "string",
  "metadata.annotations": "strings",
  spec: "object",
  "spec.source": "object",
  "spec.source.persistentVolumeClaimName": "string",
  "spec.source.volumeSnapshotContentName": "string",
  "spec.volumeSnapshotClassName": "string",
  status: "object",
};

const SCHEDULE_SHAPE: Record<string, Shape> = {
  metadata: "object",
  "metadata.name": "string",
  "metadata.namespace": "string",
  "metadata.labels": "strings",
  "metadata.annotations": "strings",
  spec: "object",
  "spec.claim": "string",
  "spec.selector": "object",
  "spec.selector.matchLabels": "strings",
  "spec.selector.matchExpressions": "objects",
  "spec.every": "string",
  "spec.cron": "string",
  "spec.timeZone": "string",
  "spec.keep": "number",
  "spec.maxAge": "string",
  "spec.snapshotClassName": "string",
  "spec.suspend": "boolean",
  status: "object",
};

const GROUP_SNAPSHOT_SHAPE: Record<string, Shape> = {
  metadata: "object",
  "metadata.name": "string",
  "metadata.generateName": "string",
  "metadata.namespace": "string",
  "metadata.annotations": "strings",
  "metadata.labels": "strings",
  spec: "object",
  "spec.source": "object",
  "spec.source.selector": "object",
  "spec.source.selector.matchLabels": "strings",
  "spec.source.volumeGroupSnapshotContentName": "string",
  "spec.volumeGroupSnapshotClassName": "string",
  status: "object",
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const WHAT: Record<Shape, string> = {
  string: "a string",
  object: "an object",
  strings: "a map of strings",
  number: "a number",
  boolean: "a boolean",
  objects: "a list of objects",
};

/** A shape with its paths split once, not on every request. */
type CompiledShape = { path: string; parts: string[]; want: Shape }[];

const compile = (shape: Record<string, Shape>): CompiledShape =>
  Object.entries(shape).map(([path, want]) => ({ path, parts: path.split("."), want }));

function isStrings(v: Record<string, unknown>): boolean {
  for (const k in v) if (typeof v[k] !== "string") return false;
  return true;
}

function checkShape(obj: unknown, shape: CompiledShape, where: string): void {
  if (!isObject(obj)) throw new BadRequest(`${where} must be a JSON object`);
  for (const { path, parts, want } of shape) {
    let v: unknown = obj;
    for (const part of parts) {
      v = isObject(v) ? v[part] : undefined;
      if (v === undefined) break;
    }
    if (v === undefined || v === null) continue;
    const ok =
      want === "string" || want === "number" || want === "boolean"
        ? typeof v === want
        : want === "object"
          ? isObject(v)
          : want === "objects"
            ? Array.isArray(v) && v.every(isObject)
            : isObject(v) && isStrings(v);
    if (!ok) throw new BadRequest(`${where}.${path} must be ${WHAT[want]}`);
  }
}

const HANDLED: Record<string, Subject["kind"]> = {
  "/v1/PersistentVolumeClaim": "PersistentVolumeClaim",
  "snapshot.storage.k8s.io/v1/VolumeSnapshot": "VolumeSnapshot",
  "vol.kubectl.io/v1alpha1/SnapshotSchedule": "SnapshotSchedule",
  "groupsnapshot.storage.k8s.io/v1/VolumeGroupSnapshot": "VolumeGroupSnapshot",
  "snapshot.storage.k8s.io/v1/VolumeSnapshotContent": "VolumeSnapshotContent",
  "groupsnapshot.storage.k8s.io/v1/VolumeGroupSnapshotContent": "VolumeGroupSnapshotContent",
};

const SHAPES: Record<Subject["kind"], Record<string, Shape>> = {
  PersistentVolumeClaim: PVC_SHAPE,
  VolumeSnapshot: SNAPSHOT_SHAPE,
  SnapshotSchedule: SCHEDULE_SHAPE,
  VolumeGroupSnapshot: GROUP_SNAPSHOT_SHAPE,
  VolumeSnapshotContent: CONTENT_SHAPE,
  VolumeGroupSnapshotContent: CONTENT_SHAPE,
};

/** Each kind's shape with its paths split once, not on every request. */
const CHECKS = Object.fromEntries(Object.entries(SHAPES).map(([k, v]) => [k, compile(v)])) as Record<
  Subject["kind"],
  CompiledShape
>;

/** Decodes an AdmissionReview body; throws BadRequest with the reason when it is not one we handle. */
export function decodeReview(body: string | Buffer): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new BadRequest(`the body is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(review)) throw new BadRequest("the body must be a JSON object (an AdmissionReview)");
  if (review.kind !== "AdmissionReview" || review.apiVersion !== REVIEW_API_VERSION) {
    throw new BadRequest(
      `expected kind AdmissionReview of apiVersion ${REVIEW_API_VERSION}, got kind ${JSON.stringify(review.kind ?? null)} of apiVersion ${JSON.stringify(review.apiVersion ?? null)}: set admissionReviewVersions: ["v1"] in the webhook configuration`,
    );
  }
  const r = review.request;
  if (!isObject(r)) throw new BadRequest("the AdmissionReview has no request object");
  if (typeof r.uid !== "string" || r.uid === "" || r.uid.length > 256) {
    throw new BadRequest("request.uid must be a non-empty string");
  }
  if (typeof r.operation !== "string" || !OPERATIONS.has(r.operation as Operation)) {
    throw new BadRequest(`request.operation must be one of CREATE, UPDATE, DELETE, CONNECT`);
  }
  const k = r.kind;
  if (!isObject(k) || typeof k.kind !== "string" || typeof k.version !== "string") {
    throw new BadRequest("request.kind must be an object with group, version and kind");
  }
  const gvk: GroupVersionKind = {
    group: typeof k.group === "string" ? k.group : "",
    version: k.version,
    kind: k.kind,
  };
  const handled = HANDLED[`${gvk.group}/${gvk.version}/${gvk.kind}`];
  if (!handled) {
    const shown = `${gvk.group ? `${gvk.group}/` : ""}${gvk.version} ${gvk.kind}`.slice(0, 200);
    throw new BadRequest(
      `request.kind ${JSON.stringify(shown)} is not handled: this webhook admits PersistentVolumeClaims (v1), VolumeSnapshots and VolumeSnapshotContents (snapshot.storage.k8s.io/v1), VolumeGroupSnapshots and VolumeGroupSnapshotContents (groupsnapshot.storage.k8s.io/v1) and SnapshotSchedules (vol.kubectl.io/v1alpha1); fix the rules of the webhook configuration`,
    );
  }
  for (const f of ["namespace", "name"] as const) {
    if (r[f] !== undefined && r[f] !== null && typeof r[f] !== "string") {
      throw new BadRequest(`request.${f} must be a string`);
    }
  }
  const operation = r.operation as Operation;
  const shape = CHECKS[handled];
  const needObject = operation === "CREATE" || operation === "UPDATE";
  if (needObject && (r.object === undefined || r.object === null)) {
    throw new BadRequest(`request.object is required for ${operation}`);
  }
  if (r.object !== undefined && r.object !== null) checkShape(r.object, shape, "request.object");
  if (r.oldObject !== undefined && r.oldObject !== null) checkShape(r.oldObject, shape, "request.oldObject");
  const object = (r.object ?? undefined) as never;
  const oldObject = (r.oldObject ?? undefined) as never;
  return {
    uid: r.uid,
    operation,
    namespace: typeof r.namespace === "string" ? r.namespace : undefined,
    name: typeof r.name === "string" ? r.name : undefined,
    dryRun: r.dryRun === true,
    gvk,
    subject: { kind: handled, object, oldObject },
  };
}

/** The AdmissionReview answer for `uid`. */
export function encodeReview(uid: string, res: AdmissionResponse): string {
  const response: Record<string, unknown> = { uid, allowed: res.allowed };
  if (res.status) response.status = res.status;
  if (res.patch && res.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(res.patch)).toString("base64");
  }
  if (res.warnings && res.warnings.length > 0) response.warnings = res.warnings;
  return JSON.stringify({ apiVersion: REVIEW_API_VERSION, kind: "AdmissionReview", response });
}

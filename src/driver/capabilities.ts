// The capabilities the driver advertises, declared once: GetCapabilities answers from these
// lists, and each RPC checks its entry with `requireCap` before doing anything.
import { unimplemented } from "./errors.ts";

export const PLUGIN_SERVICES = [
  "CONTROLLER_SERVICE",
  "VOLUME_ACCESSIBILITY_CONSTRAINTS",
  "GROUP_CONTROLLER_SERVICE",
] as const;
/**
 * Volumes can grow while published (the filesystem limit is raised in place; loop devices are
 * refreshed). Growing is a node call (NodeExpandVolume): the controller does not advertise
 * EXPAND_VOLUME, so csi-resizer only records the new size and the kubelet of the volume's node
 * does the work.
 */
export const PLUGIN_EXPANSION = "ONLINE";

export const CONTROLLER_CAPS = [
  "CREATE_DELETE_VOLUME",
  "CREATE_DELETE_SNAPSHOT",
  "CLONE_VOLUME",
  "LIST_VOLUMES",
  "LIST_SNAPSHOTS",
  "GET_CAPACITY",
  "GET_VOLUME",
  "VOLUME_CONDITION",
  "SINGLE_NODE_MULTI_WRITER",
] as const;

/** Group snapshots of volumes of this node (see group.ts). */
export const GROUP_CONTROLLER_CAPS = ["CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT"] as const;

export const NODE_CAPS = [
  "GET_VOLUME_STATS",
  "EXPAND_VOLUME",
  "VOLUME_CONDITION",
  "SINGLE_NODE_MULTI_WRITER",
] as const;

export type ControllerCap =
  | (typeof CONTROLLER_CAPS)[number]
  | "PUBLISH_UNPUBLISH_VOLUME"
  | "EXPAND_VOLUME"
  | "PUBLISH_READONLY"
  | "LIST_VOLUMES_PUBLISHED_NODES"
  | "MODIFY_VOLUME"
  | "GET_SNAPSHOT";
export type NodeCap = (typeof NODE_CAPS)[number] | "STAGE_UNSTAGE_VOLUME" | "VOLUME_MOUNT_GROUP";

export function requireCap<C extends string>(declared: readonly string[], cap: C, rpc: string): void {
  if (!declared.includes(cap))
    throw unimplemented(`${rpc} is not supported: this driver does not advertise ${cap}`);
}

/** Access modes a node-local volume can honour. */
export const ACCESS_MODES = new Set([
  "SINGLE_NODE_WRITER",
  "SINGLE_NODE_READER_ONLY",
  "SINGLE_NODE_SINGLE_WRITER",
  "SINGLE_NODE_MULTI_WRITER",
]);
export const READ_ONLY_MODES = new Set(["SINGLE_NODE_READER_ONLY"]);

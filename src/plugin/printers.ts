// Printers, in the shape of cli-runtime's: one list of allowed -o formats (feeding help,
// completion and the error message), a printer per family, the default output
// `kind/name verbed`, and table columns that only `-o wide` shows. Pure: they return text.
import { dump } from "js-yaml";
import { UsageError } from "./errors.ts";

/** Every -o value the plugin accepts ("" is the default, human output). */
export const OUTPUT_FORMATS = ["json", "yaml", "name", "wide"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | "";

export function parseOutput(
  value: string | undefined,
  verb: string,
  allowed: readonly string[] = OUTPUT_FORMATS,
): OutputFormat {
  if (value === undefined || value === "") return "";
  if (allowed.includes(value)) return value as OutputFormat;
  throw new UsageError(
    `unable to match a printer suitable for the output format "${value}", allowed formats are: ${allowed.join(",")}`,
    verb,
  );
}

/** kubectl's resource names: the full `-o name` prefix and the short form tables use. */
export const RESOURCE = {
  PersistentVolumeClaim: { full: "persistentvolumeclaim", short: "pvc" },
  VolumeSnapshot: { full: "volumesnapshot.snapshot.storage.k8s.io", short: "volumesnapshot" },
  VolumeGroupSnapshot: {
    full: "volumegroupsnapshot.groupsnapshot.storage.k8s.io",
    short: "volumegroupsnapshot",
  },
} as const;
export type Kind = keyof typeof RESOURCE;

export function fullName(kind: Kind, name: string): string {
  return `${RESOURCE[kind].full}/${name}`;
}
export function shortName(kind: Kind, name: string): string {
  return `${RESOURCE[kind].short}/${name}`;
}

/**
 * A plain JSON value of an API object (or a List of them) as `kubectl get -o json|yaml` prints
 * it: dates as the API writes them (no milliseconds), and no metadata.managedFields (kubectl
 * hides them unless --show-managed-fields).
 */
export function plain(obj: unknown, showManagedFields = false): unknown {
  const out = JSON.parse(JSON.stringify(obj), (_k, v) =>
    typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/.test(v) ? `${v.slice(0, 19)}Z` : v,
  ) as { metadata?: { managedFields?: unknown }; items?: unknown };
  const hide = (o: { metadata?: { managedFields?: unknown } } | null | undefined) => {
    if (o?.metadata && typeof o.metadata === "object") delete o.metadata.managedFields;
  };
  if (showManagedFields) return out;
  hide(out);
  if (Array.isArray(out?.items)) for (const i of out.items) hide(i);
  return out;
}

export function toJson(obj: unknown, showManagedFields = false): string {
  return `${JSON.stringify(plain(obj, showManagedFields), null, 4)}\n`;
}
export function toYaml(obj: unknown, showManagedFields = false): string {
  return dump(plain(obj, showManagedFields), { noRefs: true, lineWidth: -1 });
}

/** kubectl's --show-managed-fields, for the verbs that print objects. */
export const SHOW_MANAGED_FIELDS_FLAG = {
  type: "boolean",
  default: false,
  describe: "If true, keep the managedFields when printing objects in JSON or YAML format",
} as const;

export type DryRun = "none" | "client" | "server";

/**
 * What a create prints: the object for json/yaml, `kind/name` for name, else
 * `kind/name created` with kubectl's dry-run marker.
 */
export function printCreated(
  kind: Kind,
  obj: { metadata?: { name?: string } },
  format: OutputFormat,
  dryRun: DryRun,
  showManagedFields = false,
): string {
  const name = fullName(kind, obj.metadata?.name ?? "");
  switch (format) {
    case "json":
      return toJson(obj, showManagedFields);
    case "yaml":
      return toYaml(obj, showManagedFields);
    case "name":
      return `${name}\n`;
    default: {
      const marker = dryRun === "client" ? " (dry run)" : dryRun === "server" ? " (server dry run)" : "";
      return `${name} created${marker}\n`;
    }
  }
}

export interface Column<R> {
  header: string;
  /** Columns with priority > 0 appear only in -o wide. */
  priority?: number;
  cell(row: R): string;
}

/** A kubectl-style table: upper-case headers, columns left-aligned and 3 spaces apart. */
export function table<R>(columns: Column<R>[], rows: R[], wide: boolean): string {
  const cols = columns.filter((c) => wide || !c.priority);
  const cells = [
    cols.map((c) => c.header.toUpperCase()),
    ...rows.map((r) => cols.map((c) => c.cell(r) || "<none>")),
  ];
  const widths = cols.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? "").length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
        .join("")
        .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join("");
}

/** The only thing kubectl prints for an empty listing. */
export function noResources(namespace: string | undefined): string {
  return namespace === undefined ? "No resources found\n" : `No resources found in ${namespace} namespace.\n`;
}

/** A v1 List, as `kubectl get -o json|yaml` prints several objects. */
export function asList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } };
}

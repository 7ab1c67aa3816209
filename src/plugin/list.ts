// kubectl vol list [PVC] [-A]: claims and snapshots with their lineage, like `kubectl get`.
import { OperationError, UsageError } from "./errors.ts";
import { byText } from "./format.ts";
import { groupColumns } from "./groups.ts";
import { inventory, itemColumns, itemLabel, namespaceColumn } from "./inventory.ts";
import { byCreation, flatten, type Item, itemNamespace, lineageTree, withMissingLinks } from "./lineage.ts";
import {
  asList,
  fullName,
  noResources,
  OUTPUT_FORMATS,
  type OutputFormat,
  parseOutput,
  SHOW_MANAGED_FIELDS_FLAG,
  table,
  toJson,
  toYaml,
} from "./printers.ts";
import { scheduleColumns } from "./schedule.ts";
import { type Args, objectArg, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface ListOptions {
  pvc?: string;
  allNamespaces: boolean;
  output: OutputFormat;
  /** --show-managed-fields */
  showManagedFields?: boolean;
}

export const list: Verb<ListOptions> = {
  name: "list",
  summary: "List claims and snapshots with their lineage",
  usage: "kubectl vol list [PVC] [-A] [-o json|yaml|name|wide] [options]",
  positional: {
    name: "pvc",
    describe: "only this claim and what was made from it",
    required: false,
    completes: "persistentvolumeclaims",
  },
  flags: {
    "all-namespaces": { alias: "A", type: "boolean", default: false, describe: "List across all namespaces" },
    output: {
      alias: "o",
      type: "string",
      describe: `Output format. One of: (${OUTPUT_FORMATS.join(", ")})`,
      completes: OUTPUT_FORMATS,
    },
    "show-managed-fields": SHOW_MANAGED_FIELDS_FLAG,
  },
  examples: [
    ["kubectl vol list", "Claims and snapshots of the current namespace, with the SOURCE each was made from"],
    ["kubectl vol list db-data -o wide", "Only db-data and its descendants, with STATUS and CLASS"],
    ["kubectl vol list -A -o name", "Every claim and snapshot of the cluster, as kind/name"],
  ],
  options(args: Args): ListOptions {
    const text = stringArg(args, "pvc");
    const pvc = text === undefined ? undefined : objectArg(text, "pvc", "list");
    const allNamespaces = args["all-namespaces"] === true;
    if (pvc && allNamespaces)
      throw new UsageError("a PVC name cannot be combined with --all-namespaces", "list");
    const output = parseOutput(stringArg(args, "output"), "list");
    return { pvc, allNamespaces, output, showManagedFields: args["show-managed-fields"] === true };
  },
  async run(o: ListOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const ns = o.allNamespaces ? undefined : cluster.namespace;
    let items = await inventory(cluster, ns, ctx.err);
    if (o.pvc) {
      const root = items.find((i) => i.kind === "PersistentVolumeClaim" && i.obj.metadata?.name === o.pvc);
      if (!root) throw new OperationError(`PVC "${o.pvc}" not found in namespace "${ns}"`);
      // Through a deleted link too; the link itself is not an object to print.
      items = flatten(lineageTree(root, withMissingLinks(items))).filter((i) => !i.deleted);
    } else {
      items.sort((a, b) => byText(itemNamespace(a), itemNamespace(b)) || byCreation(a, b));
    }
    ctx.out.write(renderList(items, o, ns, ctx.now, ctx.err));
  },
};

/** What list prints for `items`. Pure apart from writing the empty notice to `err`. */
export function renderList(
  items: Item[],
  o: ListOptions,
  ns: string | undefined,
  now: Date,
  err: { write(s: string): unknown },
): string {
  if (o.output === "json") return toJson(asList(items.map((i) => i.obj)), o.showManagedFields);
  if (o.output === "yaml") return toYaml(asList(items.map((i) => i.obj)), o.showManagedFields);
  // Like kubectl get: json and yaml print an empty List; the others only the notice, on stderr.
  if (items.length === 0) {
    err.write(noResources(ns));
    return "";
  }
  if (o.output === "name")
    return items.map((i) => `${fullName(i.kind, i.obj.metadata?.name ?? "")}\n`).join("");
  const id = (i: Item) => i;
  const cols = [
    ...itemColumns(id, itemLabel, now),
    ...groupColumns(id, items),
    ...scheduleColumns(id, items),
  ];
  return table(o.allNamespaces ? [namespaceColumn(id), ...cols] : cols, items, o.output === "wide");
}

// kubectl vol tree PVC: the lineage under a claim — its snapshots, the claims restored or
// cloned from them, recursively — as a table whose NAME column draws the tree. tree vgs/NAME:
// a group snapshot, its members and what was restored from each.
import { OperationError, UsageError } from "./errors.ts";
import { GROUP_ARG_NAMES, groupColumns, groupTree } from "./groups.ts";
import { inventory, itemColumns, itemLabel } from "./inventory.ts";
import { type Item, lineageTree, type TreeNode, withMissingLinks } from "./lineage.ts";
import { parseOutput, table } from "./printers.ts";
import { scheduleColumns } from "./schedule.ts";
import { type Args, objectArg, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface TreeOptions {
  pvc: string;
  /** The root is a VolumeGroupSnapshot (`vgs/NAME`) named `pvc`. */
  group?: boolean;
  wide: boolean;
}

export interface TreeRow {
  item: Item;
  prefix: string;
}

/** Depth-first rows with box-drawing prefixes. Pure. */
export function treeRows(node: TreeNode, lead = "", last = true, root = true): TreeRow[] {
  const prefix = root ? "" : `${lead}${last ? "└─" : "├─"}`;
  const childLead = root ? "" : `${lead}${last ? "  " : "│ "}`;
  return [
    { item: node.item, prefix },
    ...node.children.flatMap((c, i) => treeRows(c, childLead, i === node.children.length - 1, false)),
  ];
}

export const tree: Verb<TreeOptions> = {
  name: "tree",
  summary: "Show the lineage tree under a claim",
  usage: "kubectl vol tree PVC|vgs/GROUP [-o wide] [options]",
  positional: {
    name: "pvc",
    describe: "the claim at the root, or vgs/NAME: a VolumeGroupSnapshot",
    required: true,
    completes: "persistentvolumeclaims",
  },
  flags: {
    output: { alias: "o", type: "string", describe: "Output format. One of: (wide)", completes: ["wide"] },
  },
  examples: [
    [
      "kubectl vol tree db-data",
      "db-data, its snapshots, the claims restored or cloned from them, and so on",
    ],
    ["kubectl vol tree db-data -n shop -o wide", "The same with STATUS and CLASS columns"],
    [
      "kubectl vol tree vgs/db-1400",
      "A group snapshot, its member snapshots and the claims restored from them",
    ],
  ],
  options(args: Args): TreeOptions {
    const text = stringArg(args, "pvc");
    if (!text) throw new UsageError("PVC is required", "tree");
    const wide = parseOutput(stringArg(args, "output"), "tree", ["wide"]) === "wide";
    const slash = text.indexOf("/");
    if (slash > 0 && GROUP_ARG_NAMES.includes(text.slice(0, slash).toLowerCase())) {
      return { pvc: text.slice(slash + 1), group: true, wide };
    }
    return { pvc: objectArg(text, "pvc", "tree"), wide };
  },
  async run(o: TreeOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const ns = cluster.namespace;
    const items = withMissingLinks(await inventory(cluster, ns, ctx.err));
    const kind = o.group ? "VolumeGroupSnapshot" : "PersistentVolumeClaim";
    const root = items.find((i) => i.kind === kind && i.obj.metadata?.name === o.pvc);
    if (!root)
      throw new OperationError(`${o.group ? kind : "PVC"} "${o.pvc}" not found in namespace "${ns}"`);
    const rows = treeRows(
      root.kind === "VolumeGroupSnapshot" ? groupTree(root, items) : lineageTree(root, items),
    );
    const get = (r: TreeRow) => r.item;
    const cols = [
      ...itemColumns(get, (r) => `${r.prefix}${itemLabel(r.item)}`, ctx.now),
      ...groupColumns(get, rows),
      ...scheduleColumns(get, rows),
    ];
    ctx.out.write(table(cols, rows, o.wide));
  },
};

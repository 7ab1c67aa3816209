// kubectl vol tree PVC: the lineage under a claim — its snapshots, the claims restored or
// cloned from them, recursively — as a table whose NAME column draws the tree.
import { OperationError, UsageError } from "./errors.ts";
import { inventory, itemColumns, itemLabel } from "./inventory.ts";
import { type Item, lineageTree, type TreeNode, withMissingLinks } from "./lineage.ts";
import { parseOutput, table } from "./printers.ts";
import { type Args, objectArg, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface TreeOptions {
  pvc: string;
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
  usage: "kubectl vol tree PVC [-o wide] [options]",
  positional: {
    name: "pvc",
    describe: "the claim at the root",
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
  ],
  options(args: Args): TreeOptions {
    const text = stringArg(args, "pvc");
    if (!text) throw new UsageError("PVC is required", "tree");
    const pvc = objectArg(text, "pvc", "tree");
    return { pvc, wide: parseOutput(stringArg(args, "output"), "tree", ["wide"]) === "wide" };
  },
  async run(o: TreeOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const ns = cluster.namespace;
    const items = await inventory(cluster, ns, ctx.err);
    const root = items.find((i) => i.kind === "PersistentVolumeClaim" && i.obj.metadata?.name === o.pvc);
    if (!root) throw new OperationError(`PVC "${o.pvc}" not found in namespace "${ns}"`);
    const rows = treeRows(lineageTree(root, withMissingLinks(items)));
    ctx.out.write(
      table(
        itemColumns(
          (r: TreeRow) => r.item,
          (r) => `${r.prefix}${itemLabel(r.item)}`,
          ctx.now,
        ),
        rows,
        o.wide,
      ),
    );
  },
};

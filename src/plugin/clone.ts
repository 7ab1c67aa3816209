// kubectl vol clone PVC: a new claim with the PVC as its data source; size, class, access
// modes and volume mode default to the source's (size and the rest through the rules' defaultClaim).
import { defaultClaim, parseQuantity } from "../rules/index.ts";
import { buildClone } from "./build.ts";
import { type CreateOptions, createAndReport, createOptions } from "./create.ts";
import { OperationError, UsageError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { requireStorageClass } from "./preflight.ts";
import { type Args, createFlags, type FlagSpec, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface ClaimOptions extends CreateOptions {
  storageClass?: string;
  size?: string;
}

/** The flags of the verbs that create a claim. */
export const claimFlags: Record<string, FlagSpec> = {
  ...createFlags,
  "storage-class": { type: "string", describe: "StorageClass of the new claim", completes: "storageclasses" },
  size: { type: "string", describe: "Requested size of the new claim, e.g. 10Gi" },
};

export function claimOptions(
  args: Args,
  verb: string,
  positional: "pvc" | "snapshot",
  given?: string,
): ClaimOptions {
  const size = stringArg(args, "size");
  if (size !== undefined && !parseQuantity(size)) {
    throw new UsageError(`invalid --size "${size}": give a quantity such as 10Gi or 500Mi`, verb);
  }
  return {
    ...createOptions(args, verb, positional, given),
    storageClass: stringArg(args, "storage-class"),
    size,
  };
}

export const clone: Verb<ClaimOptions> = {
  name: "clone",
  summary: "Clone a PersistentVolumeClaim into a new claim",
  usage: "kubectl vol clone PVC [--name N] [--storage-class S] [--size Q] [--wait] [options]",
  positional: {
    name: "pvc",
    describe: "the claim to clone",
    required: true,
    completes: "persistentvolumeclaims",
  },
  flags: claimFlags,
  examples: [
    [
      "kubectl vol clone db-data --name db-data-test",
      "Clone db-data with its size, class, access modes and volume mode",
    ],
    ["kubectl vol clone db-data --size 20Gi --wait", "Clone into a bigger claim and wait until it is Bound"],
  ],
  options: (args: Args) => claimOptions(args, "clone", "pvc"),
  async run(o: ClaimOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const ns = cluster.namespace;
    const source = await cluster.lookup.pvc(ns, o.source);
    if (!source) throw new OperationError(`PVC "${o.source}" not found in namespace "${ns}"`);
    await requireStorageClass(o.storageClass, cluster.lookup);
    const name = o.name ?? derivedName(o.source, "clone", timestampSuffix(ctx.now));
    const choices = { namespace: ns, name, storageClass: o.storageClass, size: o.size };
    const { claim: obj, warnings } = await defaultClaim(buildClone(choices, source), cluster.lookup);
    await createAndReport(o, { kind: "PersistentVolumeClaim", obj, warnings }, cluster, ctx);
  },
};

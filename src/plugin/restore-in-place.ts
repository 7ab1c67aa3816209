// kubectl vol restore SNAPSHOT --in-place: puts the snapshot's own claim back to the snapshot,
// under the same name, as kubectl drain runs a multi-step operation on a user's workload: the
// plan first, a question on a terminal, each step recorded (inplace-steps.ts) before it is
// taken and safe to take again, and the exact command to continue or undo when it stops.
// `--continue CLAIM` finishes an interrupted run, `--abort CLAIM` rolls it back.
import {
  checkInPlace,
  IN_PLACE,
  snapshotClaimName,
  type VolumeSnapshot,
  volumeDriver,
} from "../rules/index.ts";
import { buildSnapshot } from "./build.ts";
import type { Cluster } from "./cluster.ts";
import { OperationError, UsageError } from "./errors.ts";
import { type InPlaceApi, inPlaceApi } from "./inplace-api.ts";
import {
  findWorkloads,
  formatPlan,
  interruptedText,
  keptText,
  mountsClaim,
  newRecord,
  type Owners,
  ownerKey,
  ownersToRead,
  reboundClaim,
  restoredClaim,
} from "./inplace-plan.ts";
import {
  type AbortAction,
  abortActions,
  commands,
  continueSteps,
  currentRecord,
  encodeRecord,
  identify,
  onFailure,
  type RunRecord,
  recordOf,
  STEP_TEXT,
  STEPS,
  type Step,
  safeToScaleUp,
} from "./inplace-steps.ts";
import { enforce, snapshotClassFor } from "./preflight.ts";
import {
  type Args,
  type DryRunMode,
  dryRunArg,
  durationArg,
  type FlagSpec,
  type RunContext,
  stringArg,
} from "./verb.ts";
import { claimState, type State, snapshotState, waitFor } from "./wait.ts";

export interface InPlaceOptions {
  inPlace: true;
  mode: "start" | "continue" | "abort";
  /** start: the snapshot to restore. */
  snapshot?: string;
  /** continue, abort: the claim of the interrupted run. */
  claim?: string;
  dryRun: DryRunMode;
  wait: boolean;
  timeoutMs: number;
  yes: boolean;
}

/** The flags restore takes for an in-place restore. */
export const inPlaceFlags: Record<string, FlagSpec> = {
  "in-place": {
    type: "boolean",
    default: false,
    describe:
      "Put the snapshot's own claim back to the snapshot, under the same name: a safety snapshot first, its workloads stopped and started again, the old volume kept",
  },
  continue: {
    type: "string",
    describe: "With --in-place: finish the interrupted in-place restore of this claim",
    completes: "persistentvolumeclaims",
  },
  abort: {
    type: "string",
    describe: "With --in-place: roll back the interrupted in-place restore of this claim",
    completes: "persistentvolumeclaims",
  },
  yes: { type: "boolean", default: false, describe: "With --in-place: do not ask for confirmation" },
};

const VERB = "restore";

/** Whether the command line asks for an in-place restore (or names its flags without it). */
export function wantsInPlace(args: Args): boolean {
  const named = ["continue", "abort"].filter((k) => stringArg(args, k) !== undefined);
  if (args["in-place"] === true) return true;
  if (named.length > 0) {
    throw new UsageError(
      `--${named[0]} goes with --in-place: kubectl vol restore --in-place --${named[0]} CLAIM`,
      VERB,
    );
  }
  if (args.yes === true) throw new UsageError("--yes goes with --in-place", VERB);
  return false;
}

export function inPlaceOptions(args: Args): InPlaceOptions {
  for (const f of ["name", "storage-class", "size", "output"]) {
    if (stringArg(args, f) !== undefined) {
      throw new UsageError(
        `--${f} cannot be combined with --in-place: the claim is restored under its own name, with its own class and size`,
        VERB,
      );
    }
  }
  const snapshot = stringArg(args, "snapshot");
  const cont = stringArg(args, "continue");
  const abort = stringArg(args, "abort");
  if (cont !== undefined && abort !== undefined)
    throw new UsageError("--continue and --abort cannot be combined", VERB);
  const claim = cont ?? abort;
  if (claim !== undefined && snapshot !== undefined) {
    throw new UsageError(
      `--${cont !== undefined ? "continue" : "abort"} takes the claim and no SNAPSHOT: kubectl vol restore --in-place --${cont !== undefined ? "continue" : "abort"} CLAIM`,
      VERB,
    );
  }
  if (claim === "" || (claim === undefined && !snapshot)) {
    throw new UsageError("SNAPSHOT is required (or --continue CLAIM, --abort CLAIM)", VERB);
  }
  const dryRun = dryRunArg(args, VERB);
  const wait = args.wait === true;
  if (wait && dryRun !== "none")
    throw new UsageError("--wait cannot be combined with --dry-run: nothing would be changed", VERB);
  const timeoutMs = durationArg(args, "timeout", VERB);
  if (timeoutMs <= 0) throw new UsageError("--timeout must be more than 0 with --in-place", VERB);
  return {
    inPlace: true,
    mode: cont !== undefined ? "continue" : abort !== undefined ? "abort" : "start",
    snapshot,
    claim,
    dryRun,
    wait,
    timeoutMs,
    yes: args.yes === true,
  };
}

/** The terminal the confirmation is asked on (replaced in tests). */
export const terminal = {
  interactive: (): boolean => process.stdin.isTTY === true,
  async ask(question: string, err: RunContext["err"]): Promise<boolean> {
    err.write(question);
    // Loaded here: readline's modules cost every other verb's start-up.
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, terminal: false });
    try {
      const answer = await rl.question("");
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  },
};

/** A test hook: KUBECTL_VOL_TEST_CRASH_AFTER=<step> kills the process once that step is done. */
function crashAfter(step: Step): void {
  if (process.env.KUBECTL_VOL_TEST_CRASH_AFTER === step) process.kill(process.pid, "SIGKILL");
}

export async function runInPlace(o: InPlaceOptions, ctx: RunContext): Promise<void> {
  const cluster = await ctx.cluster();
  const run = new Run(o, ctx, cluster, inPlaceApi(cluster));
  if (o.mode === "start") return run.start(o.snapshot ?? "");
  const r = await run.find(o.claim ?? "");
  return o.mode === "continue" ? run.resume(r) : run.abort(r);
}

/** Why a claim of the name is in the way (it is not this run's). */
function notThisRun(r: RunRecord, pvc: Parameters<typeof identify>[1]): string {
  const safe = safeToScaleUp(r, pvc);
  return safe.ok
    ? `PVC "${r.claim}" in namespace "${r.namespace}" is not the one this step expects`
    : safe.message;
}

class Run {
  readonly ns: string;
  readonly o: InPlaceOptions;
  readonly ctx: RunContext;
  readonly cluster: Cluster;
  readonly api: InPlaceApi;
  constructor(o: InPlaceOptions, ctx: RunContext, cluster: Cluster, api: InPlaceApi) {
    this.o = o;
    this.ctx = ctx;
    this.cluster = cluster;
    this.api = api;
    this.ns = cluster.namespace;
  }

  // --- finding what there is -------------------------------------------------------------------

  /** The record of an interrupted run of `claim`, from the claim and its safety snapshot. */
  async find(claim: string): Promise<RunRecord> {
    const r = currentRecord(await this.records(claim));
    if (!r) {
      throw new OperationError(
        `PVC "${claim}" in namespace "${this.ns}" has no in-place restore in progress: there is nothing to continue or abort`,
      );
    }
    return r;
  }

  async records(claim: string): Promise<(RunRecord | undefined)[]> {
    const pvc = await this.api.claim(this.ns, claim);
    const onClaim = recordOf(pvc);
    const snaps = onClaim
      ? [await this.api.snapshot(this.ns, onClaim.safety)]
      : await this.cluster.listSnapshots(this.ns);
    const onSnaps = snaps.map((s) => recordOf(s)).filter((r) => r?.claim === claim);
    return [onClaim, ...onSnaps];
  }

  async start(name: string): Promise<void> {
    const { ns, api, ctx, o } = this;
    const lookup = this.cluster.lookup;
    const snapshot = await api.snapshot(ns, name);
    if (!snapshot) throw new OperationError(`VolumeSnapshot "${name}" not found in namespace "${ns}"`);
    const claimName = snapshotClaimName(snapshot);
    const claim = claimName ? await api.claim(ns, claimName) : undefined;
    if (claimName && !claim) {
      const r = currentRecord(await this.records(claimName));
      if (r) throw new OperationError(interruptedText(r));
    }
    const contentName = snapshot.status?.boundVolumeSnapshotContentName;
    const content = contentName ? await lookup.volumeSnapshotContent(contentName) : undefined;
    const volumeName = claim?.spec?.volumeName;
    const volume = volumeName ? await api.volume(volumeName) : undefined;
    const className = claim?.spec?.storageClassName;
    const storageClass = className ? await lookup.storageClass(className) : undefined;
    const snapClass = snapshot.spec?.volumeSnapshotClassName;
    const snapshotClassDriver = snapClass
      ? (await lookup.volumeSnapshotClasses()).find((c) => c.metadata.name === snapClass)?.driver
      : undefined;
    const decision = checkInPlace({ snapshot, content, claim, volume, storageClass, snapshotClassDriver });
    for (const w of enforce(decision)) ctx.err.write(`Warning: ${w}\n`);
    if (!claim || !volume || !claimName)
      throw new OperationError("unreachable: the pre-flight passed without a claim");

    const pods = await api.pods(ns);
    const owners: Owners = new Map();
    const missing = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const want = ownersToRead(pods, owners).filter((w) => !missing.has(ownerKey(w.kind, w.name)));
      if (want.length === 0) break;
      for (const w of want) {
        const owner = await api.owner(ns, w.kind, w.name);
        if (owner) owners.set(ownerKey(w.kind, w.name), owner);
        else missing.add(ownerKey(w.kind, w.name));
      }
    }
    const found = findWorkloads(ns, claimName, pods, owners);
    if (found.refusals.length > 0) throw new OperationError(found.refusals.join("\n"));
    const record = newRecord({
      namespace: ns,
      snapshot,
      content,
      claim,
      volume,
      workloads: found.workloads,
      now: ctx.now,
    });
    const taken = snapshot.status?.creationTime ?? snapshot.metadata.creationTimestamp;
    ctx.out.write(
      formatPlan({
        record,
        workloads: found.workloads,
        restoreSize: snapshot.status?.restoreSize,
        taken: taken ? new Date(taken).toISOString() : undefined,
      }),
    );
    if (o.dryRun === "client") return;
    if (o.dryRun === "server") {
      await api.createSnapshot(await this.safetySnapshot(record), true);
      ctx.out.write(`(server dry run: the safety snapshot was accepted; nothing was changed)\n`);
      return;
    }
    await this.confirm(
      `Restore PVC "${claimName}" in place? This stops the workloads above and replaces the claim. [y/N] `,
    );
    await this.execute(record, [...STEPS]);
  }

  async confirm(question: string): Promise<void> {
    if (this.o.yes) return;
    if (!terminal.interactive()) {
      throw new UsageError(
        "--yes is required when stdin is not a terminal: an in-place restore stops workloads and replaces a claim (see the plan with --dry-run)",
        VERB,
      );
    }
    if (!(await terminal.ask(question, this.ctx.err)))
      throw new OperationError("not confirmed: nothing was changed");
  }

  // --- recording -------------------------------------------------------------------------------

  /** Writes the record on the safety snapshot (if it exists) and on the claim (if it is ours). */
  async record(r: RunRecord): Promise<void> {
    const text = encodeRecord(r);
    await this.api.annotate("VolumeSnapshot", r.namespace, r.safety, IN_PLACE.record, text);
    const id = identify(r, await this.api.claim(r.namespace, r.claim));
    if (id === "old" || id === "restored" || id === "rebound") {
      await this.api.annotate("PersistentVolumeClaim", r.namespace, r.claim, IN_PLACE.record, text);
    }
  }

  /** Removes the record: from the safety snapshot first, the claim (what a new run checks) last. */
  async clear(r: RunRecord): Promise<void> {
    await this.api.annotate("VolumeSnapshot", r.namespace, r.safety, IN_PLACE.record, null);
    const id = identify(r, await this.api.claim(r.namespace, r.claim));
    if (id === "old" || id === "restored" || id === "rebound") {
      await this.api.annotate("PersistentVolumeClaim", r.namespace, r.claim, IN_PLACE.record, null);
    }
  }

  // --- running ---------------------------------------------------------------------------------

  async resume(r: RunRecord): Promise<void> {
    const next = continueSteps(r);
    if (!next.ok) throw new OperationError(next.message);
    this.ctx.err.write(`continuing the in-place restore of PVC "${r.claim}" from step "${r.step}"\n`);
    if (this.o.dryRun !== "none") {
      this.ctx.out.write(next.steps.map((s) => `  ${s}: ${STEP_TEXT[s]}\n`).join(""));
      return;
    }
    await this.execute(r, next.steps);
  }

  async execute(start: RunRecord, steps: Step[]): Promise<void> {
    let r = start;
    const { ctx } = this;
    for (const step of steps) {
      r = { ...r, step };
      try {
        await this.record(r);
        ctx.err.write(`step ${STEPS.indexOf(step) + 1}/${STEPS.length} ${step}: ${STEP_TEXT[step]}\n`);
        await this.step(step, r);
      } catch (err) {
        throw await this.failed(r, err);
      }
      crashAfter(step);
    }
    await this.clear(r);
    ctx.out.write(`persistentvolumeclaim/${r.claim} restored in place from volumesnapshot/${r.snapshot}\n`);
    ctx.out.write(`Kept: ${keptText(r)}\n`);
  }

  /** The error to stop with after a failed step: rolled back while nothing was replaced. */
  async failed(r: RunRecord, err: unknown): Promise<Error> {
    const message = err instanceof Error ? err.message : String(err);
    if (this.ctx.signal.aborted) return new OperationError(`interrupted: ${interruptedText(r)}`);
    if (r.mode !== "restore" || onFailure(r.step) !== "rollback") {
      return new OperationError(`${message}\n${interruptedText(r)}`);
    }
    this.ctx.err.write(`step "${r.step}" failed: rolling back (nothing has been replaced)\n`);
    try {
      await this.undo(r);
    } catch (again) {
      return new OperationError(
        `${message}\nthe rollback failed too: ${(again as Error).message}\n${interruptedText({ ...r, mode: "abort" })}`,
      );
    }
    return new OperationError(
      `${message}\nrolled back: PVC "${r.claim}" keeps its data and its workloads were scaled back; VolumeSnapshot "${r.safety}" is kept if it was made`,
    );
  }

  async step(step: Step, r: RunRecord): Promise<void> {
    switch (step) {
      case "snapshot":
        return this.takeSafetySnapshot(r);
      case "retain":
        return this.setPolicy(r, "Retain");
      case "scale-down":
        for (const w of r.workloads) await this.api.scale(r.namespace, w.kind, w.name, 0);
        return this.waitNoPods(r);
      case "delete-claim":
        return this.deleteOld(r);
      case "create-claim":
        return this.createRestored(r);
      case "scale-up":
        return this.scaleUp(r);
    }
  }

  async safetySnapshot(r: RunRecord): Promise<VolumeSnapshot> {
    const pvc = await this.api.claim(r.namespace, r.claim);
    if (!pvc || identify(r, pvc) !== "old") {
      throw new OperationError(
        `PVC "${r.claim}" in namespace "${r.namespace}" is not the claim this restore started from (uid ${r.claimUid})`,
      );
    }
    const lookup = this.cluster.lookup;
    const classes = await lookup.volumeSnapshotClasses();
    const driver = await volumeDriver(pvc, lookup);
    const target = await this.api.snapshot(r.namespace, r.snapshot);
    const named = target?.spec?.volumeSnapshotClassName;
    const usable =
      named && classes.some((c) => c.metadata.name === named && (!driver || c.driver === driver));
    const cls = snapshotClassFor(driver, classes, usable ? named : undefined, r.claim, r.namespace);
    const body = buildSnapshot({ namespace: r.namespace, name: r.safety, pvc, className: cls.metadata.name });
    body.metadata.annotations = { ...body.metadata.annotations, [IN_PLACE.record]: encodeRecord(r) };
    return body;
  }

  async takeSafetySnapshot(r: RunRecord): Promise<void> {
    const existing = await this.api.snapshot(r.namespace, r.safety);
    if (!existing) {
      await this.api.createSnapshot(await this.safetySnapshot(r));
    } else if (recordOf(existing)?.claim !== r.claim) {
      throw new OperationError(
        `VolumeSnapshot "${r.safety}" in namespace "${r.namespace}" exists and is not this restore's safety snapshot: delete or rename it, then run ${commands(r).continue}`,
      );
    }
    await this.wait(
      r,
      `volumesnapshot/${r.safety}`,
      "ready to use",
      async () => snapshotState(await this.cluster.readSnapshot(r.namespace, r.safety)),
      ["VolumeSnapshot", r.safety],
    );
  }

  /** Waits with the run's --timeout, Ctrl-C and progress; `about` names the object whose events explain a failure. */
  wait(
    r: RunRecord,
    label: string,
    goal: string,
    read: () => Promise<State>,
    about: [kind: string, name: string],
  ) {
    return waitFor({
      label,
      goal,
      read,
      events: () => this.cluster.events(r.namespace, about[0], about[1]),
      timeoutMs: this.o.timeoutMs,
      signal: this.ctx.signal,
      sink: this.ctx.err,
    });
  }

  claimBound(r: RunRecord, goal = "Bound"): Promise<void> {
    return this.wait(
      r,
      `pvc/${r.claim}`,
      goal,
      async () => claimState(await this.cluster.readClaim(r.namespace, r.claim)),
      ["PersistentVolumeClaim", r.claim],
    );
  }

  async setPolicy(r: RunRecord, policy: string): Promise<void> {
    const pv = await this.api.volume(r.volume);
    if (!pv)
      throw new OperationError(`PersistentVolume "${r.volume}" of PVC "${r.claim}" does not exist any more`);
    if (pv.spec?.persistentVolumeReclaimPolicy !== policy) {
      await this.api.patchVolume(r.volume, { spec: { persistentVolumeReclaimPolicy: policy } });
    }
  }

  async waitNoPods(r: RunRecord): Promise<void> {
    await this.wait(
      r,
      `pvc/${r.claim}`,
      "mounted by no pod",
      async (): Promise<State> => {
        const pods = (await this.api.pods(r.namespace)).filter((p) => mountsClaim(p, r.claim));
        const names = pods.map((p) => p.metadata?.name).join(", ");
        return pods.length === 0
          ? { done: true, text: "mounted by no pod" }
          : { done: false, text: `still mounted by ${pods.length === 1 ? "pod" : "pods"} ${names}` };
      },
      ["PersistentVolumeClaim", r.claim],
    );
  }

  /** Waits until no claim of the name exists (the old one, or a restored one, is gone). */
  async waitGone(r: RunRecord): Promise<void> {
    await this.wait(
      r,
      `pvc/${r.claim}`,
      "deleted",
      async (): Promise<State> => {
        const id = identify(r, await this.api.claim(r.namespace, r.claim));
        if (id === "missing") return { done: true, text: "deleted" };
        if (id === "foreign")
          return { done: false, failed: true, text: "replaced by a claim someone else made" };
        return { done: false, text: id === "deleting" ? "being deleted" : "still there" };
      },
      ["PersistentVolumeClaim", r.claim],
    );
  }

  async deleteOld(r: RunRecord): Promise<void> {
    const pvc = await this.api.claim(r.namespace, r.claim);
    const id = identify(r, pvc);
    if (id === "foreign" || id === "rebound") throw new OperationError(notThisRun(r, pvc));
    if (id === "old") await this.api.deleteClaim(r.namespace, r.claim, r.claimUid);
    if (id === "old" || id === "deleting") await this.waitGone(r);
  }

  async waitBound(r: RunRecord): Promise<void> {
    const cls = r.template.spec.storageClassName;
    const sc = cls ? await this.cluster.lookup.storageClass(cls) : undefined;
    if (sc?.volumeBindingMode === "WaitForFirstConsumer" && !r.node) {
      this.ctx.err.write(
        `pvc/${r.claim}: binds when its first pod starts (StorageClass "${cls}" waits for a consumer)\n`,
      );
      return;
    }
    await this.claimBound(r);
  }

  async createRestored(r: RunRecord): Promise<void> {
    const pvc = await this.api.claim(r.namespace, r.claim);
    const id = identify(r, pvc);
    if (id === "foreign" || id === "rebound") throw new OperationError(notThisRun(r, pvc));
    if (id === "old" || id === "deleting") await this.deleteOld(r);
    if (id !== "restored" && !(await this.api.createClaim(restoredClaim(r)))) {
      const now = await this.api.claim(r.namespace, r.claim);
      if (identify(r, now) !== "restored") throw new OperationError(notThisRun(r, now));
    }
    await this.waitBound(r);
  }

  async scaleUp(r: RunRecord): Promise<void> {
    const safe = safeToScaleUp(r, await this.api.claim(r.namespace, r.claim));
    if (!safe.ok) throw new OperationError(safe.message);
    for (const w of r.workloads) await this.api.scale(r.namespace, w.kind, w.name, w.replicas);
    if (!this.o.wait) return;
    for (const w of r.workloads) {
      await this.wait(
        r,
        `${w.kind.toLowerCase()}/${w.name}`,
        `ready (${w.replicas} replicas)`,
        async (): Promise<State> => {
          const s = await this.api.workloadStatus(r.namespace, w.kind, w.name);
          if (!s) return { done: false, failed: true, text: "deleted" };
          const done = s.observed && s.ready >= w.replicas;
          return { done, text: `${s.ready}/${w.replicas} ready` };
        },
        [w.kind, w.name],
      );
    }
  }

  // --- rolling back ----------------------------------------------------------------------------

  async abort(r: RunRecord): Promise<void> {
    const plan = abortActions(r);
    if (!plan.ok) throw new OperationError(plan.message);
    if (this.o.dryRun !== "none") {
      this.ctx.out.write(plan.actions.map((a) => `  ${a}\n`).join(""));
      return;
    }
    try {
      await this.undo(r);
    } catch (err) {
      if (this.ctx.signal.aborted)
        throw new OperationError(`interrupted: ${interruptedText({ ...r, mode: "abort" })}`);
      throw new OperationError(`${(err as Error).message}\n${interruptedText({ ...r, mode: "abort" })}`);
    }
    this.ctx.out.write(
      `persistentvolumeclaim/${r.claim} rolled back: it holds its data from before the restore\n`,
    );
    this.ctx.out.write(
      `Kept: VolumeSnapshot "${r.safety}" (if it was made; delete it with kubectl delete volumesnapshot ${r.safety} -n ${r.namespace})\n`,
    );
  }

  async undo(start: RunRecord): Promise<void> {
    const plan = abortActions(start);
    if (!plan.ok) throw new OperationError(plan.message);
    const r: RunRecord = { ...start, mode: "abort" };
    await this.record(r);
    for (const action of plan.actions) {
      this.ctx.err.write(`undo ${action}\n`);
      await this.undoAction(action, r);
    }
  }

  async undoAction(action: AbortAction, r: RunRecord): Promise<void> {
    switch (action) {
      case "delete-restored": {
        const pvc = await this.api.claim(r.namespace, r.claim);
        const id = identify(r, pvc);
        if (id === "restored" && pvc?.metadata?.uid)
          await this.api.deleteClaim(r.namespace, r.claim, pvc.metadata.uid);
        if (id === "restored" || id === "deleting") await this.waitGone(r);
        return;
      }
      case "rebind":
        return this.rebind(r);
      case "scale-up":
        return this.scaleUp(r);
      case "reclaim-policy": {
        const pvc = await this.api.claim(r.namespace, r.claim);
        const id = identify(r, pvc);
        if ((id === "old" || id === "rebound") && pvc?.spec?.volumeName === r.volume)
          await this.setPolicy(r, r.reclaimPolicy);
        return;
      }
      case "clear":
        return this.clear(r);
    }
  }

  /** Binds a claim of the old spec to the old volume again, when no claim of the name exists. */
  async rebind(r: RunRecord): Promise<void> {
    let pvc = await this.api.claim(r.namespace, r.claim);
    let id = identify(r, pvc);
    if (id === "deleting") {
      await this.waitGone(r);
      pvc = undefined;
      id = "missing";
    }
    if (id === "old") return;
    if (id === "foreign" || id === "restored") {
      throw new OperationError(
        `PVC "${r.claim}" in namespace "${r.namespace}" is not the old claim nor bound to the old volume "${r.volume}": delete it, then run ${commands(r).abort}`,
      );
    }
    if (id === "missing") {
      const pv = await this.api.volume(r.volume);
      if (!pv)
        throw new OperationError(
          `PersistentVolume "${r.volume}", which holds the old data, does not exist: restore the safety snapshot with 'kubectl vol restore ${r.safety} --name ${r.claim} -n ${r.namespace}'`,
        );
      if (pv.spec?.claimRef?.uid) {
        // Released: let a claim of the same name bind it again.
        await this.api.patchVolume(r.volume, { spec: { claimRef: { uid: null, resourceVersion: null } } });
      }
      await this.api.createClaim(reboundClaim(r));
    }
    await this.claimBound(r, `Bound to ${r.volume}`);
  }
}

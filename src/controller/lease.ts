// Leader election by a coordination.k8s.io/v1 Lease, after client-go's leaderelection: a
// candidate takes the Lease when it is free (no holder) or its holder has not renewed it for a
// lease duration, measured on this replica's own clock from when it last saw the record change
// (so clocks of different machines never have to agree); writes carry the resourceVersion, so
// of two candidates only one wins. The leader renews every retry period and steps down when it
// could not renew within the renew deadline. release() empties the holder, so another replica
// takes over at once instead of after a lease duration.
import type { Connection } from "../kube/connection.ts";
import { errorMessage, type Logger } from "../kube/log.ts";
import { ApiError, getJson } from "../kube/rest.ts";
import { sendJson } from "./api.ts";

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** A MicroTime as the API server parses it (exactly six fraction digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class LeaderElector {
  private observed: { key: string; at: number } | undefined;
  private lease: Lease | undefined;
  private leading = false;
  private readonly path: string;
  private readonly opts: LeaseOptions;
  private readonly conn: Connection;

  constructor(conn: Connection, opts: LeaseOptions) {
    this.conn = conn;
    this.opts = opts;
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** One attempt to take or renew the Lease; true when this replica holds it afterwards. */
  async tryAcquireOrRenew(now = Date.now()): Promise<boolean> {
    const { name, namespace, identity } = this.opts;
    const durationS = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    const current = await getJson<Lease>(this.conn, `${this.path}/${encodeURIComponent(name)}`);
    if (!current) {
      const fresh: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationS,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.lease = await sendJson<Lease>(this.conn, "POST", this.path, fresh);
        this.observe(this.lease, now);
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.code === 409) return false;
        throw err;
      }
    }
    this.observe(current, now);
    const holder = current.spec.holderIdentity ?? "";
    const heldMs = (current.spec.leaseDurationSeconds ?? durationS) * 1000;
    const expired = this.observed !== undefined && this.observed.at + heldMs <= now;
    if (holder && holder !== identity && !expired) return false;
    const takeover = holder !== identity;
    const next: Lease = {
      ...current,
      spec: {
        ...current.spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationS,
        renewTime: microTime(now),
        acquireTime: takeover ? microTime(now) : current.spec.acquireTime,
        leaseTransitions: (current.spec.leaseTransitions ?? 0) + (takeover && holder ? 1 : 0),
      },
    };
    try {
      this.lease = await sendJson<Lease>(this.conn, "PUT", `${this.path}/${encodeURIComponent(name)}`, next);
      this.observe(this.lease, now);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 409) return false;
      throw err;
    }
  }

  private observe(l: Lease, now: number): void {
    const key = `${l.spec.holderIdentity ?? ""}\u0000${l.spec.renewTime ?? ""}\u0000${l.metadata.resourceVersion ?? ""}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
  }

  /**
   * Campaigns until `signal` aborts: each time this replica becomes leader it calls `lead` with
   * a signal that aborts when leadership is lost (or `signal` aborts), and waits for it to end.
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<void> {
    const { log, retryPeriodMs, renewDeadlineMs } = this.opts;
    while (!signal.aborted) {
      let got = false;
      try {
        got = await this.tryAcquireOrRenew();
      } catch (err) {
        log.warn("cannot read or take the leader Lease", { error: errorMessage(err) });
      }
      if (!got) {
        await sleep(retryPeriodMs, signal);
        continue;
      }
      this.leading = true;
      log.info("became leader", {
        lease: `${this.opts.namespace}/${this.opts.name}`,
        identity: this.opts.identity,
      });
      const leading = new AbortController();
      const stop = () => leading.abort();
      signal.addEventListener("abort", stop, { once: true });
      const work = lead(leading.signal);
      let lastRenew = Date.now();
      while (!leading.signal.aborted) {
        await sleep(retryPeriodMs, leading.signal);
        if (leading.signal.aborted) break;
        try {
          if (await this.tryAcquireOrRenew()) {
            lastRenew = Date.now();
            continue;
          }
          log.warn("the leader Lease was taken by another replica");
          leading.abort();
        } catch (err) {
          log.warn("cannot renew the leader Lease", { error: errorMessage(err) });
          if (Date.now() - lastRenew > renewDeadlineMs) {
            log.error("leadership lost: the Lease was not renewed within the renew deadline");
            leading.abort();
          }
        }
      }
      signal.removeEventListener("abort", stop);
      await work.catch((err: unknown) => log.error("the leader's work failed", { error: errorMessage(err) }));
      this.leading = false;
      log.info("stopped leading");
    }
  }

  /** Gives the Lease up if this replica holds it (on SIGTERM), so another takes over at once. */
  async release(): Promise<void> {
    const l = this.lease;
    if (!l || l.spec.holderIdentity !== this.opts.identity) return;
    const now = Date.now();
    const next: Lease = {
      ...l,
      spec: {
        ...l.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(now),
        acquireTime: null,
      },
    };
    try {
      await sendJson(this.conn, "PUT", `${this.path}/${encodeURIComponent(this.opts.name)}`, next);
      this.opts.log.info("released the leader Lease");
    } catch (err) {
      this.opts.log.warn("cannot release the leader Lease", { error: errorMessage(err) });
    }
    this.lease = undefined;
  }
}

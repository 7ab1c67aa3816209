// Per-id try-locks: shared (several readers, e.g. snapshots of one source) or exclusive (create,
// delete, expand, publish). Never waits: a call that cannot take all its locks at once gets
// ABORTED, as the CSI spec allows for an operation already pending on the same volume, and the
// CO retries. No lock is global, so calls on different volumes run in parallel.
//
// What each key protects: `<id>` is the volume's (or snapshot's) existence and size: a delete,
// a create and an expansion take it exclusively; a snapshot or clone, which only needs its
// source to stay, takes it shared, for as long as the copy runs (hours, for the copy backend).
// `publish/<id>` is the volume's mounts on this node: publish and unpublish take it
// exclusively, plus `<id>` shared. So a copy of a volume never blocks the unpublish of a pod
// that uses it, while a delete still cannot run during a publish or a copy.
import { aborted } from "./errors.ts";

export interface LockRequest {
  key: string;
  exclusive: boolean;
}

interface Held {
  exclusive: boolean;
  count: number;
}

export class KeyedLocks {
  private readonly held = new Map<string, Held>();

  /** Takes every lock or none; returns the release function, or undefined when one is busy. */
  tryAcquire(requests: LockRequest[]): (() => void) | undefined {
    const merged = new Map<string, boolean>();
    for (const r of requests) merged.set(r.key, (merged.get(r.key) ?? false) || r.exclusive);
    for (const [key, exclusive] of merged) {
      const h = this.held.get(key);
      if (h && (h.exclusive || exclusive)) return undefined;
    }
    for (const [key, exclusive] of merged) {
      const h = this.held.get(key);
      if (h) h.count++;
      else this.held.set(key, { exclusive, count: 1 });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of merged.keys()) {
        const h = this.held.get(key);
        if (!h) continue;
        if (--h.count === 0) this.held.delete(key);
      }
    };
  }

  /** Runs `fn` holding the locks; ABORTED when one is busy. */
  async with<T>(requests: LockRequest[], what: string, fn: () => Promise<T>): Promise<T> {
    const release = this.tryAcquire(requests);
    if (!release) throw aborted(`an operation on ${what} is already in progress; retry later`);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Number of keys held (for tests). */
  get size(): number {
    return this.held.size;
  }
}

export const exclusive = (key: string): LockRequest => ({ key, exclusive: true });
export const shared = (key: string): LockRequest => ({ key, exclusive: false });

/** The locks of a node publish or unpublish of volume `id` (see the top of this file). */
export const publishLocks = (id: string): LockRequest[] => [shared(id), exclusive(`publish/${id}`)];

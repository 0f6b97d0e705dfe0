/**
 * What the authorization log's failed writes left, waiting for the next flush: deltas merged by
 * (target, source) and stream entries, each bounded. Past the bound, the oldest stream entries
 * go and deltas of pairs not already kept are lost; the counters and flags of every kept pair
 * stay exact. Flush-time only: nothing here runs on a request.
 */
import type { UsageEventGroup, UsageRecord } from './auth-log.js';
import { mergeUsage } from './usage.js';

/**
 * What a backend's `write` could not store. What failed in a way that may pass (Redis away,
 * loading, failing over) is kept by the log and written with its next flush; a delta whose merge
 * went through but whose index entry did not comes back with zero counts, so merging it again
 * re-adds the entry and its (idempotent) flags and counts nothing twice. What Redis refused for
 * good (a key of another type) would be refused again: it is dropped, and counted.
 */
export interface UnwrittenUsage {
  readonly deltas: readonly UsageRecord[];
  readonly events: readonly UsageEventGroup[];
  readonly refusedDeltas?: readonly UsageRecord[];
  readonly refusedEvents?: readonly UsageEventGroup[];
  /** The first failure, for the log line (its name only is logged). */
  readonly error: unknown;
}

/** The key of a delta's (target, source) pair. */
export const pairKey = (d: Pick<UsageRecord, 'targetProjectId' | 'sourceProjectId'>): string =>
  `${d.targetProjectId}:${d.sourceProjectId}`;

/** The checks stream entries stand for. */
export const checksOf = (groups: readonly UsageEventGroup[]): number =>
  groups.reduce((n, g) => n + g.count, 0);

/** The checks deltas count. */
function countsOf(deltas: Iterable<UsageRecord>): number {
  let n = 0;
  for (const d of deltas) n += d.allowed + d.denied;
  return n;
}

/** See the module comment. */
export interface UsageRetry {
  /** What waits, handed over (older than anything recorded since) and forgotten here. */
  take(): { deltas: Map<string, UsageRecord>; events: UsageEventGroup[] };
  /**
   * Keeps what may pass and drops what Redis refused for good; returns the checks dropped (a
   * check lost from both the stream and the counters counts in each).
   */
  keep(left: UnwrittenUsage): number;
  /** Forgets everything waiting; returns its checks. */
  clear(): number;
  /** The checks (stream entries) and (target, source) deltas waiting. */
  waiting(): { checks: number; deltas: number };
}

/** A retry store holding at most `bound` stream entries and `bound` pairs. */
export function createUsageRetry(bound: number): UsageRetry {
  let deltas = new Map<string, UsageRecord>();
  let events: UsageEventGroup[] = [];
  return {
    take() {
      const out = { deltas, events };
      deltas = new Map();
      events = [];
      return out;
    },
    keep(left) {
      let lost = checksOf(left.refusedEvents ?? []) + countsOf(left.refusedDeltas ?? []);
      for (const d of left.deltas) {
        const key = pairKey(d);
        const kept = deltas.get(key);
        if (kept === undefined && deltas.size >= bound) lost += countsOf([d]);
        else deltas.set(key, mergeUsage(kept, d));
      }
      const all = events.concat(left.events);
      const over = all.length - bound;
      if (over > 0) lost += checksOf(all.slice(0, over));
      events = over > 0 ? all.slice(over) : all;
      return lost;
    },
    clear() {
      const { deltas: d, events: e } = this.take();
      return checksOf(e) + countsOf(d.values());
    },
    waiting: () => ({ checks: checksOf(events), deltas: deltas.size }),
  };
}

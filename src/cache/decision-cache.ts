/**
 * The two shared layers of the decision cache (DESIGN.md section 6), behind the per-request
 * memo of `request-authorizer.ts`:
 *
 * - **process** (L1): an `lru-cache` of `PermissionSet`s, short TTL (default 5 s), flushed per
 *   project by the pub/sub invalidation (and entirely when the subscriber reconnects, since
 *   messages may have been lost while it was away). A warm hit costs no round trip.
 * - **Redis** (L2): one hash per project, profile version and time bucket,
 *   `sg:{p:<id>}:d:<version>:<bucket>`, field `<principal key>`, value
 *   `<expiry, ms since the epoch, base 36>|<encodePermissionSet>`. A decision's own expiry is
 *   bounded by the configured TTL, the token's `exp` and the cached role's remaining TTL, and
 *   the reader ignores an expired one. The bucket is `floor(now / TTL)`: a hash is written
 *   during its bucket, read during it and the next one, and dropped by Redis when the next one
 *   ends, so what Redis holds is bounded by the decisions made in two TTLs, without a key and
 *   an expiry per decision (about 120 bytes a decision instead of 210). The version is read in
 *   the same script, so a decision of an older profile is never read. Member roles from the
 *   upstream live beside it, `sg:{p:<id>}:role:<userId>` (default 60 s). The stored format
 *   and the read script are in `redis-decisions.ts`.
 *
 * {@link DecisionCache.readMany} fetches, for any number of targets, version + decision + role
 * (+ the profile when the decision is missing) in ONE pipelined round trip: see
 * `decision-reads.ts`.
 */
import { LRUCache } from 'lru-cache';
import type { PermissionSet } from '../policy/types.js';
import { isCluster, waitUntilReady, type RedisConnection } from '../store/redis-client.js';
import {
  DEFAULT_KEY_PREFIX,
  invalidationChannel,
  parseInvalidation,
  projectKeys,
} from '../store/redis-keys.js';
import { bucketOf, encodeStoredDecision, READ_SCRIPT, type ReadResult } from './redis-decisions.js';
import { createDecisionReads } from './decision-reads.js';
import { createDecisionFlights, type DecisionFlights } from './in-flight.js';

export type { ReadResult } from './redis-decisions.js';
export { READ_BATCH } from './decision-reads.js';

// The key moved to its own module; still importable from here (the benchmark does).
export { principalCacheKey } from './decision-key.js';

/** Options of {@link createDecisionCache}; every duration in ms. */
export interface DecisionCacheOptions {
  /** Shared command connection; not closed by `close()`. */
  readonly redis: RedisConnection;
  /** Makes the dedicated subscriber connection (closed by `close()`). */
  readonly createSubscriber: () => RedisConnection;
  /** Local writes (the profile store's `onChange`): flush at once, before pub/sub arrives. */
  readonly localChanges?: { onChange(listener: (projectId: number) => void): () => void };
  /** Key prefix. Default `sg`. */
  readonly keyPrefix?: string;
  /** Most decisions held per process. Default 10 000. */
  readonly processMaxEntries?: number;
  /** Process-cache TTL, the staleness bound when an invalidation is lost. Default 5000. */
  readonly processTtlMs?: number;
  /** Longest life of a decision in Redis. Default 60 000. */
  readonly decisionTtlMs?: number;
  /** Life of a member role fetched from the upstream. Default 60 000. */
  readonly roleTtlMs?: number;
  /** Told about background failures (write-back, subscriber). Default: ignored. */
  readonly onError?: (err: unknown) => void;
  /** Clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** Defaults of {@link DecisionCacheOptions}. */
export const DECISION_CACHE_DEFAULTS = Object.freeze({
  processMaxEntries: 10_000,
  processTtlMs: 5_000,
  decisionTtlMs: 60_000,
  roleTtlMs: 60_000,
});

/** Round trips of one request, read by the debug extension and metrics. */
export interface RoundTripCounter {
  /** Round trips the request waited for (a batch of parallel per-node pipelines counts once). */
  roundTrips: number;
  /** Write-back pipelines sent without waiting (decisions and roles learnt by this request). */
  writes: number;
}

/** A decision held by the process cache. */
export interface LocalDecision {
  readonly set: PermissionSet;
  readonly roleAccessLevel: number;
}

/** One target of {@link DecisionCache.readMany}. */
export interface ReadRequest {
  readonly projectId: number;
  readonly principalKey: string;
  /** The user whose role to read, or `undefined` when the principal needs none. */
  readonly roleUserId: number | undefined;
}

/** One decision (and maybe role) to store after computing it. */
export interface WriteBack {
  readonly projectId: number;
  readonly version: number;
  readonly principalKey: string;
  readonly set: PermissionSet;
  /** How long the decision may live, from the write (bounded by the cache's TTL). */
  readonly ttlMs: number;
  /**
   * A moment it must not outlive whatever `ttlMs` says, ms since the epoch: the token's `exp`,
   * which a relative TTL computed a little before the write would overshoot by that little.
   */
  readonly notAfterMs?: number | undefined;
  /** A role fetched from the upstream, to cache for its `ttlMs` (default `roleTtlMs`). */
  readonly role?:
    { readonly userId: number; readonly level: number; readonly ttlMs?: number } | undefined;
}

/** The process and Redis layers, shared by every request of one gateway. */
export interface DecisionCache {
  /** Resolved option values. */
  readonly roleTtlMs: number;
  readonly decisionTtlMs: number;
  /** Synchronous process-cache look-up. */
  peekLocal(projectId: number, principalKey: string): LocalDecision | undefined;
  /** Stores in the process cache unless `projectId` was invalidated since `generation`. */
  rememberLocal(
    projectId: number,
    principalKey: string,
    d: LocalDecision,
    generation: number,
    ttlMs: number,
  ): void;
  /** Invalidation generation of a project (take it before reading Redis). */
  generation(projectId: number): number;
  /** Requests of this process deciding a target right now (see `in-flight.ts`). */
  readonly inFlight: DecisionFlights;
  /** Reads many targets in one round trip. Rejects when Redis fails. */
  readMany(reqs: readonly ReadRequest[], counter: RoundTripCounter): Promise<ReadResult[]>;
  /** Stores decisions and roles in one pipeline without waiting (failures go to `onError`). */
  writeBack(items: readonly WriteBack[], counter: RoundTripCounter): void;
  /** Drops a project's decisions from the process cache. */
  invalidate(projectId: number): void;
  /** Admin: drops cached roles (one user, or all of the project) and the project's local decisions. */
  dropRoles(projectId: number, userId?: number): Promise<void>;
  /** Subscribes to invalidations. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the shared cache layers. Call `start()` before serving. */
export function createDecisionCache(opts: DecisionCacheOptions): DecisionCache {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const channel = invalidationChannel(prefix);
  const onError = opts.onError ?? (() => undefined);
  const processTtlMs = opts.processTtlMs ?? DECISION_CACHE_DEFAULTS.processTtlMs;
  const roleTtlMs = opts.roleTtlMs ?? DECISION_CACHE_DEFAULTS.roleTtlMs;
  const decisionTtlMs = opts.decisionTtlMs ?? DECISION_CACHE_DEFAULTS.decisionTtlMs;
  if (!Number.isSafeInteger(decisionTtlMs) || decisionTtlMs <= 0)
    throw new Error('decisionTtlMs must be a positive integer');
  const now = opts.now ?? Date.now;
  const local = new LRUCache<string, LocalDecision & { gen: number }>({
    max: opts.processMaxEntries ?? DECISION_CACHE_DEFAULTS.processMaxEntries,
    ttl: processTtlMs,
  });
  // A project's generation moves on every invalidation; older entries stop matching. `epoch`
  // moves when everything is flushed.
  const generations = new Map<number, number>();
  let epoch = 0;
  const generation = (id: number): number => epoch * 1_000_000_000 + (generations.get(id) ?? 0);
  const invalidate = (id: number): void => {
    generations.set(id, (generations.get(id) ?? 0) + 1);
  };
  const flushAll = (): void => {
    epoch += 1;
    local.clear();
  };
  let subscriber: RedisConnection | undefined;
  let stopLocal: (() => void) | undefined;

  const reads = createDecisionReads({ redis, prefix, decisionTtlMs, now });

  return {
    roleTtlMs,
    decisionTtlMs,
    peekLocal(projectId, principalKey) {
      const hit = local.get(`${projectId}|${principalKey}`);
      return hit && hit.gen === generation(projectId) ? hit : undefined;
    },
    rememberLocal(projectId, principalKey, d, gen, ttlMs) {
      if (gen !== generation(projectId) || ttlMs <= 0) return;
      local.set(
        `${projectId}|${principalKey}`,
        { ...d, gen },
        { ttl: Math.min(ttlMs, processTtlMs) },
      );
    },
    generation,
    inFlight: createDecisionFlights(),
    readMany: reads.readMany,
    writeBack(items, counter) {
      if (items.length === 0) return;
      const groups = isCluster(redis) ? items.map((w) => [w]) : [items];
      counter.writes += 1;
      const at = now();
      const bucket = bucketOf(at, decisionTtlMs);
      // The hash outlives its bucket by one TTL (the longest a decision in it may live).
      const hashTtl = (bucket + 2) * decisionTtlMs - at;
      for (const group of groups) {
        const pipe = redis.pipeline();
        const hashes = new Set<string>();
        for (const w of group) {
          const keys = projectKeys(w.projectId, prefix);
          const expiresAt = Math.min(
            at + Math.floor(Math.min(w.ttlMs, decisionTtlMs)),
            w.notAfterMs ?? Infinity,
          );
          if (expiresAt > at) {
            const hash = `${keys.decisionPrefix}${w.version}:${bucket}`;
            pipe.hset(hash, w.principalKey, encodeStoredDecision(w.set, expiresAt));
            hashes.add(hash);
          }
          if (w.role)
            pipe.set(
              `${keys.rolePrefix}${w.role.userId}`,
              String(w.role.level),
              'PX',
              Math.max(1, Math.min(w.role.ttlMs ?? roleTtlMs, roleTtlMs)),
            );
        }
        for (const hash of hashes) pipe.pexpire(hash, hashTtl);
        pipe.exec().catch(onError);
      }
    },
    invalidate,
    async dropRoles(projectId, userId) {
      const keys = projectKeys(projectId, prefix);
      if (userId !== undefined) {
        await redis.del(`${keys.rolePrefix}${userId}`);
      } else {
        // SCAN, not KEYS: never block Redis. On a Cluster the project's slot lives on one master.
        const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
        for (const node of nodes) {
          let cursor = '0';
          do {
            const [next, found] = await node.scan(
              cursor,
              'MATCH',
              `${keys.rolePrefix}*`,
              'COUNT',
              500,
            );
            cursor = next;
            if (found.length > 0) await node.del(...found);
          } while (cursor !== '0');
        }
      }
      // Decisions were computed from the dropped roles: move the version on.
      await redis.incr(keys.version);
      await redis.publish(channel, `${projectId}:0`);
      invalidate(projectId);
    },
    async start() {
      if (subscriber) return;
      const sub = opts.createSubscriber();
      subscriber = sub;
      sub.on('message', (ch: string, message: string) => {
        if (ch !== channel) return;
        const parsed = parseInvalidation(message);
        if (parsed) invalidate(parsed.projectId);
      });
      let started = false;
      sub.on('ready', () => {
        // Messages sent while the subscriber was away are lost: forget everything local.
        if (!started) return;
        flushAll();
        sub.subscribe(channel).catch(onError);
      });
      try {
        await waitUntilReady(sub);
        await sub.subscribe(channel);
      } catch (err) {
        // Leave nothing reconnecting in the background: a later start() begins again.
        subscriber = undefined;
        sub.disconnect();
        throw err;
      }
      started = true;
      // Best effort: a server that already has the script answers the first read by SHA.
      await redis.script('LOAD', READ_SCRIPT).catch(onError);
      stopLocal = opts.localChanges?.onChange(invalidate);
    },
    async close() {
      stopLocal?.();
      stopLocal = undefined;
      subscriber?.disconnect();
      subscriber = undefined;
      local.clear();
    },
  };
}

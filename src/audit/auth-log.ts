/**
 * The authorization log (DESIGN.md sections 1 and 4): every cross-project decision of a job
 * token, kept as usage per (target project, source project): when it was last used, by which
 * job, pipeline and user (person or bot), which resources at which levels, and how many
 * checks were allowed, denied, or allowed only because the target is in AUDIT mode.
 *
 * Recording never slows or fails a request: the directive's hooks append each check
 * (deduplicated per request), and batches of them are folded into in-memory groups of the
 * checks that differ only in time; a timer flushes the groups to a backend (Redis hashes and a
 * bounded stream, or memory for the demo). What is held between flushes is bounded by distinct
 * groups, not by traffic: a check that would open a group past the bound is dropped and counted
 * ({@link AuthLog.stats}); the request is never held up. What a flush could not write (Redis
 * away, one key refused) is kept, bounded, and written by the next flush: usage is recorded at
 * least once, so an entry is never shown unused because Redis blinked. Events carry ids, paths
 * and levels only: never a token or its claims.
 */
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import type { TargetDecision } from '../cache/request-authorizer.js';
import {
  LEVELS,
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenResource,
  type PermissionMap,
  type ReasonCode,
  type SourceKind,
} from '../policy/types.js';
import type { CheckedRequirement } from '../server/context.js';
import type { DecisionHooks } from './decision-log.js';
import { createBotFlags } from './bot-flags.js';
import { createEventGroups, mergeUsage, sourceKeyOf, usageOf } from './usage.js';
import { checksOf, createUsageRetry, pairKey, type UnwrittenUsage } from './usage-retry.js';

export type { UnwrittenUsage } from './usage-retry.js';

/** How a check ended. */
export type UsageOutcome = 'allowed' | 'denied' | 'wouldDeny';

/** One recorded check of a job token on another project. */
export interface UsageEvent {
  readonly targetProjectId: number;
  readonly targetPath: string;
  readonly sourceProjectId: number;
  readonly sourcePath: string;
  /** The source's namespace (its nearest group), for merging siblings into a group entry. */
  readonly sourceNamespaceId: number;
  readonly sourceNamespacePath: string;
  /** ms since the epoch. */
  readonly at: number;
  readonly jobId: number;
  readonly pipelineId: number;
  readonly userId: number;
  readonly resource: JobTokenResource;
  readonly level: JobTokenAccessLevel;
  readonly outcome: UsageOutcome;
  readonly reason: ReasonCode;
  /** The allowlist entry that decided, if one matched. */
  readonly matchedEntry?: { readonly kind: SourceKind; readonly id: number } | undefined;
}

/** Usage of one target by one source project, aggregated. */
export interface UsageRecord {
  readonly targetProjectId: number;
  readonly sourceProjectId: number;
  readonly sourcePath: string;
  readonly sourceNamespaceId: number;
  readonly sourceNamespacePath: string;
  /** ms since the epoch. */
  readonly lastUsedAt: number;
  readonly lastJobId: number;
  readonly lastPipelineId: number;
  readonly lastUserId: number;
  /** `null` when the forge did not say. */
  readonly lastUserIsBot: boolean | null;
  /** Highest level used per resource by checks that were allowed (or allowed in AUDIT mode). */
  readonly used: PermissionMap;
  readonly allowed: number;
  readonly denied: number;
  readonly wouldDeny: number;
  /** Denials by the allowlist (`NOT_IN_ALLOWLIST`, `ENTRY_LEVEL_TOO_LOW`, `UNPROTECTED_REF`). */
  readonly deniedByAllowlist: number;
  readonly matchedEntry?: { readonly kind: SourceKind; readonly id: number } | undefined;
}

/**
 * The checks of one flush that differ only in time, as one stream entry: `count` checks between
 * `firstAt` and `at` (the last). A job that reads twenty projects on every request of a second
 * is twenty entries per flush, not twenty per request.
 */
export interface UsageEventGroup extends UsageEvent {
  readonly count: number;
  /** ms since the epoch of the first check; `at` is the last. */
  readonly firstAt: number;
}

/** Where flushed usage goes. `write` merges deltas into what is stored. */
export interface AuthLogBackend {
  /**
   * Resolves with what could not be stored (`undefined`: everything was); a rejection means
   * none of the batch is known to be stored, and all of it is kept for the next flush.
   */
  write(
    deltas: readonly UsageRecord[],
    events: readonly UsageEventGroup[],
  ): Promise<UnwrittenUsage | undefined>;
  /** Usage of one target, any order. */
  list(targetProjectId: number): Promise<UsageRecord[]>;
  /** Every target that has usage. */
  targets(): Promise<number[]>;
}

/** Counters for metrics. */
export interface AuthLogStats {
  /** Checks recorded since the last flush. */
  readonly buffered: number;
  /** The distinct groups (stream entries) they make, which the buffer size bounds. */
  readonly bufferedGroups: number;
  /** Checks dropped: a new group past the buffer size, or a failed write's retry store overflowed. */
  readonly dropped: number;
  /** Checks written to the stream. */
  readonly flushed: number;
  /** Flushes that could not write everything (what failed is retried by the next one). */
  readonly flushErrors: number;
  /** Checks and (target, source) deltas of failed writes waiting for the next flush. */
  readonly retrying: { readonly checks: number; readonly deltas: number };
}

/** The hooks one request adds to the directive's observers. */
export interface UsageHooks {
  onUsed(decision: TargetDecision, requirements: readonly CheckedRequirement[]): void;
  onDenied(decision: TargetDecision, requirement: CheckedRequirement): void;
}

/** The authorization log. */
export interface AuthLog {
  /** Hooks for a request; `undefined` for principals that are not job tokens. */
  hooks(principal: Principal): UsageHooks | undefined;
  /**
   * Synchronous, bounded: appends the check, which is folded into its group (or dropped and
   * counted, past the buffer size) within 1,024 checks, or by the next stats
   * read or flush.
   */
  record(event: UsageEvent): void;
  /** Writes the buffer now (the timer calls this). */
  flush(): Promise<void>;
  list(targetProjectId: number): Promise<UsageRecord[]>;
  targets(): Promise<number[]>;
  stats(): AuthLogStats;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
}

/** Options of {@link createAuthLog}. */
export interface AuthLogOptions {
  readonly backend: AuthLogBackend;
  /**
   * Most distinct groups (checks that differ only in time) held between flushes; a check of a
   * group already held is always kept. Default 10 000.
   */
  readonly bufferSize?: number;
  /** Flush period, ms. Default 1000. 0: no timer (call `flush`). */
  readonly flushIntervalMs?: number;
  /** Whether a user is a bot (`GET /users/:id`); cached. Absent: unknown. */
  readonly lookupUser?: (userId: number) => Promise<{ readonly bot?: boolean | undefined } | null>;
  /** How long a bot flag is cached, ms. Default 10 minutes. */
  readonly userTtlMs?: number;
  /** Most bot flags cached (the least recently used go first). Default 10 000. */
  readonly userCacheSize?: number;
  readonly logger?: Logger | undefined;
  /** Clock, ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Called with the number of checks dropped (metrics); must not throw. */
  readonly onDrop?: ((count: number) => void) | undefined;
}

/** Usage kept in process memory (the demo and tests of one process). */
export function createMemoryAuthLogBackend(): AuthLogBackend {
  const byTarget = new Map<number, Map<number, UsageRecord>>();
  return {
    write(deltas) {
      for (const d of deltas) {
        let m = byTarget.get(d.targetProjectId);
        if (!m) byTarget.set(d.targetProjectId, (m = new Map()));
        m.set(d.sourceProjectId, mergeUsage(m.get(d.sourceProjectId), d));
      }
      return Promise.resolve(undefined);
    },
    list: (id) => Promise.resolve([...(byTarget.get(id)?.values() ?? [])]),
    targets: () => Promise.resolve([...byTarget.keys()]),
  };
}

/**
 * One bit per (outcome, resource, level): 2 × 4 resources × 3 levels = 24 bits, so a request's
 * "already logged" set per target is one number instead of a string key per check.
 */
function seenBit(req: CheckedRequirement, denied: boolean): number {
  const r = RESOURCES.indexOf(req.resource as JobTokenResource);
  const l = LEVELS.indexOf(req.level as JobTokenAccessLevel);
  // Never expected (requirements are parsed at start-up): 0 is "not remembered", so logged.
  if (r < 0 || l < 0) return 0;
  return 1 << ((denied ? 12 : 0) + r * 3 + l);
}

/** Creates the authorization log; starts its flush timer (unref'd). */
export function createAuthLog(options: AuthLogOptions): AuthLog {
  const { backend, logger } = options;
  const bufferSize = options.bufferSize ?? 10_000;
  const now = options.now ?? Date.now;
  const botFlag = createBotFlags({
    lookupUser: options.lookupUser,
    ttlMs: options.userTtlMs ?? 600_000,
    max: options.userCacheSize ?? 10_000,
    now,
  });
  // A request only appends its checks; batches, stats reads and flushes fold them (usage.ts).
  const buffer = createEventGroups({ maxGroups: bufferSize, onRefused: (n) => drop(n) });
  let dropped = 0;
  let flushed = 0;
  let flushErrors = 0;
  let flushing: Promise<void> | undefined;
  // What failed writes left, written first by the next flush.
  const retry = createUsageRetry(bufferSize);

  const drop = (count: number): void => {
    if (count <= 0) return;
    dropped += count;
    options.onDrop?.(count);
  };

  const record = (event: UsageEvent): void => buffer.append(event);

  async function flushOnce(): Promise<void> {
    const waiting = retry.waiting();
    buffer.fold();
    if (buffer.size === 0 && waiting.checks === 0 && waiting.deltas === 0) return;
    // A job repeats the same checks on every request: they were grouped as they came.
    const groups = buffer.take();
    const flags = new Map<number, boolean | null>();
    for (const id of new Set(groups.map((g) => g.userId))) flags.set(id, await botFlag(id));
    // What an earlier write left goes first: it is older, and a tie on the newest use goes to
    // the later check, as when nothing failed.
    const { deltas, events: kept } = retry.take();
    for (const g of groups) {
      const key = pairKey(g);
      const delta = usageOf(g, flags.get(g.userId) ?? null, g.count);
      deltas.set(key, mergeUsage(deltas.get(key), delta));
    }
    const batch = kept.length > 0 ? kept.concat(groups) : groups;
    let left: UnwrittenUsage | undefined;
    try {
      left = await backend.write([...deltas.values()], batch);
    } catch (err) {
      left = { deltas: [...deltas.values()], events: batch, error: err };
    }
    const unwritten = left ? checksOf(left.events) + checksOf(left.refusedEvents ?? []) : 0;
    flushed += checksOf(batch) - unwritten;
    if (!left) return;
    flushErrors += 1;
    const dropped = retry.keep(left);
    drop(dropped);
    logger?.warn(
      {
        event: 'authlog.flush_failed',
        checks: unwritten,
        deltas: left.deltas.length + (left.refusedDeltas?.length ?? 0),
        retrying: retry.waiting(),
        dropped,
        error: left.error instanceof Error ? left.error.name : 'unknown',
      },
      'authorization log: part of a batch not written; what may pass is retried with the next flush',
    );
  }

  let pending = 0;
  const flush = (): Promise<void> => {
    // One flush at a time: a caller arriving during a flush waits for it, then flushes again.
    // `flushOnce` never rejects (backend and look-up failures are caught and counted).
    pending += 1;
    const run = (flushing ?? Promise.resolve()).then(flushOnce).finally(() => {
      pending -= 1;
    });
    flushing = run;
    return run;
  };

  const interval = options.flushIntervalMs ?? 1000;
  // A tick while a flush is still running (Redis slow to answer) is skipped, not queued: the
  // running flush's successor would find the same buffer.
  const timer =
    interval > 0 ? setInterval(() => void (pending === 0 && flush()), interval) : undefined;
  timer?.unref();

  return {
    hooks(principal) {
      if (principal.kind !== 'job') return undefined;
      const sourceKey = sourceKeyOf({
        sourceProjectId: principal.projectId,
        jobId: principal.jobId,
        pipelineId: principal.pipelineId,
        userId: principal.userId,
        sourcePath: principal.projectPath,
        sourceNamespaceId: principal.namespaceId,
        sourceNamespacePath: principal.namespacePath,
      });
      // Per target project, the (outcome, resource, level) triples already logged, as bits.
      const seen = new Map<number, number>();
      const emit = (d: TargetDecision, req: CheckedRequirement, denied: boolean): void => {
        const id = d.project.id;
        if (id === principal.projectId) return; // same project: no scoping to log
        const bit = seenBit(req, denied);
        const bits = seen.get(id) ?? 0;
        if (bit !== 0 && (bits & bit) !== 0) return;
        seen.set(id, bits | bit);
        const resource = req.resource as JobTokenResource;
        const r = d.set.resources[resource];
        const entry = d.set.matchedEntry;
        // One literal (no spread of a shared base): this runs for every target of every request.
        const event: UsageEvent = {
          targetProjectId: d.project.id,
          targetPath: d.project.path_with_namespace,
          sourceProjectId: principal.projectId,
          sourcePath: principal.projectPath,
          sourceNamespaceId: principal.namespaceId,
          sourceNamespacePath: principal.namespacePath,
          at: now(),
          jobId: principal.jobId,
          pipelineId: principal.pipelineId,
          userId: principal.userId,
          resource,
          level: req.level as JobTokenAccessLevel,
          outcome: denied ? 'denied' : r.auditWouldDeny ? 'wouldDeny' : 'allowed',
          reason: r.reason,
          matchedEntry: entry ? { kind: entry.sourceKind, id: entry.sourceId } : undefined,
        };
        buffer.append(event, sourceKey);
      };
      // The directive reports a requirement list once per request and project (the decision's
      // `checked` bits); `emit`'s bits answer any repeat without allocating.
      return {
        onUsed(d, reqs) {
          for (const req of reqs) emit(d, req, false);
        },
        onDenied(d, req) {
          emit(d, req, true);
        },
      };
    },
    record,
    flush,
    list: (id) => backend.list(id),
    targets: () => backend.targets(),
    stats() {
      buffer.fold();
      return {
        buffered: buffer.checks,
        bufferedGroups: buffer.size,
        dropped,
        flushed,
        flushErrors,
        retrying: retry.waiting(),
      };
    },
    async close() {
      if (timer) clearInterval(timer);
      await flush();
      // Nothing flushes after this: what is still waiting for a retry is lost, and said so.
      const waiting = retry.waiting();
      if (waiting.checks === 0 && waiting.deltas === 0) return;
      logger?.warn(
        { event: 'authlog.lost_on_close', ...waiting },
        'authorization log: usage not written before shutdown',
      );
      drop(retry.clear());
    },
  };
}

/** The directive's observers for a request: the decision log's, plus the usage hooks if any. */
export function withUsageHooks(
  log: DecisionHooks,
  usage: UsageHooks | undefined,
): DecisionHooks & { onUsed?: UsageHooks['onUsed'] } {
  if (!usage) return log;
  return {
    onAllowed: log.onAllowed,
    onAuditWouldDeny: log.onAuditWouldDeny,
    onDenied(d, req) {
      log.onDenied(d, req);
      usage.onDenied(d, req);
    },
    onUsed: usage.onUsed,
  };
}

/**
 * The authorization log's arithmetic: the delta a check (or a group of equal checks) makes to
 * the usage of a (target, source) pair, how deltas merge, and how the checks of one flush period
 * that differ only in time are grouped, as they are recorded, into one stream entry.
 */
import {
  LEVEL_RANK,
  LEVELS,
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenResource,
  type ReasonCode,
} from '../policy/types.js';
import type { UsageEvent, UsageEventGroup, UsageRecord } from './auth-log.js';

const ALLOWLIST_REASONS: ReadonlySet<ReasonCode> = new Set([
  'NOT_IN_ALLOWLIST',
  'ENTRY_LEVEL_TOO_LOW',
  'UNPROTECTED_REF',
]);

function maxLevelOf(
  a: JobTokenAccessLevel | undefined,
  b: JobTokenAccessLevel,
): JobTokenAccessLevel {
  return a !== undefined && LEVEL_RANK[a] >= LEVEL_RANK[b] ? a : b;
}

/** Folds `delta` into `base` (either may be the first sight of the pair). */
export function mergeUsage(base: UsageRecord | undefined, delta: UsageRecord): UsageRecord {
  if (!base) return delta;
  const newer = delta.lastUsedAt >= base.lastUsedAt ? delta : base;
  const used: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = { ...base.used };
  for (const [r, l] of Object.entries(delta.used) as [JobTokenResource, JobTokenAccessLevel][])
    used[r] = maxLevelOf(used[r], l);
  return {
    ...newer,
    used,
    allowed: base.allowed + delta.allowed,
    denied: base.denied + delta.denied,
    wouldDeny: base.wouldDeny + delta.wouldDeny,
    deniedByAllowlist: base.deniedByAllowlist + delta.deniedByAllowlist,
  };
}

/** The delta one event makes, or `count` events that differ only in time (`e.at` the last). */
export function usageOf(e: UsageEvent, isBot: boolean | null, count = 1): UsageRecord {
  const counted = e.outcome !== 'denied';
  return {
    targetProjectId: e.targetProjectId,
    sourceProjectId: e.sourceProjectId,
    sourcePath: e.sourcePath,
    sourceNamespaceId: e.sourceNamespaceId,
    sourceNamespacePath: e.sourceNamespacePath,
    lastUsedAt: e.at,
    lastJobId: e.jobId,
    lastPipelineId: e.pipelineId,
    lastUserId: e.userId,
    lastUserIsBot: isBot,
    used: counted ? { [e.resource]: e.level } : {},
    allowed: e.outcome === 'allowed' ? count : 0,
    denied: e.outcome === 'denied' ? count : 0,
    wouldDeny: e.outcome === 'wouldDeny' ? count : 0,
    deniedByAllowlist: e.outcome === 'denied' && ALLOWLIST_REASONS.has(e.reason) ? count : 0,
    matchedEntry: e.matchedEntry,
  };
}

type MutableGroup = { -readonly [K in keyof UsageEventGroup]: UsageEventGroup[K] };
type Held = { group: MutableGroup; seq: number };

/** Who made a check (the source side of its group), as one string. */
export function sourceKeyOf(
  e: Pick<
    UsageEvent,
    | 'sourceProjectId'
    | 'jobId'
    | 'pipelineId'
    | 'userId'
    | 'sourcePath'
    | 'sourceNamespaceId'
    | 'sourceNamespacePath'
  >,
): string {
  return (
    `${e.sourceProjectId}|${e.jobId}|${e.pipelineId}|${e.userId}|${e.sourceNamespaceId}|` +
    `${e.sourcePath}|${e.sourceNamespacePath}`
  );
}

const OUTCOMES = ['allowed', 'denied', 'wouldDeny'] as const;

/** Checks appended before they are folded into their groups in one batch. */
export const FOLD_EVERY = 1024;

/**
 * The target, resource, level and outcome of a check as one number (no string is built on the
 * request path): 36 combinations per target, so 64 slots each keep ids far inside 2^53.
 */
function slotOf(e: UsageEvent): number {
  const combination =
    (RESOURCES.indexOf(e.resource) * LEVELS.length + LEVELS.indexOf(e.level)) * OUTCOMES.length +
    OUTCOMES.indexOf(e.outcome);
  return e.targetProjectId * 64 + combination;
}

/** Whether `e` belongs to group `g` of the same source (the slot only narrows the search). */
function sameCheck(g: UsageEventGroup, e: UsageEvent): boolean {
  const [a, b] = [g.matchedEntry, e.matchedEntry];
  return (
    g.targetProjectId === e.targetProjectId &&
    g.resource === e.resource &&
    g.level === e.level &&
    g.outcome === e.outcome &&
    g.reason === e.reason &&
    g.targetPath === e.targetPath &&
    (a === b || (a !== undefined && b !== undefined && a.kind === b.kind && a.id === b.id))
  );
}

/** Checks grouped by everything but their time, as they are recorded (see {@link createEventGroups}). */
export interface EventGroups {
  /** Distinct groups held. */
  readonly size: number;
  /** Checks the groups stand for. */
  readonly checks: number;
  /**
   * Appends `e` (the only step a request pays); it is folded into its group with the next batch
   * of {@link FOLD_EVERY} checks or the next {@link EventGroups.fold}. `sourceKey` is
   * `sourceKeyOf(e)`, which a caller recording many checks of one job passes in.
   */
  append(e: UsageEvent, sourceKey?: string): void;
  /**
   * Folds the appended checks into their groups. A check that would open a group past
   * `maxGroups` is not kept, and counted to `onRefused`; a check of a group already held is
   * always kept, so a busy job costs one group.
   */
  fold(): void;
  /**
   * The groups (call {@link EventGroups.fold} first), and forgets them. They come in the order
   * of the check that set their `at` (the latest; the later one on a tie), so folding them in
   * order picks the same newest use as folding the checks did, and the stream is ordered by
   * `at` as far as the clock was.
   */
  take(): UsageEventGroup[];
}

/**
 * An empty set of groups. The authorization log keeps what it records between flushes here, so
 * what it holds grows with the distinct checks (job, target, resource, level, outcome), not with
 * traffic: a job that reads twenty projects on every request is twenty groups, however many
 * requests a flush period sees.
 */
export function createEventGroups(options: {
  readonly maxGroups: number;
  readonly onRefused: (count: number) => void;
}): EventGroups {
  const { maxGroups } = options;
  // Appended checks not yet folded, with their source keys.
  let appended: UsageEvent[] = [];
  let appendedSources: string[] = [];
  // By source (one string per job and request), then by slot; a slot's few groups (a reason or
  // matched entry that changed within the period) are told apart by comparing the check.
  let groups = new Map<string, Map<number, Held[]>>();
  // The source seen last: one request's checks come one after the other with the same string.
  let lastSource: string | undefined;
  let lastBySource: Map<number, Held[]> | undefined;
  let size = 0;
  let checks = 0;
  let seq = 0;
  const add = (e: UsageEvent, sourceKey: string): boolean => {
    let bySource = sourceKey === lastSource ? lastBySource : groups.get(sourceKey);
    const slot = slotOf(e);
    const inSlot = bySource?.get(slot);
    let seen: Held | undefined;
    if (inSlot) {
      for (const h of inSlot) {
        if (sameCheck(h.group, e)) {
          seen = h;
          break;
        }
      }
    }
    if (seen === undefined) {
      if (size >= maxGroups) return false;
      const held = { group: { ...e, count: 1, firstAt: e.at }, seq: ++seq };
      if (inSlot) inSlot.push(held);
      else {
        if (!bySource) groups.set(sourceKey, (bySource = new Map()));
        bySource.set(slot, [held]);
      }
      size += 1;
    } else {
      const g = seen.group;
      g.count += 1;
      if (e.at < g.firstAt) g.firstAt = e.at;
      if (e.at >= g.at) {
        g.at = e.at;
        seen.seq = ++seq;
      }
    }
    lastSource = sourceKey;
    lastBySource = bySource;
    checks += 1;
    return true;
  };
  const fold = (): void => {
    if (appended.length === 0) return;
    const [events, sources] = [appended, appendedSources];
    appended = [];
    appendedSources = [];
    let refused = 0;
    for (let i = 0; i < events.length; i++) {
      if (!add(events[i] as UsageEvent, sources[i] as string)) refused += 1;
    }
    if (refused > 0) options.onRefused(refused);
  };
  return {
    get size() {
      return size;
    },
    get checks() {
      return checks;
    },
    append(e, sourceKey = sourceKeyOf(e)) {
      appended.push(e);
      appendedSources.push(sourceKey);
      if (appended.length >= FOLD_EVERY) fold();
    },
    fold,
    take() {
      const held = [...groups.values()].flatMap((m) => [...m.values()].flat());
      groups = new Map();
      lastSource = undefined;
      lastBySource = undefined;
      size = 0;
      checks = 0;
      return held.sort((x, y) => x.seq - y.seq).map((x) => x.group);
    },
  };
}

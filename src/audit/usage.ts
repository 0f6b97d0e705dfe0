/**
 * The authorization log's arithmetic at flush time: the delta a check (or a group of equal
 * checks) makes to the usage of a (target, source) pair, how deltas merge, and how a flush's
 * checks that differ only in time are grouped into one stream entry.
 */
import {
  LEVEL_RANK,
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

/** Everything of a check but its time, as one string. */
function groupKey(e: UsageEvent): string {
  const m = e.matchedEntry;
  const entry = m ? `${m.kind}:${m.id}` : '';
  return (
    `${e.targetProjectId}|${e.sourceProjectId}|${e.jobId}|${e.pipelineId}|${e.userId}|` +
    `${e.resource}|${e.level}|${e.outcome}|${e.reason}|${entry}|${e.targetPath}|` +
    `${e.sourcePath}|${e.sourceNamespaceId}|${e.sourceNamespacePath}`
  );
}

/**
 * The events of one flush grouped by everything but their time. Groups come in the order of
 * the event that set their `at` (the latest; the later one on a tie), so folding them in order
 * picks the same newest use as folding the events did, and the stream is ordered by `at` as
 * far as the clock was.
 */
export function groupEvents(events: readonly UsageEvent[]): UsageEventGroup[] {
  const groups = new Map<string, { group: MutableGroup; atIndex: number }>();
  events.forEach((e, i) => {
    const key = groupKey(e);
    const seen = groups.get(key);
    if (seen === undefined) {
      groups.set(key, { group: { ...e, count: 1, firstAt: e.at }, atIndex: i });
      return;
    }
    const g = seen.group;
    g.count += 1;
    if (e.at < g.firstAt) g.firstAt = e.at;
    if (e.at >= g.at) {
      g.at = e.at;
      seen.atIndex = i;
    }
  });
  return [...groups.values()].sort((x, y) => x.atIndex - y.atIndex).map((x) => x.group);
}

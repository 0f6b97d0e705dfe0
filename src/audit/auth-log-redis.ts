/**
 * The authorization log's Redis backend: per (target, source) a hash
 * `sg:{p:<target>}:authlog:<source>` (counters, the last use, a flag per resource and level
 * used), a set of the target's sources `sg:{p:<target>}:authlog`, a set of targets with usage
 * `sg:{idx}:authlog`, and the checks in a bounded stream `sg:{audit}:authz` (`XADD MAXLEN ~`),
 * one entry per distinct check of a flush with its count, first and last time. A batch is one
 * pipeline (on a Cluster, one per hash-tag slot, sent together); what it could not store is handed back to the
 * log, which writes it with its next flush.
 */
import type { JobTokenAccessLevel, JobTokenResource, SourceKind } from '../policy/types.js';
import { LEVELS, RESOURCES } from '../policy/types.js';
import { ReplyError } from 'ioredis';
import { isCluster, type RedisConnection } from '../store/redis-client.js';
import { DEFAULT_KEY_PREFIX } from '../store/redis-keys.js';
import type { AuthLogBackend, UsageEventGroup, UsageRecord } from './auth-log.js';
import { failClosed } from '../store/fail-closed.js';

/** Options of {@link createRedisAuthLogBackend}. */
export interface RedisAuthLogOptions {
  readonly redis: RedisConnection;
  /** Key prefix. Default `sg`. */
  readonly keyPrefix?: string;
  /** `MAXLEN ~` of the usage stream. Default 100 000. */
  readonly streamMaxLen?: number;
}

/** Keys of the authorization log of one target. */
export function authLogKeys(targetProjectId: number, prefix = DEFAULT_KEY_PREFIX) {
  const base = `${prefix}:{p:${targetProjectId}}:authlog`;
  return { sources: base, record: (sourceId: number) => `${base}:${sourceId}` };
}

// KEYS[1] = record hash, KEYS[2] = source set. ARGV: sourceId, allowed, denied, wouldDeny,
// deniedByAllowlist, lastUsedAt, last JSON, then used-flag fields. Everything that could make a
// write fail is checked before the first write (Redis does not undo a script's earlier writes
// when a later command fails): a refused merge has written nothing.
const MERGE = `
local function kind(key) return redis.call('TYPE', key)['ok'] end
local t1, t2 = kind(KEYS[1]), kind(KEYS[2])
if (t1 ~= 'hash' and t1 ~= 'none') or (t2 ~= 'set' and t2 ~= 'none') then
  return redis.error_reply('WRONGTYPE authorization log keys hold another type')
end
local counts = redis.call('HMGET', KEYS[1], 'allowed', 'denied', 'wouldDeny', 'deniedByAllowlist', 'lastUsedAt')
for i = 1, 5 do
  -- An integer HINCRBY takes: no leading zero, at most 18 digits (so no sum overflows).
  local c = counts[i]
  if c and not (c == '0' or (string.match(c, '^%-?[1-9]%d*$') and #string.gsub(c, '-', '') <= 18)) then
    return redis.error_reply('ERR authorization log record holds a counter that is not an integer')
  end
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'allowed', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'denied', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'wouldDeny', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'deniedByAllowlist', ARGV[5])
if tonumber(ARGV[6]) >= tonumber(counts[5] or '0') then
  redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[6], 'last', ARGV[7])
end
for i = 8, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], '1') end
return 1`;

/**
 * Replies that say Redis will not take this command now but may later (loading, busy, a
 * Cluster moving or failing over, out of memory, an ACL or a password not yet in step): the command is kept
 * for the next flush. Any other error reply (a key of another type, a record the script
 * refuses) would be refused again: the command is dropped and counted. Errors that are not
 * replies (connection closed, timed out) are kept.
 */
const TRANSIENT_REPLY =
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|MOVED|ASK|NOREPLICAS|NOPERM|NOAUTH|WRONGPASS)\b/;

/** Whether a failed command would fail the same way if sent again. */
function refusedForGood(err: unknown): boolean {
  return err instanceof ReplyError && !TRANSIENT_REPLY.test((err as Error).message);
}

interface LastUse {
  sourcePath: string;
  sourceNamespaceId: number;
  sourceNamespacePath: string;
  lastJobId: number;
  lastPipelineId: number;
  lastUserId: number;
  lastUserIsBot: boolean | null;
  matchedEntry?: { kind: SourceKind; id: number } | undefined;
}

function fromHash(
  targetProjectId: number,
  sourceProjectId: number,
  h: Record<string, string>,
): UsageRecord | undefined {
  if (h['last'] === undefined) return undefined;
  const last = JSON.parse(h['last']) as LastUse;
  const used: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = {};
  for (const r of RESOURCES)
    for (const l of LEVELS) if (h[`u:${r}:${l}`] !== undefined && l !== 'NONE') used[r] = l;
  return {
    targetProjectId,
    sourceProjectId,
    ...last,
    lastUsedAt: Number(h['lastUsedAt'] ?? 0),
    used,
    allowed: Number(h['allowed'] ?? 0),
    denied: Number(h['denied'] ?? 0),
    wouldDeny: Number(h['wouldDeny'] ?? 0),
    deniedByAllowlist: Number(h['deniedByAllowlist'] ?? 0),
  };
}

/** Creates the Redis backend of the authorization log. */
export function createRedisAuthLogBackend(opts: RedisAuthLogOptions): AuthLogBackend {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const targetsKey = `${prefix}:{idx}:authlog`;
  const streamKey = `${prefix}:{audit}:authz`;
  const maxLen = String(opts.streamMaxLen ?? 100_000);

  type Pipeline = ReturnType<RedisConnection['pipeline']>;
  /** Told how one command of a pipeline ended: `undefined` when it went through. */
  type Mark = (error: unknown) => void;
  /**
   * Sends a pipeline and tells each command's `mark` how it ended: its error reply, or the
   * pipeline's own failure when it has no reply (Redis away). Returns the first failure.
   */
  async function send(p: Pipeline, marks: Mark[]): Promise<unknown> {
    if (marks.length === 0) return undefined;
    let res: [Error | null, unknown][] | null = null;
    let failure: unknown;
    try {
      res = await p.exec();
    } catch (err) {
      failure = err;
    }
    marks.forEach((mark, i) => {
      const reply = res?.[i];
      const error = reply === undefined ? (failure ?? new Error('no reply')) : reply[0];
      if (error) failure ??= error;
      mark(error ?? undefined);
    });
    return failure;
  }

  // Reads for jobTokenAuthLog and the compliance report answer POLICY_UNAVAILABLE when Redis
  // fails. A write reports what it could not store (a command refused, or Redis away), and
  // the log keeps that for its next flush; requests are never held back by the log.
  return failClosed<AuthLogBackend>(
    {
      async write(deltas, events) {
        const byTarget = new Map<number, UsageRecord[]>();
        for (const d of deltas) {
          const list = byTarget.get(d.targetProjectId) ?? [];
          list.push(d);
          byTarget.set(d.targetProjectId, list);
        }
        const cluster = isCluster(redis);
        const failedDeltas = new Set<UsageRecord>();
        const refusedDeltas = new Set<UsageRecord>();
        let indexFailed = false;
        const failedEvents: UsageEventGroup[] = [];
        const refusedEvents: UsageEventGroup[] = [];
        let firstFailure: unknown;
        // On a Cluster each slot's pipeline is sent as soon as it is built; all are awaited
        // together below, so a flush is one wave of round trips, not one per target.
        const sent: Promise<void>[] = [];
        const flush = (p: Pipeline, marks: Mark[]): void => {
          sent.push(
            send(p, marks).then((failure) => {
              firstFailure ??= failure;
            }),
          );
        };
        let p = redis.pipeline();
        let marks: Mark[] = [];
        for (const [target, list] of byTarget) {
          const keys = authLogKeys(target, prefix);
          for (const d of list) {
            const last: LastUse = {
              sourcePath: d.sourcePath,
              sourceNamespaceId: d.sourceNamespaceId,
              sourceNamespacePath: d.sourceNamespacePath,
              lastJobId: d.lastJobId,
              lastPipelineId: d.lastPipelineId,
              lastUserId: d.lastUserId,
              lastUserIsBot: d.lastUserIsBot,
              matchedEntry: d.matchedEntry,
            };
            const flags = Object.entries(d.used).map(([r, l]) => `u:${r}:${l}`);
            p.eval(
              MERGE,
              2,
              keys.record(d.sourceProjectId),
              keys.sources,
              String(d.sourceProjectId),
              String(d.allowed),
              String(d.denied),
              String(d.wouldDeny),
              String(d.deniedByAllowlist),
              String(d.lastUsedAt),
              JSON.stringify(last),
              ...flags,
            );
            marks.push((error) => {
              if (error) (refusedForGood(error) ? refusedDeltas : failedDeltas).add(d);
            });
          }
          if (cluster) {
            flush(p, marks);
            p = redis.pipeline();
            marks = [];
          }
        }
        if (byTarget.size > 0) {
          p.sadd(targetsKey, ...[...byTarget.keys()].map(String));
          marks.push((error) => {
            if (error && !refusedForGood(error)) indexFailed = true;
          });
        }
        if (cluster) {
          flush(p, marks);
          p = redis.pipeline();
          marks = [];
        }
        for (const e of events) {
          p.xadd(streamKey, 'MAXLEN', '~', maxLen, '*', 'event', JSON.stringify(eventJson(e)));
          marks.push((error) => {
            if (error) (refusedForGood(error) ? refusedEvents : failedEvents).push(e);
          });
        }
        flush(p, marks);
        await Promise.all(sent);
        if (firstFailure === undefined) return undefined;
        // A merged delta whose index entry failed comes back with zero counts: merging it again
        // re-adds the entry and counts nothing twice. A refused index entry cannot be retried
        // (the key holds another type); the failure is logged.
        const retry = deltas.flatMap((d) => {
          if (failedDeltas.has(d)) return [d];
          if (refusedDeltas.has(d) || !indexFailed) return [];
          return [withoutCounts(d)];
        });
        return {
          deltas: retry,
          events: failedEvents,
          refusedDeltas: [...refusedDeltas],
          refusedEvents,
          error: firstFailure,
        };
      },

      async list(targetProjectId) {
        const keys = authLogKeys(targetProjectId, prefix);
        const ids = (await redis.smembers(keys.sources)).map(Number);
        if (ids.length === 0) return [];
        const p = redis.pipeline();
        for (const id of ids) p.hgetall(keys.record(id));
        const res = (await p.exec()) ?? [];
        const out: UsageRecord[] = [];
        res.forEach(([err, h], i) => {
          if (err) throw err;
          const r = fromHash(targetProjectId, ids[i] ?? 0, h as Record<string, string>);
          if (r) out.push(r);
        });
        return out;
      },

      async targets() {
        return (await redis.smembers(targetsKey)).map(Number);
      },
    },
    () => false,
  );
}

/** A delta that, merged again, changes no counter (flags, last use and index entries only). */
function withoutCounts(d: UsageRecord): UsageRecord {
  return { ...d, allowed: 0, denied: 0, wouldDeny: 0, deniedByAllowlist: 0 };
}

function eventJson(e: UsageEventGroup): Record<string, unknown> {
  return {
    event: 'authz.usage',
    ...e,
    at: new Date(e.at).toISOString(),
    firstAt: new Date(e.firstAt).toISOString(),
  };
}

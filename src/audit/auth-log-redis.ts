/**
 * The authorization log's Redis backend: per (target, source) a hash
 * `sg:{p:<target>}:authlog:<source>` (counters, the last use, a flag per resource and level
 * used), a set of the target's sources `sg:{p:<target>}:authlog`, a set of targets with usage
 * `sg:{idx}:authlog`, and the checks in a bounded stream `sg:{audit}:authz` (`XADD MAXLEN ~`),
 * one entry per distinct check of a flush with its count, first and last time. A batch is one
 * pipeline (one per hash-tag slot on a Cluster); what it could not store is handed back to the
 * log, which writes it with its next flush.
 */
import type { JobTokenAccessLevel, JobTokenResource, SourceKind } from '../policy/types.js';
import { LEVELS, RESOURCES } from '../policy/types.js';
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
// deniedByAllowlist, lastUsedAt, last JSON, then used-flag fields.
const MERGE = `
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'allowed', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'denied', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'wouldDeny', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'deniedByAllowlist', ARGV[5])
local last = tonumber(redis.call('HGET', KEYS[1], 'lastUsedAt') or '0')
if tonumber(ARGV[6]) >= last then
  redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[6], 'last', ARGV[7])
end
for i = 8, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], '1') end
return 1`;

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
  /**
   * Sends a pipeline and tells each command's `mark` whether it failed: a command with an
   * error reply, or with no reply because the pipeline as a whole failed (Redis away). Returns
   * the first failure.
   */
  async function send(p: Pipeline, marks: ((failed: boolean) => void)[]): Promise<unknown> {
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
      const failed = reply === undefined || reply[0] !== null;
      if (failed) failure ??= reply?.[0] ?? new Error('no reply');
      mark(failed);
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
        let indexFailed = false;
        const failedEvents: UsageEventGroup[] = [];
        let firstFailure: unknown;
        const flush = async (p: Pipeline, marks: ((failed: boolean) => void)[]) => {
          firstFailure ??= await send(p, marks);
        };
        let p = redis.pipeline();
        let marks: ((failed: boolean) => void)[] = [];
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
            marks.push((failed) => {
              if (failed) failedDeltas.add(d);
            });
          }
          if (cluster) {
            await flush(p, marks);
            p = redis.pipeline();
            marks = [];
          }
        }
        if (byTarget.size > 0) {
          p.sadd(targetsKey, ...[...byTarget.keys()].map(String));
          marks.push((failed) => {
            indexFailed ||= failed;
          });
        }
        if (cluster) {
          await flush(p, marks);
          p = redis.pipeline();
          marks = [];
        }
        for (const e of events) {
          p.xadd(streamKey, 'MAXLEN', '~', maxLen, '*', 'event', JSON.stringify(eventJson(e)));
          marks.push((failed) => {
            if (failed) failedEvents.push(e);
          });
        }
        await flush(p, marks);
        if (failedDeltas.size === 0 && !indexFailed && failedEvents.length === 0) return undefined;
        // A merged delta whose index entry failed comes back with zero counts: merging it again
        // re-adds the entry and counts nothing twice.
        const retry = indexFailed
          ? deltas.map((d) => (failedDeltas.has(d) ? d : withoutCounts(d)))
          : deltas.filter((d) => failedDeltas.has(d));
        return { deltas: retry, events: failedEvents, error: firstFailure };
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

/**
 * The decision cache's reads from Redis ({@link DecisionCache.readMany}): version, decision,
 * role and (when the decision must be made again) profile of any number of targets in ONE
 * pipelined round trip, one script call per request (at most {@link READ_BATCH} targets to a
 * call; on a Cluster one pipeline per project, in parallel, since a pipeline and a call there
 * must stay on one slot). The reads of all requests that miss in the same event-loop turn go
 * out in that same pipeline, each request keeping its own answer or failure.
 */
import { isCluster, isNoScript, type RedisConnection } from '../store/redis-client.js';
import { projectKeys } from '../store/redis-keys.js';
import type { DecisionCache, ReadRequest, RoundTripCounter } from './decision-cache.js';
import {
  bucketOf,
  parseReply,
  READ_SCRIPT,
  READ_SHA,
  type ReadReply,
  type ReadResult,
} from './redis-decisions.js';

/** The most targets one script call reads (Redis runs a call alone: this bounds its time). */
export const READ_BATCH = 64;

interface PendingRead {
  readonly reqs: readonly ReadRequest[];
  readonly counter: RoundTripCounter;
  resolve(results: ReadResult[]): void;
  reject(err: unknown): void;
}

/** The read side of the decision cache, on `redis` with the cache's key prefix and clock. */
export function createDecisionReads(opts: {
  readonly redis: RedisConnection;
  readonly prefix: string;
  readonly decisionTtlMs: number;
  readonly now: () => number;
}): Pick<DecisionCache, 'readMany'> {
  const { redis, prefix, decisionTtlMs, now } = opts;

  /** Queues one script call reading `reqs` (targets of one slot on a Cluster). */
  function queue(
    pipe: ReturnType<RedisConnection['pipeline']>,
    reqs: readonly ReadRequest[],
    useSha: boolean,
    at: number,
  ) {
    const bucket = bucketOf(at, decisionTtlMs);
    const keys: string[] = [];
    const args = [String(bucket), String(bucket - 1), String(Math.floor(at))];
    for (const r of reqs) {
      const k = projectKeys(r.projectId, prefix);
      keys.push(k.version, k.profile, k.decisionPrefix, `${k.rolePrefix}${r.roleUserId ?? 0}`);
      args.push(r.principalKey, r.roleUserId === undefined ? '0' : '1');
    }
    if (useSha) pipe.evalsha(READ_SHA, keys.length, ...keys, ...args);
    else pipe.eval(READ_SCRIPT, keys.length, ...keys, ...args);
  }

  // Reads of every request that reach `readMany` in one event-loop turn share one pipeline:
  // under load several requests miss the process cache at once, and one write and one reply
  // for all of them cost Redis and this process far fewer system calls than one each.
  // Non-empty exactly while a flush is scheduled.
  let pending: PendingRead[] = [];

  async function flushReads(): Promise<void> {
    const batch = pending;
    pending = [];
    const requests = batch.map((p) => p.reqs);
    const at = now();
    let res: [Error | null, unknown][][];
    try {
      res = await run(requests, true, at);
      if (res.some((mine) => mine.some(([err]) => isNoScript(err)))) {
        // Redis restarted and lost its script cache: send the body once more.
        for (const p of batch) p.counter.roundTrips += 1;
        res = await run(requests, false, at);
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, j) => {
      try {
        p.resolve(
          (res[j] ?? []).map(([err, reply], k) => {
            if (err) throw err;
            return parseReply((p.reqs[k] as ReadRequest).projectId, reply as ReadReply, at);
          }),
        );
      } catch (err) {
        p.reject(err); // only this request's targets fail (closed); the others are answered
      }
    });
  }

  /**
   * Runs the reads of `requests` as one pipeline (on a Cluster, one per project, in parallel)
   * of one script call per request, split at {@link READ_BATCH} targets, and gives each target
   * its own entry, in the order of its request. A call's error (or a reply that is not a list
   * of one answer per target) is each of its targets' error, so a target that fails fails only
   * its own request, as before calls were shared.
   */
  async function run(
    requests: readonly (readonly ReadRequest[])[],
    useSha: boolean,
    at: number,
  ): Promise<[Error | null, unknown][][]> {
    const out = requests.map((reqs) => new Array<[Error | null, unknown]>(reqs.length));
    // The calls of each pipeline: a request and the indexes of its targets in that call.
    const pipelines = new Map<number, { request: number; targets: number[] }[]>();
    const cluster = isCluster(redis);
    requests.forEach((reqs, request) => {
      const bySlot = new Map<number, number[]>();
      reqs.forEach((r, i) => {
        const slot = cluster ? r.projectId : 0;
        const targets = bySlot.get(slot);
        if (targets) targets.push(i);
        else bySlot.set(slot, [i]);
      });
      for (const [slot, targets] of bySlot) {
        const calls = pipelines.get(slot) ?? [];
        pipelines.set(slot, calls);
        for (let i = 0; i < targets.length; i += READ_BATCH)
          calls.push({ request, targets: targets.slice(i, i + READ_BATCH) });
      }
    });
    await Promise.all(
      [...pipelines.values()].map(async (calls) => {
        const pipe = redis.pipeline();
        for (const { request, targets } of calls) {
          const reqs = requests[request] ?? [];
          queue(
            pipe,
            targets.map((i) => reqs[i] as ReadRequest),
            useSha,
            at,
          );
        }
        const res = await pipe.exec();
        if (!res) throw new Error('the decision read was aborted');
        calls.forEach(({ request, targets }, c) => {
          const [err, reply] = res[c] ?? [new Error('no reply'), null];
          const list = Array.isArray(reply) ? (reply as unknown[]) : undefined;
          const mine = out[request] ?? [];
          targets.forEach((i, t) => {
            mine[i] = err
              ? [err, null]
              : list?.length === targets.length
                ? [null, list[t]]
                : [new Error('the decision read answered another number of targets'), null];
          });
        });
      }),
    );
    return out;
  }

  return {
    readMany(reqs, counter) {
      if (reqs.length === 0) return Promise.resolve([]);
      counter.roundTrips += 1;
      return new Promise<ReadResult[]>((resolve, reject) => {
        if (pending.push({ reqs, counter, resolve, reject }) === 1)
          setImmediate(() => void flushReads());
      });
    },
  };
}

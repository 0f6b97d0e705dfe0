/**
 * Scale check of the decision cache, in its own process:
 * `node --expose-gc --import tsx bench/scale.ts <redisUrl> <pairs> <lruMax> [<offset>]`.
 *
 * Drives `pairs` distinct (token, target) pairs through the cache exactly as a request's
 * first sight does on a miss (batched `readMany`, `decide`, `writeBack`, `rememberLocal`),
 * then prints one JSON line, a {@link ScaleResult}: resident memory before and after (which the
 * process LRU's `max` must bound), and Redis memory per cached decision.
 */
import type { JobTokenPrincipal } from '../src/auth/principal.js';
import {
  createDecisionCache,
  principalCacheKey,
  type RoundTripCounter,
} from '../src/cache/decision-cache.js';
import { decide, DEFAULT_INSTANCE_SETTINGS } from '../src/policy/engine.js';
import type { JobTokenProfile, TargetProject } from '../src/policy/types.js';
import {
  createRedisConnection,
  waitUntilReady,
  type RedisConnection,
} from '../src/store/redis-client.js';

/** What the scale check prints. */
export interface ScaleResult {
  readonly pairs: number;
  readonly lruMax: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  readonly heapBeforeMiB: number;
  readonly heapAfterMiB: number;
  /**
   * Heap and RSS after each quarter of the pairs (after a full GC). The LRU is full long before
   * the first quarter ends (10,000 of 200,000 pairs), so a bounded cache holds the heap level
   * from there on.
   */
  readonly quarters: readonly {
    readonly pairs: number;
    readonly heapMiB: number;
    readonly rssMiB: number;
  }[];
  /** Decisions this run added to Redis (fields of the decision hashes). */
  readonly redisKeys: number;
  /** `INFO memory` used_memory delta divided by the decisions written. */
  readonly redisBytesPerDecision: number;
  /** `MEMORY USAGE` of every decision hash, divided by all the decisions they hold. */
  readonly memoryUsageSample: number;
  /** One decision hash and one of its fields. */
  readonly sampleKey: string;
  readonly seconds: number;
}

const TARGETS = 100;
const BATCH = 200;

function target(k: number): TargetProject {
  return {
    id: 50_000 + k,
    fullPath: `scale/t${k}`,
    visibility: 'private',
    features: {
      RELEASES: 'enabled',
      TAGS: 'enabled',
      CONTAINERS: 'enabled',
      MERGE_REQUEST_NOTES: 'enabled',
    },
  };
}

/** Job `t`'s principal; `offset` moves its project ids, so a second run meets no decision of the first. */
function job(t: number, offset: number): JobTokenPrincipal {
  return {
    kind: 'job',
    issuer: 'https://issuer.bench',
    jti: `scale-${t}`,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    projectId: 60_000 + offset + t,
    projectPath: `scale/src${t}`,
    namespaceId: 700,
    namespacePath: 'scale',
    userId: 9001,
    userLogin: 'bench-bot',
    jobId: t,
    pipelineId: t,
    ref: 'main',
    refType: 'branch',
    refProtected: true,
  };
}

async function usedMemory(info: () => Promise<string>): Promise<number> {
  const m = /used_memory:(\d+)/.exec(await info());
  return Number(m?.[1] ?? 0);
}

/** Every decision hash in Redis: the decisions they hold, their `MEMORY USAGE`, and a sample. */
async function decisionHashes(
  redis: RedisConnection,
): Promise<{ fields: number; usage: number; sample: string }> {
  let fields = 0;
  let usage = 0;
  let sample = '';
  let cursor = '0';
  do {
    const [next, hashes] = await redis.scan(cursor, 'MATCH', 'sg:{p:*}:d:*', 'COUNT', 1000);
    cursor = next;
    for (const hash of hashes) {
      fields += await redis.hlen(hash);
      usage += ((await redis.call('MEMORY', 'USAGE', hash, 'SAMPLES', '0')) as number | null) ?? 0;
      if (sample === '') sample = `${hash} ${(await redis.hkeys(hash))[0] ?? ''}`;
    }
  } while (cursor !== '0');
  return { fields, usage, sample };
}

const mib = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Runs the scale check. */
export async function runScale(
  redisUrl: string,
  pairs: number,
  lruMax: number,
  offset = 0,
): Promise<ScaleResult> {
  const started = performance.now();
  const redis = createRedisConnection({ url: redisUrl, commandTimeoutMs: 30_000 });
  await waitUntilReady(redis);
  const cache = createDecisionCache({
    redis,
    createSubscriber: () => createRedisConnection({ url: redisUrl, subscriber: true }),
    processMaxEntries: lruMax,
    processTtlMs: 600_000,
    decisionTtlMs: 600_000,
  });
  await cache.start();
  const instance = DEFAULT_INSTANCE_SETTINGS;
  const profile: JobTokenProfile = {
    projectId: 0,
    enforcement: 'ENFORCED',
    entries: [],
    version: 0,
  };
  const counter: RoundTripCounter = { roundTrips: 0, writes: 0 };
  gc();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const redisBefore = await usedMemory(() => redis.info('memory'));
  // Decisions already held (an earlier scale run's in the same Redis): not this run's to count.
  const before = await decisionHashes(redis);

  const quarters: { pairs: number; heapMiB: number; rssMiB: number }[] = [];
  let nextQuarter = 1;
  for (let start = 0; start < pairs; start += BATCH) {
    const items = [];
    for (let i = start; i < Math.min(start + BATCH, pairs); i++) {
      const principal = job(Math.floor(i / TARGETS), offset);
      const t = target(i % TARGETS);
      items.push({ principal, t, key: principalCacheKey(principal, t, instance) });
    }
    const reads = await cache.readMany(
      items.map((it) => ({ projectId: it.t.id, principalKey: it.key, roleUserId: undefined })),
      counter,
    );
    const writes = items.map((it, k) => {
      const r = reads[k];
      const set =
        r?.set ??
        decide({
          principal: it.principal,
          target: it.t,
          profile: r?.profile ?? { ...profile, projectId: it.t.id },
          roleAccessLevel: 30,
          instance,
        });
      const gen = cache.generation(it.t.id);
      cache.rememberLocal(it.t.id, it.key, { set, roleAccessLevel: 30 }, gen, 600_000);
      return {
        projectId: it.t.id,
        version: r?.version ?? 0,
        principalKey: it.key,
        set,
        ttlMs: 600_000,
      };
    });
    cache.writeBack(writes, counter);
    const done = Math.min(start + BATCH, pairs);
    if (done >= (pairs * nextQuarter) / 4) {
      await redis.ping(); // the write-backs so far have been answered
      gc();
      const m = process.memoryUsage();
      quarters.push({ pairs: done, heapMiB: mib(m.heapUsed), rssMiB: mib(m.rss) });
      nextQuarter++;
    }
  }
  await redis.ping(); // every write-back pipeline before it has been answered
  gc();
  const rssAfter = process.memoryUsage().rss;
  const heapAfter = process.memoryUsage().heapUsed;
  const redisAfter = await usedMemory(() => redis.info('memory'));
  const after = await decisionHashes(redis);
  await cache.close();
  redis.disconnect();
  return {
    pairs,
    lruMax,
    rssBeforeMiB: mib(rssBefore),
    rssAfterMiB: mib(rssAfter),
    heapBeforeMiB: mib(heapBefore),
    heapAfterMiB: mib(heapAfter),
    quarters,
    redisKeys: after.fields - before.fields,
    redisBytesPerDecision: Math.round(
      (redisAfter - redisBefore) / Math.max(1, after.fields - before.fields),
    ),
    memoryUsageSample: Math.round(after.usage / Math.max(1, after.fields)),
    sampleKey: after.sample,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

const [url, pairs, lruMax, offset] = process.argv.slice(2);
if (url !== undefined) {
  const result = await runScale(
    url,
    Number(pairs ?? 200_000),
    Number(lruMax ?? 10_000),
    Number(offset ?? 0),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

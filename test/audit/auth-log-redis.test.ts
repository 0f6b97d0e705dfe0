/**
 * The authorization log on a real Redis: the checks of one flush that differ only in time are
 * one stream entry with their count, first and last time, while the per-(target, source)
 * counters still count every check. What a flush could not write (a key Redis refuses, Redis
 * away) is written by the next one, once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthLog, type UsageEvent } from '../../src/audit/auth-log.js';
import { createRedisAuthLogBackend } from '../../src/audit/auth-log-redis.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const T0 = 1_700_000_000_000;

function check(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    targetProjectId: 101,
    targetPath: 'acme/platform/registry',
    sourceProjectId: 102,
    sourcePath: 'acme/apps/web',
    sourceNamespaceId: 13,
    sourceNamespacePath: 'acme/apps',
    at: T0,
    jobId: 7,
    pipelineId: 70,
    userId: 1,
    resource: 'RELEASES',
    level: 'READ',
    outcome: 'allowed',
    reason: 'ENTRY_GRANTS',
    matchedEntry: { kind: 'GROUP', id: 13 },
    ...over,
  };
}

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

async function stream(): Promise<Record<string, unknown>[]> {
  const entries = await redis.xrange('sg:{audit}:authz', '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as Record<string, unknown>);
}

describe('authorization log stream on Redis', () => {
  it('writes one entry per distinct check of a flush, with its count, first and last time', async () => {
    await redis.flushall();
    const log = createAuthLog({
      backend: createRedisAuthLogBackend({ redis }),
      flushIntervalMs: 0,
    });
    // A job reading one target on 50 requests, once denied a write, and a second job once.
    for (let i = 0; i < 50; i += 1) log.record(check({ at: T0 + i * 10 }));
    log.record(
      check({ at: T0 + 5, level: 'WRITE', outcome: 'denied', reason: 'ENTRY_LEVEL_TOO_LOW' }),
    );
    log.record(check({ at: T0 + 7, jobId: 8 }));
    await log.flush();

    const entries = await stream();
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      event: 'authz.usage',
      jobId: 7,
      level: 'READ',
      outcome: 'allowed',
      count: 50,
      firstAt: new Date(T0).toISOString(),
      at: new Date(T0 + 490).toISOString(),
      matchedEntry: { kind: 'GROUP', id: 13 },
    });
    expect(entries[1]).toMatchObject({ level: 'WRITE', outcome: 'denied', count: 1 });
    expect(entries[1]?.['firstAt']).toBe(entries[1]?.['at']);
    expect(entries[2]).toMatchObject({ jobId: 8, count: 1 });

    // The counters still count each check; the newest use is the last check.
    const [usage] = await log.list(101);
    expect(usage).toMatchObject({
      allowed: 51,
      denied: 1,
      deniedByAllowlist: 1,
      lastUsedAt: T0 + 490,
      lastJobId: 7,
      used: { RELEASES: 'READ' },
    });
    expect(log.stats()).toMatchObject({ flushed: 52, flushErrors: 0 });

    // A later flush adds its own entries and counts.
    log.record(check({ at: T0 + 1000 }));
    log.record(check({ at: T0 + 1001 }));
    await log.flush();
    const after = await stream();
    expect(after).toHaveLength(4);
    expect(after[3]).toMatchObject({ count: 2, at: new Date(T0 + 1001).toISOString() });
    expect((await log.list(101))[0]).toMatchObject({ allowed: 53, lastUsedAt: T0 + 1001 });
    await log.close();
  });

  it('keeps checks that differ in anything but time apart', async () => {
    await redis.flushall();
    const log = createAuthLog({
      backend: createRedisAuthLogBackend({ redis }),
      flushIntervalMs: 0,
    });
    const variants: Partial<UsageEvent>[] = [
      {},
      { targetProjectId: 201, targetPath: 'acme/other' },
      { pipelineId: 71 },
      { userId: 2 },
      { resource: 'TAGS' },
      { outcome: 'wouldDeny', reason: 'AUDIT_WOULD_DENY' },
      { reason: 'DEFAULT_PERMISSIONS' },
      { matchedEntry: { kind: 'PROJECT', id: 102 } },
      { matchedEntry: undefined },
    ];
    for (const v of variants) {
      log.record(check({ ...v, at: T0 }));
      log.record(check({ ...v, at: T0 + 1 }));
    }
    await log.flush();
    const entries = await stream();
    expect(entries).toHaveLength(variants.length);
    expect(entries.every((e) => e['count'] === 2)).toBe(true);
    await log.close();
  });
});

describe('authorization log retries on Redis', () => {
  const other = (over: Partial<UsageEvent> = {}): UsageEvent =>
    check({ targetProjectId: 201, targetPath: 'acme/other', ...over });

  it('writes a refused stream entry with the next flush, once, and counts nothing twice', async () => {
    await redis.flushall();
    const log = createAuthLog({
      backend: createRedisAuthLogBackend({ redis }),
      flushIntervalMs: 0,
    });
    // The stream key holds a string: every XADD is refused, the counters go through.
    await redis.set('sg:{audit}:authz', 'not a stream');
    log.record(check());
    log.record(check({ at: T0 + 1 }));
    await log.flush();
    expect(log.stats()).toMatchObject({
      flushed: 0,
      flushErrors: 1,
      dropped: 0,
      retrying: { checks: 2, deltas: 0 },
    });
    expect((await log.list(101))[0]).toMatchObject({ allowed: 2 });

    await redis.del('sg:{audit}:authz');
    log.record(check({ at: T0 + 2 }));
    await log.flush();
    const entries = await stream();
    // The retried entry first (it is older), then the new flush's.
    expect(entries.map((e) => e['count'])).toEqual([2, 1]);
    expect(entries[0]).toMatchObject({ firstAt: new Date(T0).toISOString() });
    expect((await log.list(101))[0]).toMatchObject({ allowed: 3, lastUsedAt: T0 + 2 });
    expect(log.stats()).toMatchObject({
      flushed: 3,
      flushErrors: 1,
      retrying: { checks: 0, deltas: 0 },
    });
    await log.close();
  });

  it('retries only the pair whose record Redis refused; a refused index entry re-adds without recounting', async () => {
    await redis.flushall();
    const log = createAuthLog({
      backend: createRedisAuthLogBackend({ redis }),
      flushIntervalMs: 0,
    });
    // Target 201's record for source 102 is a string: its merge is refused; 101's goes.
    await redis.set('sg:{p:201}:authlog:102', 'x');
    // The index of targets is a string too: SADD is refused, so 101 is not listed yet.
    await redis.set('sg:{idx}:authlog', 'x');
    log.record(check());
    log.record(other());
    log.record(other({ at: T0 + 1 }));
    await log.flush();
    expect(log.stats()).toMatchObject({ flushErrors: 1, retrying: { deltas: 2 } });
    expect((await log.list(101))[0]).toMatchObject({ allowed: 1 });
    expect(await redis.get('sg:{p:201}:authlog:102')).toBe('x');

    await redis.del('sg:{p:201}:authlog:102', 'sg:{idx}:authlog');
    await log.flush();
    // 101's counters were merged once (its retry carried zero counts), 201's arrive now.
    expect((await log.list(101))[0]).toMatchObject({ allowed: 1, used: { RELEASES: 'READ' } });
    expect((await log.list(201))[0]).toMatchObject({ allowed: 2, lastUsedAt: T0 + 1 });
    expect((await log.targets()).sort()).toEqual([101, 201]);
    expect(log.stats()).toMatchObject({
      flushed: 3,
      flushErrors: 1,
      dropped: 0,
      retrying: { checks: 0, deltas: 0 },
    });
    expect(await stream()).toHaveLength(2);
    await log.close();
  });

  it('keeps a batch while Redis is away and writes it, once, when Redis is back', async () => {
    const own = await startRedis();
    // The gateway's own connection settings: no offline queue, so nothing waits for Redis.
    const conn = createRedisConnection({ url: own.url, maxReconnectDelayMs: 50 });
    conn.on('error', () => undefined);
    try {
      await waitUntilReady(conn);
      const log = createAuthLog({
        backend: createRedisAuthLogBackend({ redis: conn }),
        flushIntervalMs: 0,
      });
      log.record(check());
      await log.flush();
      await own.kill();
      for (let i = 1; i <= 3; i += 1) log.record(check({ at: T0 + i }));
      log.record(other({ at: T0 + 4 }));
      await log.flush();
      expect(log.stats()).toMatchObject({
        flushed: 1,
        flushErrors: 1,
        retrying: { checks: 4, deltas: 2 },
      });
      // Still away: the next flush fails too and keeps the same checks, merged with new ones.
      log.record(check({ at: T0 + 5 }));
      await log.flush();
      expect(log.stats()).toMatchObject({ flushErrors: 2, retrying: { checks: 5, deltas: 2 } });

      await own.restart();
      await waitUntilReady(conn);
      await log.flush();
      // Redis came back empty (no persistence): the first flush's check is gone with it, the
      // four kept while it was away are written.
      expect((await log.list(101))[0]).toMatchObject({ allowed: 4, lastUsedAt: T0 + 5 });
      expect((await log.list(201))[0]).toMatchObject({ allowed: 1 });
      expect(log.stats()).toMatchObject({
        flushed: 6,
        dropped: 0,
        retrying: { checks: 0, deltas: 0 },
      });
      const counts = (await conn.xrange('sg:{audit}:authz', '-', '+')).map(
        ([, f]) => (JSON.parse(f[1] ?? '{}') as { count: number }).count,
      );
      expect(counts.reduce((a, b) => a + b, 0)).toBe(5);
      await log.close();
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});

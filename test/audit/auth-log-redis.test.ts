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
import { usageEvent } from '../helpers/usage.js';

const T0 = 1_700_000_000_000;

/** A check matched by the group entry of acme/apps (id 13). */
const check = (over: Partial<UsageEvent> = {}): UsageEvent =>
  usageEvent({ matchedEntry: { kind: 'GROUP', id: 13 }, ...over });

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

  it('writes what Redis did not take yet (no permission) with the next flush, once, counting nothing twice', async () => {
    await redis.flushall();
    // A user that may write the per-project keys but not yet the stream or the index of
    // targets: XADD and SADD get NOPERM, a refusal that an operator's fix makes pass.
    await redis.call('ACL', 'SETUSER', 'authlog', 'reset', 'on', '>pw', '~sg:{p:*', '+@all');
    const limited = new Redis(server.url, { username: 'authlog', password: 'pw' });
    try {
      const log = createAuthLog({
        backend: createRedisAuthLogBackend({ redis: limited }),
        flushIntervalMs: 0,
      });
      log.record(check());
      log.record(check({ at: T0 + 1 }));
      log.record(other());
      await log.flush();
      expect(log.stats()).toMatchObject({
        flushed: 0,
        flushErrors: 1,
        dropped: 0,
        retrying: { checks: 3, deltas: 2 },
      });
      // The counters went in; the index does not list the targets yet.
      expect((await log.list(101))[0]).toMatchObject({ allowed: 2 });
      expect(await redis.exists('sg:{idx}:authlog', 'sg:{audit}:authz')).toBe(0);

      await redis.call('ACL', 'SETUSER', 'authlog', '~sg:{idx}:*', '~sg:{audit}:*');
      log.record(check({ at: T0 + 2 }));
      await log.flush();
      const entries = await stream();
      // The kept entries first (they are older), then the new flush's.
      expect(entries.map((e) => [e['targetProjectId'], e['count']])).toEqual([
        [101, 2],
        [201, 1],
        [101, 1],
      ]);
      // The kept pairs came back with zero counts: merged once, listed now.
      expect((await log.list(101))[0]).toMatchObject({ allowed: 3, lastUsedAt: T0 + 2 });
      expect((await log.list(201))[0]).toMatchObject({ allowed: 1 });
      expect((await log.targets()).sort()).toEqual([101, 201]);
      expect(log.stats()).toMatchObject({
        flushed: 4,
        flushErrors: 1,
        dropped: 0,
        retrying: { checks: 0, deltas: 0 },
      });
      await log.close();
    } finally {
      limited.disconnect();
      await redis.call('ACL', 'DELUSER', 'authlog');
    }
  });

  it('drops and counts what Redis refuses for good, writes nothing of it, and does not retry it', async () => {
    await redis.flushall();
    const log = createAuthLog({
      backend: createRedisAuthLogBackend({ redis }),
      flushIntervalMs: 0,
    });
    // Target 201's record is a string, and 301's has a counter that is not a number: their
    // merges are refused before any write. The stream key is a string: every XADD is refused.
    await redis.set('sg:{p:201}:authlog:102', 'x');
    await redis.hset('sg:{p:301}:authlog:102', 'allowed', '5', 'denied', 'abc');
    // Counters HINCRBY would refuse after the script's first write: a leading zero, and a
    // value at the 64-bit limit that one more check would overflow.
    await redis.hset('sg:{p:401}:authlog:102', 'allowed', '007');
    await redis.hset('sg:{p:501}:authlog:102', 'allowed', '5', 'denied', '9223372036854775807');
    await redis.set('sg:{audit}:authz', 'not a stream');
    log.record(check());
    log.record(other());
    log.record(other({ at: T0 + 1 }));
    for (const id of [301, 401, 501])
      log.record(check({ targetProjectId: id, targetPath: `acme/t${id}` }));
    await log.flush();
    // Counters refused: 201's 2 checks, 301's, 401's and 501's 1 each; stream entries refused:
    // all 6 checks.
    expect(log.stats()).toMatchObject({
      flushed: 0,
      flushErrors: 1,
      dropped: 5 + 6,
      retrying: { checks: 0, deltas: 0 },
    });
    expect((await log.list(101))[0]).toMatchObject({ allowed: 1 });
    // Nothing of the refused merges was written: no source set entry, no counter moved.
    for (const id of [301, 401, 501])
      expect(await redis.smembers(`sg:{p:${id}}:authlog`)).toEqual([]);
    expect(await redis.hget('sg:{p:301}:authlog:102', 'allowed')).toBe('5');
    expect(await redis.hget('sg:{p:401}:authlog:102', 'allowed')).toBe('007');
    expect(await redis.hget('sg:{p:501}:authlog:102', 'allowed')).toBe('5');
    expect(await redis.get('sg:{p:201}:authlog:102')).toBe('x');
    // The next flush has nothing of the first to send.
    await log.flush();
    expect(log.stats()).toMatchObject({ flushErrors: 1, dropped: 11 });
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

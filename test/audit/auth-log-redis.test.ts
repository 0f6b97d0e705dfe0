/**
 * The authorization log on a real Redis: the checks of one flush that differ only in time are
 * one stream entry with their count, first and last time, while the per-(target, source)
 * counters still count every check.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthLog, type UsageEvent } from '../../src/audit/auth-log.js';
import { createRedisAuthLogBackend } from '../../src/audit/auth-log-redis.js';
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

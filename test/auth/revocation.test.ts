import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { JobTokenPrincipal, UserPrincipal } from '../../src/auth/principal.js';
import { createMemoryRevocationList, type RevocationList } from '../../src/auth/revocation.js';
import {
  createRedisRevocationList,
  parseRevocationMessage,
  revocationKeys,
} from '../../src/auth/revocation-redis.js';
import { handleJobEvent } from '../../src/auth/job-events-webhook.js';
import { createRedisConnection } from '../../src/store/redis-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

function jobPrincipal(jti: string, jobId: number): JobTokenPrincipal {
  return {
    kind: 'job',
    issuer: 'https://ci.test',
    jti,
    expiresAt: 0,
    projectId: 1,
    projectPath: 'acme/app',
    namespaceId: 2,
    namespacePath: 'acme',
    userId: 3,
    userLogin: 'alice',
    jobId,
    pipelineId: 4,
    ref: 'main',
    refType: 'branch',
    refProtected: true,
  };
}

const user: UserPrincipal = {
  kind: 'user',
  issuer: 'https://idp.test',
  userId: 3,
  isAdmin: false,
  expiresAt: 0,
  jti: 'user-jti',
};

/** A clock tests move by hand, in ms. */
function manualClock(start = Date.now()): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Polls `check` until it holds or `deadlineMs` passes. */
async function eventually(check: () => boolean, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('memory revocation list', () => {
  it('revokes a token by jti until its expiry, then forgets it', async () => {
    const clock = manualClock();
    const list = createMemoryRevocationList({ now: clock.now });
    const expSeconds = clock.now() / 1000 + 60;
    await list.revokeJti('abc', expSeconds);
    expect(list.isRevoked(jobPrincipal('abc', 1))).toBe(true);
    expect(list.isRevoked(jobPrincipal('other', 1))).toBe(false);
    clock.advance(61_000);
    expect(list.isRevoked(jobPrincipal('abc', 1))).toBe(false);
  });

  it('revokes every token of a job by job id', async () => {
    const clock = manualClock();
    const list = createMemoryRevocationList({ now: clock.now });
    await list.revokeJob(42, clock.now() / 1000 + 60);
    expect(list.isRevoked(jobPrincipal('t1', 42))).toBe(true);
    expect(list.isRevoked(jobPrincipal('t2', 42))).toBe(true);
    expect(list.isRevoked(jobPrincipal('t3', 43))).toBe(false);
  });

  it('revokes a user token by jti, and never by a job id', async () => {
    const list = createMemoryRevocationList();
    await list.revokeJob(3, Date.now() / 1000 + 60);
    expect(list.isRevoked(user)).toBe(false);
    await list.revokeJti('user-jti', Date.now() / 1000 + 60);
    expect(list.isRevoked(user)).toBe(true);
  });

  it('keeps the later expiry when the same job is revoked twice', async () => {
    const clock = manualClock();
    const list = createMemoryRevocationList({ now: clock.now });
    await list.revokeJob(7, clock.now() / 1000 + 600);
    await list.revokeJob(7, clock.now() / 1000 + 10);
    clock.advance(60_000);
    expect(list.isRevoked(jobPrincipal('t', 7))).toBe(true);
  });

  it('rejects a bad jti or job id as a programmer error', async () => {
    const list = createMemoryRevocationList();
    await expect(list.revokeJti('', 1)).rejects.toThrow(TypeError);
    await expect(list.revokeJob(-1, 1)).rejects.toThrow(TypeError);
    await expect(list.revokeJob(1, Number.NaN)).rejects.toThrow(TypeError);
  });
});

describe('revocation messages', () => {
  it('parses jti and job messages, including a jti that contains colons', () => {
    expect(parseRevocationMessage('jti:a:b:c:1700000000000')).toEqual({
      kind: 'jti',
      id: 'a:b:c',
      untilMs: 1_700_000_000_000,
    });
    expect(parseRevocationMessage('job:42:5')).toEqual({ kind: 'job', id: 42, untilMs: 5 });
    expect(parseRevocationMessage('job:x:5')).toBeUndefined();
    expect(parseRevocationMessage('nope')).toBeUndefined();
    expect(parseRevocationMessage('jti:abc:soon')).toBeUndefined();
  });
});

describe('Redis revocation list', () => {
  let redisServer: TestRedis;
  const clients: Redis[] = [];
  const lists: RevocationList[] = [];
  let prefixCounter = 0;

  beforeAll(async () => {
    redisServer = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(lists.splice(0).map((l) => l.close()));
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    await redisServer.stop();
  });

  function client(): Redis {
    const c = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  }
  /** A subscriber as the gateway opens it (`bootstrap-fleet.ts`). */
  function subscriber(): Redis {
    const c = createRedisConnection({
      url: redisServer.url,
      subscriber: true,
      maxReconnectDelayMs: 100,
    }) as Redis;
    clients.push(c);
    return c;
  }

  /** A list on its own key prefix, so tests never see each other's revocations. */
  function list(prefix: string, now?: () => number): RevocationList {
    const l = createRedisRevocationList({
      redis: client(),
      createSubscriber: subscriber,
      keyPrefix: prefix,
      ...(now ? { now } : {}),
    });
    lists.push(l);
    return l;
  }
  const freshPrefix = (): string => `t${++prefixCounter}`;

  it('propagates a jti revocation to another instance through pub/sub', async () => {
    const prefix = freshPrefix();
    const a = list(prefix);
    const b = list(prefix);
    await Promise.all([a.start(), b.start()]);
    await a.revokeJti('jti-1', Date.now() / 1000 + 60);
    expect(a.isRevoked(jobPrincipal('jti-1', 1))).toBe(true);
    await eventually(() => b.isRevoked(jobPrincipal('jti-1', 1)));
  });

  it('propagates a job revocation to another instance through pub/sub', async () => {
    const prefix = freshPrefix();
    const a = list(prefix);
    const b = list(prefix);
    await Promise.all([a.start(), b.start()]);
    await a.revokeJob(99, Date.now() / 1000 + 60);
    await eventually(() => b.isRevoked(jobPrincipal('any', 99)));
    expect(b.isRevoked(jobPrincipal('any', 98))).toBe(false);
  });

  it('stores revocations in one hash-tagged sorted set per kind, scored by expiry in ms', async () => {
    const prefix = freshPrefix();
    const a = list(prefix);
    await a.start();
    const exp = Math.floor(Date.now() / 1000) + 60;
    await a.revokeJti('jti-x', exp);
    await a.revokeJob(5, exp);
    const keys = revocationKeys(prefix);
    expect(keys.jti).toBe(`${prefix}:{rev}:jti`);
    const r = client();
    expect(await r.zscore(keys.jti, 'jti-x')).toBe(String(exp * 1000));
    expect(await r.zscore(keys.job, '5')).toBe(String(exp * 1000));
  });

  it('loads existing revocations when a fresh instance starts', async () => {
    const prefix = freshPrefix();
    const a = list(prefix);
    await a.start();
    await a.revokeJti('before-start', Date.now() / 1000 + 60);
    await a.revokeJob(1234, Date.now() / 1000 + 60);
    const late = list(prefix);
    expect(late.isRevoked(jobPrincipal('before-start', 1))).toBe(false);
    await late.start();
    expect(late.isRevoked(jobPrincipal('before-start', 1))).toBe(true);
    expect(late.isRevoked(jobPrincipal('x', 1234))).toBe(true);
  });

  it('does not load expired revocations, and trims them from Redis on write', async () => {
    const prefix = freshPrefix();
    const clock = manualClock();
    const a = list(prefix, clock.now);
    await a.start();
    await a.revokeJti('short', clock.now() / 1000 + 1);
    clock.advance(2_000);
    expect(a.isRevoked(jobPrincipal('short', 1))).toBe(false);
    const late = list(prefix, clock.now);
    await late.start();
    expect(late.isRevoked(jobPrincipal('short', 1))).toBe(false);
    await a.revokeJti('long', clock.now() / 1000 + 60);
    expect(await client().zscore(revocationKeys(prefix).jti, 'short')).toBeNull();
  });

  it('recovers a revocation it missed while its subscriber was disconnected', async () => {
    const prefix = freshPrefix();
    const b = list(prefix);
    await b.start();
    const admin = client();
    const untilMs = Date.now() + 60_000;
    // Written without a message, as if the PUBLISH had been lost while b was away.
    await admin.zadd(revocationKeys(prefix).jti, untilMs, 'missed');
    expect(b.isRevoked(jobPrincipal('missed', 1))).toBe(false);
    await admin.client('KILL', 'TYPE', 'pubsub');
    await eventually(() => b.isRevoked(jobPrincipal('missed', 1)));
    // ...and pub/sub works again after the reconnect.
    const a = list(prefix);
    await a.start();
    await a.revokeJob(77, Date.now() / 1000 + 60);
    await eventually(() => b.isRevoked(jobPrincipal('y', 77)));
  });

  it('answers isRevoked from the local set while Redis is unreachable', async () => {
    const prefix = freshPrefix();
    const a = list(prefix);
    await a.start();
    await a.revokeJti('kept', Date.now() / 1000 + 60);
    clients.forEach((c) => c.disconnect());
    expect(a.isRevoked(jobPrincipal('kept', 1))).toBe(true);
    expect(a.isRevoked(jobPrincipal('other', 1))).toBe(false);
  });
});

describe('Redis revocation list while Redis cannot be written', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  const lists: RevocationList[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(lists.map((l) => l.close()));
    for (const c of clients) c.disconnect();
    await server.stop();
  });
  /** As the gateway's command connection: no offline queue, a command fails at once while down. */
  const client = (offlineQueue = false, reconnectMs = 50): Redis => {
    const c = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: offlineQueue,
      retryStrategy: () => reconnectMs,
    });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const instance = async (resyncIntervalMs = 200, reconnectMs = 50): Promise<RevocationList> => {
    const redis = client(false, reconnectMs);
    await eventually(() => redis.status === 'ready');
    const l = createRedisRevocationList({
      redis,
      createSubscriber: () => client(true),
      resyncIntervalMs,
    });
    lists.push(l);
    await l.start();
    return l;
  };

  it('applies here at once, says the fleet does not know, and writes it when Redis is back', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    await server.kill();
    const exp = Math.floor(Date.now() / 1000) + 600;
    await expect(a.revokeJti('while-down', exp)).rejects.toMatchObject({
      extensions: { code: 'POLICY_UNAVAILABLE' },
      message: expect.stringContaining('the other instances do not know yet'),
    });
    await expect(a.revokeJob(4242, exp)).rejects.toMatchObject({
      extensions: { code: 'POLICY_UNAVAILABLE' },
    });
    expect(a.isRevoked(jobPrincipal('while-down', 1))).toBe(true);
    expect(a.isRevoked(jobPrincipal('x', 4242))).toBe(true);
    expect(b.isRevoked(jobPrincipal('while-down', 1))).toBe(false);

    await server.restart();
    // Written again by `a` once Redis is back (the restarted server lost everything), then
    // seen by `b` through pub/sub or its own reload.
    await eventually(() => b.isRevoked(jobPrincipal('while-down', 1)), 10_000);
    await eventually(() => b.isRevoked(jobPrincipal('x', 4242)), 10_000);
    const r = client();
    await eventually(() => r.status === 'ready', 10_000);
    expect(await r.zscore(revocationKeys().jti, 'while-down')).toBe(String(exp * 1000));
    expect(await r.zscore(revocationKeys().job, '4242')).toBe(String(exp * 1000));
  });

  it('writes a revocation made while Redis was down as soon as Redis is back, not at the next reload', async () => {
    // Reloads a minute apart: only the reconnect can write it in time. The command connection
    // of `a` reconnects after its subscriber (as it may in production), so the subscriber's
    // reconnect finds it not ready yet.
    const [a, b] = [await instance(60_000, 1_500), await instance(60_000)];
    await server.kill();
    const exp = Math.floor(Date.now() / 1000) + 600;
    await expect(a.revokeJti('at-reconnect', exp)).rejects.toMatchObject({
      extensions: { code: 'POLICY_UNAVAILABLE' },
    });
    await server.restart();
    await eventually(() => b.isRevoked(jobPrincipal('at-reconnect', 1)), 10_000);
    const r = client();
    await eventually(() => r.status === 'ready', 10_000);
    expect(await r.zscore(revocationKeys().jti, 'at-reconnect')).toBe(String(exp * 1000));
  });

  it('puts back what Redis lost: a revocation one instance still knows reaches instances started after', async () => {
    const a = await instance();
    const exp = Math.floor(Date.now() / 1000) + 600;
    await a.revokeJti('kept-by-a', exp);
    await a.revokeJob(5151, exp);
    // Redis restarts without its data (persistence off): only `a` still knows.
    await server.kill();
    await server.restart();
    const r = client();
    await eventually(() => r.status === 'ready', 10_000);
    // Written back by `a` at its reconnect (or its next reload at the latest).
    const until = Date.now() + 10_000;
    while ((await r.zscore(revocationKeys().job, '5151')) === null && Date.now() < until)
      await new Promise((res) => setTimeout(res, 20));
    expect(await r.zscore(revocationKeys().jti, 'kept-by-a')).toBe(String(exp * 1000));
    expect(await r.zscore(revocationKeys().job, '5151')).toBe(String(exp * 1000));
    // An instance started now (an empty local set) loads them from Redis.
    const late = await instance();
    expect(late.isRevoked(jobPrincipal('kept-by-a', 1))).toBe(true);
    expect(late.isRevoked(jobPrincipal('x', 5151))).toBe(true);
  });

  it('makes the job-events webhook answer 503 with that message, revoking here at once', async () => {
    const a = await instance();
    await server.kill();
    const secret = 'webhook-secret-0123456789abcdef';
    const result = await handleJobEvent(
      {
        secretHeader: secret,
        readBody: () =>
          Promise.resolve(
            JSON.stringify({ object_kind: 'build', build_id: 777, build_status: 'success' }),
          ),
      },
      { secret, revocations: a, maxLifetimeSeconds: 3_600 },
    );
    expect(result.status).toBe(503);
    expect(result.body).toMatchObject({
      ok: false,
      error: expect.stringContaining('the other instances do not know yet'),
    });
    expect(a.isRevoked(jobPrincipal('any', 777))).toBe(true);
    await server.restart();
    const r = client();
    await eventually(() => r.status === 'ready', 10_000);
    let stored: string | null = null;
    for (let i = 0; i < 100 && stored === null; i++) {
      stored = await r.zscore(revocationKeys().job, '777');
      if (stored === null) await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(stored).not.toBeNull();
  });
});

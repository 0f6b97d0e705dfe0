/**
 * Rate limits against a real Redis: per token, per source project, the window's `Retry-After`,
 * one key hash tag per request (Cluster), and failing open when Redis is away.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '../../src/auth/principal.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import {
  createRateLimiter,
  rateLimitKeys,
  rateLimiterFromConfig,
  type RateLimiterOptions,
} from '../../src/server/rate-limit.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const WEB = 'acme/apps/web';
const QUERY = `{ project(fullPath: "${WEB}") { name } }`;

let redis: TestRedis;
let client: Redis;
let upstream: DemoUpstream;
const gateways: TestGateway[] = [];
const errors: unknown[] = [];

async function gatewayWith(
  limits: Omit<RateLimiterOptions, 'redis' | 'onError'>,
): Promise<TestGateway> {
  const rateLimiter = createRateLimiter({
    redis: client,
    onError: (err) => errors.push(err),
    ...limits,
  });
  const t = await createTestGateway({ upstream, gateway: { rateLimiter } });
  gateways.push(t);
  return t;
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
  });
  client.on('error', () => undefined);
  upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterAll(async () => {
  for (const t of gateways) await t.close();
  await upstream.close();
  client.disconnect();
  await redis.stop();
});
beforeEach(async () => {
  errors.length = 0;
  if (client.status === 'ready') await client.flushall();
});

describe('rate limits', () => {
  it('answers RATE_LIMITED with Retry-After once a token passes its limit, without calling the upstream', async () => {
    const t = await gatewayWith({ perToken: 3, perSourceProject: 0, windowSeconds: 30 });
    const token = await t.jobToken(WEB, 'alice');
    for (let i = 0; i < 3; i++) expect((await t.gql(QUERY, {}, { token })).status).toBe(200);
    upstream.clearRequests();
    const res = await t.gql(QUERY, {}, { token });
    expect(res.status).toBe(429);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(res.body.errors?.[0]?.message).toMatch(/^rate limit exceeded; retry after \d+ s$/);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(res.body.errors?.[0]?.extensions?.['retryAfter']).toBe(retryAfter);
    expect(upstream.requests).toEqual([]);
    // Another token of the same project has its own budget.
    const other = await t.jobToken(WEB, 'alice');
    expect((await t.gql(QUERY, {}, { token: other })).status).toBe(200);
  });

  it('limits all tokens of one source project together', async () => {
    const t = await gatewayWith({ perToken: 100, perSourceProject: 4, windowSeconds: 30 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const token = await t.jobToken(WEB, 'alice');
      statuses.push((await t.gql(QUERY, {}, { token })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    // A job of another source project is not affected.
    const api = await t.jobToken('acme/apps/api', 'alice');
    expect((await t.gql(QUERY, {}, { token: api })).status).toBe(200);
  });

  it('opens a new window when the old one ends', async () => {
    const t = await gatewayWith({ perToken: 1, perSourceProject: 0, windowSeconds: 1 });
    const token = await t.jobToken(WEB, 'alice');
    expect((await t.gql(QUERY, {}, { token })).status).toBe(200);
    const limited = await t.gql(QUERY, {}, { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await t.gql(QUERY, {}, { token })).status).toBe(200);
  });

  it('limits user tokens per token and never counts anonymous callers', async () => {
    const t = await gatewayWith({ perToken: 1, perSourceProject: 1, windowSeconds: 30 });
    const user = await t.userToken('alice');
    expect((await t.gql(QUERY, {}, { token: user })).status).toBe(200);
    expect((await t.gql(QUERY, {}, { token: user })).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await t.gql(QUERY)).status).toBe(200);
    expect(await client.dbsize()).toBe(1);
  });

  it('counts with one round trip under one hash tag per request', async () => {
    const job = {
      kind: 'job',
      projectId: 102,
      jti: 'j-1',
    } as unknown as Principal;
    const keys = rateLimitKeys(job);
    expect(keys).toEqual(['sg:{rl:p:102}:t:j-1', 'sg:{rl:p:102}:project']);
    expect(rateLimitKeys(ANONYMOUS)).toEqual([]);
    const evals = async () =>
      Number((await client.info('commandstats')).match(/cmdstat_eval:calls=(\d+)/)?.[1] ?? 0);
    const before = await evals();
    const limiter = createRateLimiter({
      redis: client,
      perToken: 10,
      perSourceProject: 10,
      windowSeconds: 30,
    });
    expect(await limiter.check(job)).toEqual({ allowed: true, counted: true });
    expect((await evals()) - before).toBe(1);
    expect(await client.get('sg:{rl:p:102}:project')).toBe('1');
    expect(await client.pttl('sg:{rl:p:102}:t:j-1')).toBeGreaterThan(29_000);
  });

  it('fails open when Redis is away: requests go through uncounted, and counting resumes when it is back', async () => {
    const t = await gatewayWith({ perToken: 1, perSourceProject: 0, windowSeconds: 30 });
    const token = await t.jobToken(WEB, 'alice');
    await redis.kill();
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(QUERY, {}, { token });
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    }
    expect(errors.length).toBe(3);
    await redis.restart();
    for (let i = 0; i < 100 && client.status !== 'ready'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await t.gql(QUERY, {}, { token })).status).toBe(200);
    expect((await t.gql(QUERY, {}, { token })).status).toBe(429);
  });

  it('refuses a negative limit at start-up', () => {
    expect(() =>
      createRateLimiter({ redis: client, perToken: -1, perSourceProject: 0, windowSeconds: 60 }),
    ).toThrow('"perToken" must be an integer >= 0');
  });
});

describe('rateLimiterFromConfig', () => {
  it('gives no limiter without Redis or with both limits 0', () => {
    const on = { perToken: 1, perSourceProject: 0, windowSeconds: 60 };
    expect(rateLimiterFromConfig(on, undefined)).toBeUndefined();
    expect(rateLimiterFromConfig({ ...on, perToken: 0 }, client)).toBeUndefined();
    expect(rateLimiterFromConfig(on, client)).toBeDefined();
  });
});

/**
 * A private project the caller may not see and a project that does not exist must answer alike
 * (DESIGN.md section 4), in every byte a caller can read. The debug extension counts Redis round
 * trips, and a hidden project costs a decision read that a missing one does not: so it is off
 * unless an operator turns it on, and then it is the operator's oracle, not a caller's. Metrics
 * count upstream calls, which differ the same way: a metrics token keeps them for the scraper.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayOptionsFromConfig } from '../../src/cli/gateway-options.js';
import { loadConfig } from '../../src/config/config.js';
import type { GatewayMetrics } from '../../src/server/metrics.js';
import { serveMetrics } from '../../src/server/ops-routes.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const HIDDEN = 'globex/portal';
const MISSING = 'globex/does-not-exist';
const PROJECT = 'query($p: ID!) { project(fullPath: $p) { fullPath } }';
const DEBUG = { 'x-scopegate-debug': '1' };

describe('a hidden project and a missing one, through the debug extension', () => {
  let redis: TestRedis;
  let off: FleetGateway;
  let on: FleetGateway;
  beforeAll(async () => {
    redis = await startRedis();
    // processTtlMs 1: a repeated probe is not hidden behind a process-cache hit.
    off = await createFleetGateway(redis.url, {
      processTtlMs: 1,
      gateway: { debugExtensions: false },
    });
    on = await createFleetGateway(redis.url, { processTtlMs: 1 });
  });
  afterAll(async () => {
    await off.close();
    await on.close();
    await redis.stop();
  });

  it('is off unless configured', () => {
    const config = loadConfig({}, { demo: true });
    expect(gatewayOptionsFromConfig(config).debugExtensions).toBe(false);
    const turnedOn = loadConfig({ SCOPEGATE_DEBUG_EXTENSIONS: 'true' }, { demo: true });
    expect(gatewayOptionsFromConfig(turnedOn).debugExtensions).toBe(true);
  });

  it.each([
    ['an anonymous caller', () => Promise.resolve(undefined)],
    ['a job token of another project', () => off.jobToken('acme/apps/web', 'alice')],
  ])('answers %s byte for byte alike when it is off', async (_, mint) => {
    const token = await mint();
    const opts = token ? { token, headers: DEBUG } : { headers: DEBUG };
    for (let i = 0; i < 2; i++) {
      const hidden = await off.gql(PROJECT, { p: HIDDEN }, opts);
      const missing = await off.gql(PROJECT, { p: MISSING }, opts);
      expect(hidden.status).toBe(200);
      expect(hidden.body.data).toEqual({ project: null });
      expect(hidden.text).toBe(missing.text);
    }
  });

  it('counts round trips when an operator turned it on (the oracle the default avoids)', async () => {
    const hidden = await on.gql(PROJECT, { p: HIDDEN }, { headers: DEBUG });
    const missing = await on.gql(PROJECT, { p: MISSING }, { headers: DEBUG });
    const trips = (r: { text: string }): unknown =>
      (JSON.parse(r.text) as { extensions?: { scopegate?: { redisRoundTrips?: number } } })
        .extensions?.scopegate?.redisRoundTrips;
    expect(trips(hidden)).toBe(1);
    expect(trips(missing)).toBe(0);
  });
});

describe('a metrics token', () => {
  const TOKEN = 'metrics-token-for-tests-0123456789';
  let g: TestGateway;
  beforeAll(async () => {
    g = await createTestGateway({ gateway: { metricsToken: TOKEN } });
  });
  afterAll(async () => g.close());

  const scrape = (authorization?: string) =>
    fetch(`${g.gateway.url}/metrics`, authorization ? { headers: { authorization } } : {});

  it('keeps /metrics from anyone without it, and answers the scraper that has it', async () => {
    for (const auth of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`, TOKEN]) {
      const res = await scrape(auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(text).not.toContain('scopegate_');
    }
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('scopegate_upstream_requests_total');
  });

  it('is off unless configured: metrics for whoever reaches the port', async () => {
    const open = await createTestGateway({ upstream: g.upstream });
    try {
      expect((await fetch(`${open.gateway.url}/metrics`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('does the scrape-time work (folding usage checks) only for the scraper with the token', async () => {
    let folds = 0;
    const metrics = {
      serve: (res: ServerResponse) => void res.end('ok'),
    } as unknown as GatewayMetrics;
    const server = createServer((req, res) => {
      void serveMetrics(req, res, metrics, TOKEN, () => void (folds += 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const get = (authorization?: string) =>
        fetch(
          `http://127.0.0.1:${port}/metrics`,
          authorization ? { headers: { authorization } } : {},
        );
      expect((await get()).status).toBe(401);
      expect((await get('Bearer wrong-token-0123456789')).status).toBe(401);
      expect(folds).toBe(0);
      expect((await get(`Bearer ${TOKEN}`)).status).toBe(200);
      expect(folds).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/**
 * Upstream resilience over real HTTP against the embedded forge with injected faults: GETs are
 * retried (bounded) after connection errors and 502/503/504, writes never are, and the circuit
 * breaker fails fast while open, lets one trial through after its cool-down, and closes again.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import {
  createUpstreamClient,
  type UpstreamCallInfo,
  type UpstreamClient,
} from '../../src/upstream/client.js';
import {
  backoffMs,
  createCircuitBreaker,
  type BreakerState,
  type ResilienceOptions,
} from '../../src/upstream/resilience.js';
import { createTestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const PROJECT = '/projects/102';

let upstream: DemoUpstream;

beforeAll(async () => {
  upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterAll(async () => upstream.close());
beforeEach(() => {
  upstream.clearFaults();
  upstream.clearRequests();
});

function client(resilience: ResilienceOptions, calls: UpstreamCallInfo[] = []): UpstreamClient {
  return createUpstreamClient({
    baseUrl: upstream.url,
    token: upstream.token,
    timeoutMs: 2_000,
    resilience: { retryBaseDelayMs: 1, ...resilience },
    onCall: (c) => calls.push(c),
  });
}

async function codeOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { extensions?: { code?: unknown } }).extensions?.code;
  }
}

describe('retries', () => {
  it.each([502, 503, 504])('retries a GET after a %i and returns the answer', async (status) => {
    upstream.injectFault({ method: 'GET', path: PROJECT, kind: 'status', status, times: 2 });
    const calls: UpstreamCallInfo[] = [];
    const project = await client({ retries: 2 }, calls).get<{ id: number }>(PROJECT);
    expect(project.id).toBe(102);
    expect(upstream.requests.map((r) => r.status)).toEqual([status, status, 200]);
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });

  it('retries a GET after a reset connection', async () => {
    upstream.injectFault({ method: 'GET', path: PROJECT, kind: 'reset', times: 1 });
    expect(await codeOf(client({ retries: 1 }).get(PROJECT))).toBe('ok');
    expect(upstream.requests).toHaveLength(2);
  });

  it('gives up after the bounded number of retries with UPSTREAM_UNAVAILABLE', async () => {
    upstream.injectFault({ method: 'GET', path: PROJECT, kind: 'status', status: 503 });
    expect(await codeOf(client({ retries: 2 }).get(PROJECT))).toBe('UPSTREAM_UNAVAILABLE');
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry a 500, a 404 or a timeout', async () => {
    upstream.injectFault({ method: 'GET', path: PROJECT, kind: 'status', status: 500, times: 1 });
    expect(await codeOf(client({ retries: 2 }).get(PROJECT))).toBe('UPSTREAM_ERROR');
    expect(upstream.requests).toHaveLength(1);
    upstream.clearRequests();
    expect(await codeOf(client({ retries: 2 }).get('/projects/999999'))).toBe('NOT_FOUND');
    expect(upstream.requests).toHaveLength(1);
    upstream.clearRequests();
    upstream.injectFault({ method: 'GET', path: PROJECT, kind: 'delay', delayMs: 500, times: 1 });
    const slow = createUpstreamClient({
      baseUrl: upstream.url,
      token: upstream.token,
      timeoutMs: 100,
      resilience: { retries: 2, retryBaseDelayMs: 1 },
    });
    expect(await codeOf(slow.get(PROJECT))).toBe('UPSTREAM_UNAVAILABLE');
    expect(upstream.requests).toHaveLength(1);
  });

  it.each(['POST', 'PUT', 'DELETE'] as const)('never retries a %s', async (method) => {
    upstream.injectFault({ method, path: /./, kind: 'status', status: 503 });
    expect(
      await codeOf(
        client({ retries: 5 }).send(method, `${PROJECT}/releases`, { tag_name: 'v9', ref: 'main' }),
      ),
    ).toBe('UPSTREAM_UNAVAILABLE');
    expect(upstream.requests.filter((r) => r.method === method)).toHaveLength(1);
    upstream.clearFaults();
    upstream.clearRequests();
    upstream.injectFault({ method, path: /./, kind: 'reset' });
    await codeOf(client({ retries: 5 }).send(method, `${PROJECT}/releases/v9`, {}));
    expect(upstream.requests.filter((r) => r.method === method)).toHaveLength(1);
  });

  it('never retries a write through the gateway either', async () => {
    const t = await createTestGateway({
      upstream,
      instance: { defaultEnforcement: 'DISABLED' },
      gateway: {
        upstream: {
          baseUrl: upstream.url,
          token: upstream.token,
          resilience: { retries: 3, retryBaseDelayMs: 1 },
        },
      },
    });
    try {
      const token = await t.jobToken('acme/apps/web', 'alice');
      upstream.injectFault({ method: 'POST', path: /releases$/, kind: 'status', status: 503 });
      upstream.clearRequests();
      const res = await t.gql(
        'mutation { releaseCreate(input: { projectPath: "acme/apps/web", tagName: "v9.9.9", ref: "main" }) { release { tagName } errors } }',
        {},
        { token },
      );
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(upstream.writes()).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('backs off exponentially with jitter', () => {
    expect(backoffMs(1, 100, () => 0)).toBe(50);
    expect(backoffMs(1, 100, () => 1)).toBe(100);
    expect(backoffMs(3, 100, () => 1)).toBe(400);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures and then fails fast without calling the forge', async () => {
    const states: BreakerState[] = [];
    const c = client({
      retries: 0,
      breakerThreshold: 3,
      breakerCooldownMs: 60_000,
      onBreakerStateChange: (s) => states.push(s),
    });
    upstream.injectFault({ path: /./, kind: 'status', status: 502 });
    for (let i = 0; i < 3; i++) expect(await codeOf(c.get(PROJECT))).toBe('UPSTREAM_UNAVAILABLE');
    expect(states).toEqual(['open']);
    upstream.clearFaults();
    upstream.clearRequests();
    const started = performance.now();
    expect(await codeOf(c.get(PROJECT))).toBe('UPSTREAM_UNAVAILABLE');
    expect(await codeOf(c.send('POST', `${PROJECT}/releases`, {}))).toBe('UPSTREAM_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(50);
    expect(upstream.requests).toEqual([]);
  });

  it('lets one trial call through after the cool-down and closes when it succeeds', async () => {
    const states: BreakerState[] = [];
    const c = client({
      retries: 0,
      breakerThreshold: 2,
      breakerCooldownMs: 150,
      onBreakerStateChange: (s) => states.push(s),
    });
    upstream.injectFault({ path: /./, kind: 'reset', times: 2 });
    await codeOf(c.get(PROJECT));
    await codeOf(c.get(PROJECT));
    expect(states).toEqual(['open']);
    await new Promise((r) => setTimeout(r, 200));
    upstream.clearRequests();
    expect(await codeOf(c.get(PROJECT))).toBe('ok');
    expect(upstream.requests).toHaveLength(1);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('opens again at once when the trial call fails', () => {
    let now = 0;
    const b = createCircuitBreaker({ breakerThreshold: 2, breakerCooldownMs: 100, now: () => now });
    b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 100;
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe('half_open');
    // Only one trial at a time.
    expect(b.tryAcquire()).toBe(false);
    b.onFailure();
    expect(b.state).toBe('open');
    now = 150;
    expect(b.tryAcquire()).toBe(false);
    now = 200;
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state).toBe('closed');
  });

  it('does not count answers such as 404 or 422 as failures', () => {
    const b = createCircuitBreaker({ breakerThreshold: 2 });
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    expect(b.state).toBe('closed');
  });

  it('never opens with threshold 0', () => {
    const b = createCircuitBreaker({ breakerThreshold: 0 });
    for (let i = 0; i < 100; i++) b.onFailure();
    expect(b.state).toBe('closed');
  });
});

describe('readiness', () => {
  it('answers /readyz 503 while the upstream circuit is open, and 200 once a trial call succeeds', async () => {
    const t = await createTestGateway({
      upstream,
      gateway: {
        upstream: {
          baseUrl: upstream.url,
          token: upstream.token,
          resilience: { retries: 0, breakerThreshold: 2, breakerCooldownMs: 200 },
        },
      },
    });
    try {
      const readyz = async () => {
        const res = await fetch(`${t.gateway.url}/readyz`);
        return { status: res.status, body: (await res.json()) as unknown };
      };
      expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
      const token = await t.jobToken('acme/apps/web', 'alice');
      const query = '{ project(fullPath: "acme/apps/web") { name } }';
      upstream.injectFault({ path: /./, kind: 'status', status: 503 });
      for (let i = 0; i < 2; i++) await t.gql(query, {}, { token });
      expect(await readyz()).toEqual({ status: 503, body: { status: 'upstream unavailable' } });
      const fast = await t.gql(query, {}, { token });
      expect(fast.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      upstream.clearFaults();
      await new Promise((r) => setTimeout(r, 250));
      const trial = await t.gql(query, {}, { token });
      expect(trial.body.errors).toBeUndefined();
      expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    } finally {
      await t.close();
    }
  });
});

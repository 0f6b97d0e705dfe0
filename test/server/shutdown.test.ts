/**
 * `gateway.close()` drains: new connections are refused at once, in-flight requests complete,
 * idle keep-alive connections do not hold the close up, and the deadline cuts what is left.
 */
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const WEB = 'acme/apps/web';
const QUERY = JSON.stringify({ query: `{ project(fullPath: "${WEB}") { name } }` });

let upstream: DemoUpstream;
beforeAll(async () => {
  upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterAll(async () => upstream.close());

/** Whether a new TCP connection to `url`'s port is refused. */
function refused(url: string): Promise<boolean> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** POSTs on its own connection; resolves with the status and body, or the error. */
function post(
  t: TestGateway,
  agent?: Agent,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(
      t.gateway.graphqlUrl,
      { method: 'POST', headers: { 'content-type': 'application/json' }, agent: agent ?? false },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(QUERY);
  });
}

describe('graceful close', () => {
  it('refuses new connections at once and lets an in-flight request complete', async () => {
    const t = await createTestGateway({ upstream });
    upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB}`,
      kind: 'delay',
      delayMs: 400,
      times: 1,
    });
    const inFlight = post(t);
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const closing = t.gateway.close({ graceMs: 5_000 });
    expect(await refused(t.gateway.url)).toBe(true);
    const res = await inFlight;
    expect(res).toMatchObject({ status: 200 });
    // Anonymous: the private project is null, but only after the (slow) upstream answered.
    expect('body' in res && JSON.parse(res.body)).toEqual({ data: { project: null } });
    expect(upstream.requests.some((r) => r.path.startsWith('/api/v4/projects/acme'))).toBe(true);
    await closing;
    expect(performance.now() - started).toBeLessThan(1_500);
    await t.close();
  });

  it('does not wait for idle keep-alive connections', async () => {
    const t = await createTestGateway({ upstream });
    const agent = new Agent({ keepAlive: true });
    expect(await post(t, agent)).toMatchObject({ status: 200 });
    const started = performance.now();
    await t.gateway.close({ graceMs: 5_000 });
    expect(performance.now() - started).toBeLessThan(500);
    agent.destroy();
    await t.close();
  });

  it('cuts requests still running at the deadline', async () => {
    const t = await createTestGateway({ upstream, upstreamTimeoutMs: 30_000 });
    upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB}`,
      kind: 'delay',
      delayMs: 10_000,
      times: 1,
    });
    const inFlight = post(t);
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await t.gateway.close({ graceMs: 200 });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1_500);
    expect(await inFlight).toHaveProperty('error');
    upstream.clearFaults();
    await t.close();
  });
});

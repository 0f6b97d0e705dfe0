/**
 * A failing forge shows in the gateway's log, not only in its metrics: each failed call (method
 * and outcome, never a URL, path or credential) and each change of the circuit breaker.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/audit/logger.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { loadSeedFile } from '../../src/demo/seed.js';

const WEB = 'acme/apps/web';

describe('upstream failures in the log', () => {
  let upstream: DemoUpstream;
  let t: TestGateway;
  let logText = '';

  beforeAll(async () => {
    upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString('utf8');
        done();
      },
    });
    t = await createTestGateway({
      upstream,
      gateway: {
        logger: createLogger({ level: 'info', destination: stream }),
        upstream: {
          baseUrl: upstream.url,
          token: upstream.token,
          resilience: { retries: 0, breakerThreshold: 2, breakerCooldownMs: 300 },
        },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await upstream.close();
  });

  const lines = (event: string) =>
    logText
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['event'] === event);

  it('logs each failed call and the breaker opening, half-opening and closing', async () => {
    const token = await t.jobToken(WEB, 'alice');
    const query = `{ project(fullPath: "${WEB}") { releases { nodes { tagName } } } }`;
    const remove = upstream.injectFault({ path: /\/projects\//, kind: 'status', status: 503 });
    await t.gql(query, {}, { token });
    await t.gql(query, {}, { token });
    // Open now: the next call is refused without reaching the forge, and not logged as a call.
    await t.gql(query, {}, { token });
    remove();
    const failed = lines('upstream.call_failed');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed[0]).toMatchObject({ level: 40, method: 'GET', status: 503 });
    expect(lines('upstream.circuit').map((l) => l['state'])).toEqual(['open']);

    await new Promise((r) => setTimeout(r, 400));
    const res = await t.gql(query, {}, { token });
    expect(res.body.errors).toBeUndefined();
    expect(lines('upstream.circuit').map((l) => l['state'])).toEqual([
      'open',
      'half_open',
      'closed',
    ]);
    // Nothing that names where the call went or how it was authenticated.
    expect(logText).not.toContain(upstream.token);
    expect(logText).not.toContain('/releases');
    expect(logText).not.toContain(upstream.url);
  });
});

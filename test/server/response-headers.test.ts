/**
 * Headers every answer of the gateway carries, whichever route or failure wrote it:
 * `Cache-Control: no-store` (what it holds depends on who asked) and `X-Request-Id` (the
 * caller's when well-formed, else a fresh one). Also the order of the job-events webhook's
 * refusals: configuration, then secret, then the body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const SECRET = 'response-headers-webhook-secret';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let t: TestGateway;
let hookless: TestGateway;
beforeAll(async () => {
  t = await createTestGateway({
    webhookSecret: SECRET,
    gateway: { maxBodyBytes: 4096 },
  });
  // No webhook secret, and a readiness probe that fails: `/readyz` becomes an unexpected 500.
  hookless = await createTestGateway({
    upstream: t.upstream,
    gateway: { readiness: () => Promise.reject(new Error('probe exploded')) },
  });
});
afterAll(async () => {
  await hookless.close();
  await t.close();
});

/** One request of every kind a gateway answers, with the label a failure should show. */
function everyAnswer(headers: Record<string, string>): [string, () => Promise<Response>][] {
  const json = { ...headers, 'content-type': 'application/json' };
  const query = JSON.stringify({ query: '{ __typename }' });
  return [
    ['GET /healthz', () => fetch(`${t.gateway.url}/healthz`, { headers })],
    ['GET /readyz', () => fetch(`${t.gateway.url}/readyz`, { headers })],
    ['GET /metrics', () => fetch(`${t.gateway.url}/metrics`, { headers })],
    ['GET /nope (404)', () => fetch(`${t.gateway.url}/nope`, { headers })],
    ['PUT /graphql (405)', () => fetch(t.gateway.graphqlUrl, { method: 'PUT', headers })],
    [
      'POST /graphql (200)',
      () => fetch(t.gateway.graphqlUrl, { method: 'POST', headers: json, body: query }),
    ],
    [
      'POST /graphql bad token (401)',
      () =>
        fetch(t.gateway.graphqlUrl, {
          method: 'POST',
          headers: { ...json, authorization: 'Bearer not-a-token' },
          body: query,
        }),
    ],
    [
      'POST /graphql not JSON (400)',
      () => fetch(t.gateway.graphqlUrl, { method: 'POST', headers: json, body: '{"query": ' }),
    ],
    [
      'POST /graphql too large (413)',
      () =>
        fetch(t.gateway.graphqlUrl, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(8192)}` }),
        }),
    ],
    ['GET /readyz failing (500)', () => fetch(`${hookless.gateway.url}/readyz`, { headers })],
    [
      'POST /hooks/job-events not configured (404)',
      () =>
        fetch(`${hookless.gateway.url}/hooks/job-events`, {
          method: 'POST',
          headers: json,
          body: '{}',
        }),
    ],
    [
      'POST /hooks/job-events wrong secret (401)',
      () =>
        fetch(`${t.gateway.url}/hooks/job-events`, {
          method: 'POST',
          headers: { ...json, 'x-gitlab-token': 'wrong' },
          body: '{}',
        }),
    ],
    [
      'POST /hooks/job-events (200)',
      () =>
        fetch(`${t.gateway.url}/hooks/job-events`, {
          method: 'POST',
          headers: { ...json, 'x-gitlab-token': SECRET },
          body: JSON.stringify({ object_kind: 'push' }),
        }),
    ],
  ];
}

describe('headers of every answer', () => {
  it('tells every cache not to store any answer, whatever the route or status', async () => {
    const statuses: Record<string, number> = {};
    for (const [label, send] of everyAnswer({})) {
      const res = await send();
      await res.arrayBuffer();
      statuses[label] = res.status;
      expect(res.headers.get('cache-control'), label).toBe('no-store');
    }
    expect(Object.values(statuses)).toEqual([
      200, 200, 200, 404, 405, 200, 401, 400, 413, 500, 404, 401, 200,
    ]);
  });

  it("returns the caller's well-formed X-Request-Id on every answer", async () => {
    for (const [label, send] of everyAnswer({ 'x-request-id': 'req-headers-1' })) {
      const res = await send();
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id'), label).toBe('req-headers-1');
    }
  });

  it('returns a fresh X-Request-Id on every answer when the caller sent none or a malformed one', async () => {
    const sent: Record<string, string>[] = [{}, { 'x-request-id': 'bad id with spaces' }];
    for (const headers of sent) {
      for (const [label, send] of everyAnswer(headers)) {
        const res = await send();
        await res.arrayBuffer();
        expect(res.headers.get('x-request-id'), label).toMatch(UUID);
      }
    }
  });
});

describe('POST /hooks/job-events refusals come before the body is read', () => {
  const hook = (g: TestGateway, body: string, secret?: string) =>
    fetch(`${g.gateway.url}/hooks/job-events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(secret === undefined ? {} : { 'x-gitlab-token': secret }),
      },
      body,
    });

  it('answers 404 to a body that is not JSON when the hook is not configured', async () => {
    const res = await hook(hookless, 'not json', SECRET);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ ok: false, error: 'not found' });
  });

  it('answers 401 to a body that is not JSON when the secret is wrong or missing', async () => {
    for (const secret of ['wrong-secret', undefined]) {
      const res = await hook(t, 'not json', secret);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ ok: false, error: 'invalid or missing webhook secret' });
    }
  });

  it('answers 400 to a body that is not JSON only once the secret matched', async () => {
    const res = await hook(t, 'not json', SECRET);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ ok: false, error: 'the body is not valid JSON' });
  });
});

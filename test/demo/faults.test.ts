import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HUGE_BODY_BYTES } from '../../src/demo/faults.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { asObject, call, enc, SCENARIOS_PATH } from './fixtures.js';

let up: DemoUpstream;
const web = `/projects/${enc('acme/apps/web')}`;

beforeAll(async () => {
  up = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterAll(async () => {
  await up.close();
});
beforeEach(() => {
  up.clearFaults();
  up.clearRequests();
});

describe('injected faults', () => {
  it('answers the given status and body, matching the decoded path', async () => {
    up.injectFault({
      path: '/projects/acme/apps/web/releases',
      kind: 'status',
      status: 503,
      body: { message: 'down' },
    });
    const res = await call(up, `${web}/releases`);
    expect([res.status, res.json]).toEqual([503, { message: 'down' }]);
    expect(up.requests[0]?.status).toBe(503);
    expect((await call(up, `${web}/repository/tags`)).status).toBe(200);
  });

  it('matches a RegExp and a method, and applies only `times` times', async () => {
    up.injectFault({ method: 'POST', path: /\/notes$/, kind: 'status', status: 500, times: 1 });
    expect((await call(up, `${web}/merge_requests/1/notes`)).status).toBe(200);
    const failed = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'x' },
    });
    expect([failed.status, failed.json]).toEqual([500, { message: '500 Internal Server Error' }]);
    const next = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'x' },
    });
    expect(next.status).toBe(201);
  });

  it('stops applying a fault once its remover is called', async () => {
    const remove = up.injectFault({ path: /./, kind: 'status', status: 502 });
    expect((await call(up, '/projects/102')).status).toBe(502);
    remove();
    expect((await call(up, '/projects/102')).status).toBe(200);
  });

  it('delays the answer and then answers normally', async () => {
    up.injectFault({ path: '/projects/102', kind: 'delay', delayMs: 300 });
    const started = Date.now();
    const res = await call(up, '/projects/102');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(asObject(res).id).toBe(102);
  });

  it('makes a late answer on receipt and sends it later: a body, a 204, and a refusal', async () => {
    // The answer is the forge's state when the request arrived, whatever changes meanwhile.
    up.injectFault({
      method: 'GET',
      path: /\/repository\/tags\/late-1$/,
      kind: 'late',
      delayMs: 300,
    });
    up.injectFault({
      method: 'DELETE',
      path: /\/repository\/tags\/late-1$/,
      kind: 'late',
      delayMs: 300,
    });
    const created = await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: { tag_name: 'late-1', ref: 'main' },
    });
    expect(created.status).toBe(201);
    const started = Date.now();
    const read = call(up, `${web}/repository/tags/late-1`);
    await expect.poll(() => up.requests.filter((r) => r.method === 'GET').length).toBe(1);
    expect(up.requests.find((r) => r.method === 'GET')?.status).toBe(0);
    const del = await call(up, `${web}/repository/tags/late-1`, { method: 'DELETE' });
    expect([del.status, del.text]).toEqual([204, '']);
    expect(asObject(await read).name).toBe('late-1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    // A refusal (the tag is gone now) is held too.
    const goneAt = Date.now();
    const gone = await call(up, `${web}/repository/tags/late-1`);
    expect([gone.status, gone.json]).toEqual([404, { message: '404 Tag Not Found' }]);
    expect(Date.now() - goneAt).toBeGreaterThanOrEqual(280);
    expect(up.requests.map((r) => r.status)).toEqual([201, 200, 204, 404]);
  });

  it('resets the connection', async () => {
    up.injectFault({ path: '/projects/102', kind: 'reset' });
    await expect(call(up, '/projects/102')).rejects.toThrow();
    expect(up.requests[0]).toMatchObject({ path: '/api/v4/projects/102', status: 0 });
  });

  it('answers 200 with a body that is not JSON although labelled JSON', async () => {
    up.injectFault({ path: '/projects/102', kind: 'garbage' });
    const res = await fetch(`${up.url}/projects/102`, { headers: { 'PRIVATE-TOKEN': up.token } });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/json']);
    await expect(res.json()).rejects.toThrow();
  });

  it('streams a 20 MB JSON array', async () => {
    up.injectFault({ path: `/projects/102/releases`, kind: 'huge' });
    const res = await fetch(`${up.url}/projects/102/releases`, {
      headers: { 'PRIVATE-TOKEN': up.token },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const text = await res.text();
    expect(text.length).toBeGreaterThanOrEqual(HUGE_BODY_BYTES);
    expect(Array.isArray(JSON.parse(text))).toBe(true);
  });

  it('lets a client abort a huge answer without breaking the server', async () => {
    up.injectFault({ path: '/projects/102/releases', kind: 'huge', times: 1 });
    const controller = new AbortController();
    const res = await fetch(`${up.url}/projects/102/releases`, {
      headers: { 'PRIVATE-TOKEN': up.token },
      signal: controller.signal,
    });
    controller.abort();
    await expect(res.text()).rejects.toThrow();
    expect((await call(up, '/projects/102/releases')).status).toBe(200);
  });

  it('removes every fault with clearFaults', async () => {
    up.injectFault({ path: /./, kind: 'status', status: 500 });
    up.clearFaults();
    expect((await call(up, '/projects/102')).status).toBe(200);
  });
});

describe('close', () => {
  it('ends pending delayed requests and stops listening', async () => {
    const own = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    own.injectFault({ path: /./, kind: 'delay', delayMs: 60_000 });
    const pending = call(own, '/projects/102').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await pending).toBeInstanceOf(Error);
    await expect(fetch(`${own.url}/projects/102`)).rejects.toThrow();
  });
});

/**
 * The load worker's pre-roll: an untimed run just before the timed one, with its own tokens,
 * of which nothing is counted. Against a real `node:http` server that records what it was sent.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad, type LoadJob } from '../../bench/load-worker.js';

interface Seen {
  readonly token: string;
  readonly body: string;
}

const seen: Seen[] = [];
let url = '';
const server = createServer((req: IncomingMessage, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    seen.push({ token: req.headers.authorization ?? '', body });
    res.setHeader('content-type', 'application/json');
    res.end('{"data":{}}');
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const job = (over: Partial<LoadJob> = {}): LoadJob => ({
  url,
  body: '{"query":"q","variables":{"tag":"__UNIQUE__"}}',
  tokens: ['timed-1', 'timed-2'],
  headers: {},
  connections: 2,
  durationSeconds: 1,
  amount: 10,
  uniquePrefix: 'r1',
  ...over,
});

describe('runLoad', () => {
  it('runs the pre-roll first, with its own tokens, and counts only the timed run', async () => {
    seen.length = 0;
    const r = await runLoad(job({ preroll: { seconds: 0.3, tokens: ['pre-1'] } }));
    expect(r.ok).toBe(10);
    expect(r.requests).toBe(10);
    // Every timed request's latency, and none of the pre-roll's.
    expect(r.latenciesMs).toHaveLength(10);
    expect(r.latenciesMs?.every((ms) => ms > 0 && ms < 30_000)).toBe(true);
    const pre = seen.filter((s) => s.token === 'Bearer pre-1');
    const timed = seen.filter((s) => s.token.startsWith('Bearer timed-'));
    expect(pre.length).toBeGreaterThan(0);
    expect(timed).toHaveLength(10);
    expect(pre.length + timed.length).toBe(seen.length);
    // Every pre-roll request came before every timed one.
    expect(seen.slice(0, pre.length).every((s) => s.token === 'Bearer pre-1')).toBe(true);
    // Unique values do not collide between the two runs (W3 creates a tag per request).
    expect(pre.every((s) => s.body.includes('"r1-pre-'))).toBe(true);
    expect(timed.every((s) => /"r1-\d+"/.test(s.body))).toBe(true);
    // Two tokens for ten timed requests: eight reuses, the pre-roll's not counted.
    expect(r.tokenReuses).toBe(8);
  });

  it('sends nothing before the timed run without a pre-roll, or with one of 0 s', async () => {
    for (const preroll of [undefined, { seconds: 0, tokens: ['pre-1'] }]) {
      seen.length = 0;
      const r = await runLoad(job(preroll ? { preroll } : {}));
      expect(r.ok).toBe(10);
      expect(seen).toHaveLength(10);
      expect(seen.every((s) => s.token.startsWith('Bearer timed-'))).toBe(true);
    }
  });
});

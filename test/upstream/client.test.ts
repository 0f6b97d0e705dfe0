/**
 * The REST client against a tiny node:http server (real HTTP, nothing mocked): what it sends,
 * how each upstream status and failure maps to an error code, and that no error message ever
 * carries the upstream's address or credential.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/codes.js';
import {
  createUpstreamClient,
  type UpstreamCallInfo,
  type UpstreamClient,
} from '../../src/upstream/client.js';

const TOKEN = 'service-credential-value';

/** One request as the tiny server saw it. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}/api/v4`;
});
afterEach(() => {
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function makeClient(
  opts: { timeoutMs?: number; maxResponseBytes?: number; calls?: UpstreamCallInfo[] } = {},
): UpstreamClient {
  return createUpstreamClient({
    baseUrl,
    token: TOKEN,
    timeoutMs: opts.timeoutMs ?? 2_000,
    maxResponseBytes: opts.maxResponseBytes,
    onCall: opts.calls ? (c) => opts.calls?.push(c) : undefined,
  });
}

/** Answers every request with `status` and `body` (a string as is, anything else as JSON). */
function answer(status: number, body?: unknown, headers: Record<string, string> = {}): void {
  handler = (_req, res) => {
    if (body === undefined) return void res.writeHead(status, headers).end();
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text);
  };
}

/** The GatewayError `promise` rejects with; fails when it resolves or rejects with anything else. */
async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GatewayError);
  const err = caught as GatewayError;
  // Nothing about where the upstream lives or how the gateway logs in to it.
  const text = `${err.message} ${JSON.stringify(err.extensions)}`;
  for (const leak of [baseUrl, new URL(baseUrl).host, TOKEN, '/api/v4', '127.0.0.1'])
    expect(text).not.toContain(leak);
  return err;
}

describe('what the client sends', () => {
  it('sends the service credential as PRIVATE-TOKEN, the request id, and JSON bodies', async () => {
    answer(201, { id: 1 });
    const created = await makeClient().send<{ id: number }>(
      'POST',
      'projects/7/releases',
      { tag_name: 'v1' },
      { requestId: 'req-1' },
    );
    expect(created).toEqual({ id: 1 });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v4/projects/7/releases');
    expect(req?.headers['private-token']).toBe(TOKEN);
    expect(req?.headers['x-request-id']).toBe('req-1');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBeUndefined();
    expect(JSON.parse(req?.body ?? '')).toEqual({ tag_name: 'v1' });
  });

  it('encodes query parameters and leaves out undefined ones', async () => {
    answer(200, []);
    await makeClient().list('projects/7/repository/tags', {
      page: 2,
      per_page: 10,
      search: '^v1 & more',
      sort: undefined,
    });
    const url = new URL(seen[0]?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v4/projects/7/repository/tags');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      page: '2',
      per_page: '10',
      search: '^v1 & more',
    });
  });

  it('reads X-Next-Page as the next page number, and anything else as the last page', async () => {
    const client = makeClient();
    for (const [header, expected] of [
      ['3', 3],
      ['', undefined],
      ['abc', undefined],
    ] as const) {
      answer(200, [{ n: 1 }], { 'x-next-page': header });
      const page = await client.list('items', {});
      expect(page).toEqual({ items: [{ n: 1 }], nextPage: expected });
    }
  });

  it('treats a write answered with no body or a bare JSON scalar as done, with no object', async () => {
    const client = makeClient();
    answer(204);
    expect(await client.send('DELETE', 'projects/7/repository/tags/v1')).toBeUndefined();
    answer(200, 200);
    expect(
      await client.send('DELETE', 'projects/7/registry/repositories/1/tags/a'),
    ).toBeUndefined();
  });

  it('refuses at start-up a base URL that is not http or https, naming the setting', () => {
    for (const bad of ['ftp://forge/api/v4', 'not a url', 'file:///etc/passwd']) {
      expect(() => createUpstreamClient({ baseUrl: bad, token: TOKEN })).toThrow(
        '"SCOPEGATE_UPSTREAM_URL" must be an http or https URL',
      );
    }
  });

  it('reports each call to the observer with method and status only', async () => {
    const calls: UpstreamCallInfo[] = [];
    answer(500, { message: 'boom' });
    await failure(makeClient({ calls }).get('projects/7'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'GET', status: 500, attempt: 1 });
    expect(Object.keys(calls[0] ?? {}).sort()).toEqual([
      'attempt',
      'durationMs',
      'method',
      'status',
    ]);
  });
});

describe('status mapping', () => {
  it('maps 404 to NOT_FOUND naming what was looked for, and find() to undefined', async () => {
    answer(404, { message: '404 Project Not Found' });
    const client = makeClient();
    const err = await failure(client.get('projects/7', undefined, { what: 'release "v1"' }));
    expect(err.extensions['code']).toBe('NOT_FOUND');
    expect(err.message).toBe('release "v1" was not found');
    expect(await client.find('projects/7')).toBeUndefined();
  });

  it("maps 400, 409 and 422 to BAD_USER_INPUT carrying the forge's own message", async () => {
    const cases: [number, unknown, string][] = [
      [400, { message: 'Tag v1 already exists' }, 'Tag v1 already exists'],
      [400, { error: 'tag_name is missing' }, 'tag_name is missing'],
      [409, { message: 'Release already exists' }, 'Release already exists'],
      [
        422,
        { message: { name: ['has already been taken', 'is too short'], ref: 'is invalid' } },
        'name has already been taken, is too short; ref is invalid',
      ],
      [422, { message: 'line one\n\n  line two' }, 'line one line two'],
      [400, 'plain text, not JSON', 'the forge rejected the input'],
      [400, undefined, 'the forge rejected the input'],
    ];
    for (const [status, body, message] of cases) {
      answer(status, body);
      const err = await failure(makeClient().send('POST', 'projects/7/releases', {}));
      expect(err.extensions['code'], `${status} ${JSON.stringify(body)}`).toBe('BAD_USER_INPUT');
      expect(err.message).toBe(message);
    }
  });

  it("bounds the forge's message to 300 characters", async () => {
    answer(400, { message: 'x'.repeat(5_000) });
    const err = await failure(makeClient().send('POST', 'p', {}));
    expect(err.message).toHaveLength(300);
  });

  it('maps 401 and 403 to UPSTREAM_ERROR: the service credential was refused, not the caller', async () => {
    for (const status of [401, 403]) {
      answer(status, { message: `${status} Unauthorized` });
      const err = await failure(makeClient().get('projects/7'));
      expect(err.extensions['code']).toBe('UPSTREAM_ERROR');
      expect(err.message).toBe("the forge refused the gateway's service credential");
    }
  });

  it('maps 429, 502, 503 and 504 to UPSTREAM_UNAVAILABLE', async () => {
    for (const status of [429, 502, 503, 504]) {
      answer(status, { message: 'busy' });
      const err = await failure(makeClient().get('projects/7'));
      expect(err.extensions['code'], String(status)).toBe('UPSTREAM_UNAVAILABLE');
    }
  });

  it('maps 500 and unexpected statuses to UPSTREAM_ERROR without the forge message', async () => {
    for (const status of [500, 501, 418, 302]) {
      answer(status, { message: `secret detail at ${baseUrl}` });
      const err = await failure(makeClient().get('projects/7'));
      expect(err.extensions['code'], String(status)).toBe('UPSTREAM_ERROR');
      expect(err.message).toBe('the forge API returned an unexpected response');
    }
  });

  it('never follows a redirect, so the credential goes nowhere else', async () => {
    handler = (_req, res) => void res.writeHead(302, { location: `${baseUrl}/elsewhere` }).end();
    const err = await failure(makeClient().get('projects/7'));
    expect(err.extensions['code']).toBe('UPSTREAM_ERROR');
    expect(seen.map((s) => s.url)).toEqual(['/api/v4/projects/7']);
  });
});

describe('broken answers', () => {
  it('maps a 200 that is not JSON, or not the expected shape, to UPSTREAM_ERROR', async () => {
    const client = makeClient();
    answer(200, '<html>502 Bad Gateway</html>');
    expect((await failure(client.get('projects/7'))).extensions['code']).toBe('UPSTREAM_ERROR');
    answer(200, { not: 'a list' });
    expect((await failure(client.list('items', {}))).extensions['code']).toBe('UPSTREAM_ERROR');
    answer(200, 'null');
    expect((await failure(client.get('projects/7'))).extensions['code']).toBe('UPSTREAM_ERROR');
  });

  it('refuses a body over the limit, declared or streamed, with UPSTREAM_ERROR', async () => {
    const client = makeClient({ maxResponseBytes: 1024 });
    answer(200, [{ name: 'x'.repeat(2048) }]);
    const declared = await failure(client.list('items', {}));
    expect(declared.extensions['code']).toBe('UPSTREAM_ERROR');
    expect(declared.message).toBe('the forge API returned a response that is too large');
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      for (let i = 0; i < 100; i++) res.write(`{"n":${i},"pad":"${'y'.repeat(64)}"},`);
      res.end('{}]');
    };
    const streamed = await failure(client.list('items', {}));
    expect(streamed.extensions['code']).toBe('UPSTREAM_ERROR');
  });

  it('maps no answer in time to UPSTREAM_UNAVAILABLE', async () => {
    handler = (_req, res) => void setTimeout(() => res.writeHead(200).end('{}'), 1_000);
    const started = performance.now();
    const err = await failure(makeClient({ timeoutMs: 150 }).get('projects/7'));
    expect(err.extensions['code']).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toBe('the forge API did not answer in time');
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('maps a body that stalls past the timeout to UPSTREAM_UNAVAILABLE', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      setTimeout(() => res.end(']'), 1_000);
    };
    const err = await failure(makeClient({ timeoutMs: 150 }).list('items', {}));
    expect(err.extensions['code']).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('reuses connections for consecutive calls, and close() drops it and fails a call in flight', async () => {
    const sockets = new Set<unknown>();
    handler = (req, res) => {
      sockets.add(req.socket);
      if (req.url?.includes('slow')) setTimeout(() => res.writeHead(200).end('{}'), 1_000);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":7}');
    };
    const client = makeClient({ timeoutMs: 5_000 });
    for (let i = 0; i < 10; i++) await client.get('projects/7');
    // Kept alive and reused (undici's pool may open a second one while the first is released).
    expect(sockets.size).toBeLessThanOrEqual(2);
    const inFlight = failure(client.get('projects/slow'));
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await client.close();
    const err = await inFlight;
    expect(err.extensions['code']).toBe('UPSTREAM_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('maps a reset connection to UPSTREAM_UNAVAILABLE', async () => {
    handler = (req) => req.socket.destroy();
    const err = await failure(makeClient().get('projects/7'));
    expect(err.extensions['code']).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toBe('the forge API is unavailable; try again later');
  });

  it('maps a refused connection to UPSTREAM_UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = createUpstreamClient({
      baseUrl: `http://127.0.0.1:${port}/api/v4`,
      token: TOKEN,
    });
    const err = await failure(client.get('projects/7'));
    expect(err.extensions['code']).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).not.toContain(String(port));
  });
});

/**
 * Connections over the forge's page/per_page/X-Next-Page pagination: opaque offset cursors, and
 * windows of any `first` after any cursor, served by the real client from a tiny node:http list
 * endpoint that paginates the way the forge does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/codes.js';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client.js';
import {
  createCursorCodec,
  decodeCursor,
  encodeCursor,
  MAX_PAGE_SIZE,
  paginate,
  type ConnectionArgs,
} from '../../src/upstream/pagination.js';

/** Expects `fn` to throw a BAD_USER_INPUT whose message contains `text`. */
async function expectBadInput(fn: () => unknown, text: string): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GatewayError);
  const err = caught as GatewayError;
  expect(err.extensions['code']).toBe('BAD_USER_INPUT');
  expect(err.message).toContain(text);
}

describe('cursors', () => {
  it('round-trips every offset through an opaque cursor', () => {
    for (const offset of [0, 1, 9, 10, 99, 12_345, 999_999_999]) {
      const cursor = encodeCursor(offset);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      if (offset >= 10_000) expect(cursor).not.toContain(String(offset));
      expect(decodeCursor(cursor)).toBe(offset);
    }
  });

  it('seals offsets: the same key reads them back, and a cursor shows nothing of its offset', () => {
    const a = createCursorCodec('gateway secret');
    const b = createCursorCodec('gateway secret');
    expect(b.decode(a.encode(41))).toBe(41);
    expect(a.encode(41)).toBe(a.encode(41));
    const near = [a.encode(41), a.encode(42), a.encode(43)];
    expect(new Set(near.map((c) => c.slice(0, 8))).size).toBe(3);
    expect(near.every((c) => c.length === 22)).toBe(true);
  });

  it('opens cursors of a previous key but makes them with the current one only', () => {
    const old = createCursorCodec('the old secret');
    const rotated = createCursorCodec('the new secret', ['the old secret']);
    const fresh = createCursorCodec('the new secret');
    // A client paging while the key changes goes on where it was.
    expect(rotated.decode(old.encode(41))).toBe(41);
    // What the rotated codec makes is the new key's: the old key cannot read it.
    expect(rotated.encode(7)).toBe(fresh.encode(7));
    expect(() => old.decode(rotated.encode(7))).toThrow('"after" is not a valid cursor');
    // Neither key's cursor is anything else's.
    expect(() => rotated.decode(createCursorCodec('a third secret').encode(3))).toThrow(
      '"after" is not a valid cursor',
    );
  });

  it('rejects a cursor scopegate did not make with BAD_USER_INPUT', async () => {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    for (const cursor of [
      '',
      'abc',
      b64('10'),
      b64('sg1:'),
      b64('sg1:-1'),
      b64('sg1:1.5'),
      b64('sg1:1234567890'),
      b64('sg2:10'),
      b64('sg1:10 '),
      b64(`sg1:${'1'.repeat(60)}`),
      'x'.repeat(65),
      'A'.repeat(22),
      // Another key's cursor (another gateway, or a forged one).
      createCursorCodec('some other secret').encode(3),
    ]) {
      await expectBadInput(() => decodeCursor(cursor), '"after" is not a valid cursor');
    }
  });
});

describe('paginate over a forge-style list endpoint', () => {
  let server: Server;
  let client: UpstreamClient;
  let size = 0;
  const calls: { page: number; perPage: number }[] = [];

  beforeAll(async () => {
    // `GET /items?page=P&per_page=N` over `size` items named `item-<i>`, with X-Next-Page
    // empty on the last page, exactly like the forge.
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const page = Number(url.searchParams.get('page') ?? '1');
      const perPage = Number(url.searchParams.get('per_page') ?? '20');
      calls.push({ page, perPage });
      const items = Array.from({ length: size }, (_, i) => `item-${i}`).slice(
        (page - 1) * perPage,
        page * perPage,
      );
      const last = page * perPage >= size;
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-next-page': last ? '' : String(page + 1),
        'x-total': String(size),
      });
      res.end(JSON.stringify(items.map((name) => ({ name }))));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = createUpstreamClient({ baseUrl: `http://127.0.0.1:${port}/api/v4`, token: 't' });
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  const window = (args: ConnectionArgs) => {
    calls.length = 0;
    return paginate(
      args,
      (page, perPage) => client.list<{ name: string }>('items', { page, per_page: perPage }),
      (item) => item.name,
    );
  };
  const names = (from: number, to: number) =>
    Array.from({ length: Math.max(0, to - from) }, (_, i) => `item-${from + i}`);

  it('serves exactly the window after any cursor, for any first, from at most two pages', async () => {
    for (const n of [0, 1, 9, 10, 11, 30]) {
      size = n;
      for (const first of [1, 3, 7, 10, 30]) {
        for (let start = 0; start <= n + 1; start++) {
          const after = start === 0 ? undefined : encodeCursor(start - 1);
          const c = await window({ first, after });
          const where = `n=${n} first=${first} start=${start}`;
          expect(c.nodes, where).toEqual(names(start, Math.min(n, start + first)));
          expect(
            c.edges.map((e) => decodeCursor(e.cursor)),
            where,
          ).toEqual(c.nodes.map((_, i) => start + i));
          expect(c.pageInfo.hasNextPage, where).toBe(start + first < n);
          expect(c.pageInfo.hasPreviousPage, where).toBe(start > 0);
          expect(c.pageInfo.startCursor, where).toBe(c.edges[0]?.cursor ?? null);
          expect(c.pageInfo.endCursor, where).toBe(c.edges.at(-1)?.cursor ?? null);
          expect(calls.length, where).toBeLessThanOrEqual(2);
          expect(calls.every((x) => x.perPage === first)).toBe(true);
          // Keeping the same `first` (cursor on a page boundary) costs one call.
          if (start % first === 0) expect(calls.length, where).toBe(1);
        }
      }
    }
  });

  it('fills a window that spans two upstream pages from both', async () => {
    size = 30;
    const c = await window({ first: 10, after: encodeCursor(14) });
    expect(c.nodes).toEqual(names(15, 25));
    expect(calls).toEqual([
      { page: 2, perPage: 10 },
      { page: 3, perPage: 10 },
    ]);
    expect(c.pageInfo.hasNextPage).toBe(true);
  });

  it('walks a whole list page by page with endCursor, without duplicates or gaps', async () => {
    size = 23;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const c = await window({ first: 5, after });
      seen.push(...c.nodes);
      pages += 1;
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(names(0, 23));
  });

  it('leaves out what keep refuses and fills the window from the next pages', async () => {
    size = 23;
    const keepOf = (test: (n: number) => boolean) => (item: { name: string }) =>
      test(Number(item.name.slice(5)));
    const windowKept = (args: ConnectionArgs, keep: (item: { name: string }) => boolean) => {
      calls.length = 0;
      return paginate(
        args,
        (page, perPage) => client.list<{ name: string }>('items', { page, per_page: perPage }),
        (item) => item.name,
        { keep },
      );
    };
    // Every item whose number is a multiple of 3 is left out.
    const thirds = keepOf((n) => n % 3 !== 0);
    // Positions 6..8 hold two kept items; the third comes from the next page (9 is left out).
    const one = await windowKept({ first: 3, after: encodeCursor(5) }, thirds);
    expect(one.nodes).toEqual(['item-7', 'item-8', 'item-10']);
    expect(one.edges.map((e) => decodeCursor(e.cursor))).toEqual([7, 8, 10]);
    expect(decodeCursor(one.pageInfo.endCursor ?? '')).toBe(10);
    expect(one.pageInfo.hasNextPage).toBe(true);
    // A window over a left-out item is filled too, not answered empty.
    const filled = await windowKept({ first: 1, after: encodeCursor(8) }, thirds);
    expect(filled.nodes).toEqual(['item-10']);
    // Walking the whole list with endCursor sees every kept item once, and nothing else.
    for (const keep of [thirds, keepOf((n) => n === 0 || n === 22), keepOf(() => false)]) {
      for (const first of [1, 2, 4, 7]) {
        const seen: string[] = [];
        let after: string | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const c: Awaited<ReturnType<typeof windowKept>> = await windowKept(
            { first, after },
            keep,
          );
          expect(c.nodes.length).toBeLessThanOrEqual(first);
          seen.push(...c.nodes);
          if (!c.pageInfo.hasNextPage) break;
          after = c.pageInfo.endCursor;
        }
        expect(seen).toEqual(names(0, 23).filter((n) => keep({ name: n })));
      }
    }
    // At most three more pages are read to fill one window: a long run of left-out items gives
    // a short window that says there is more.
    const sparse = await windowKept(
      { first: 2 },
      keepOf((n) => n === 0 || n === 22),
    );
    expect(sparse.nodes).toEqual(['item-0']);
    expect(calls).toHaveLength(4);
    expect(sparse.pageInfo.hasNextPage).toBe(true);
    expect(decodeCursor(sparse.pageInfo.endCursor ?? '')).toBe(7);
  });

  it('uses 20 items when first is not given', async () => {
    size = 30;
    const c = await window({});
    expect(c.nodes).toEqual(names(0, 20));
    expect(calls).toEqual([{ page: 1, perPage: 20 }]);
  });

  it('answers first: 0 with an empty window and no upstream call', async () => {
    size = 30;
    const c = await window({ first: 0, after: encodeCursor(4) });
    expect(c).toEqual({
      nodes: [],
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null },
    });
    expect(calls).toEqual([]);
  });

  it('rejects first above the maximum or below 0, and a foreign cursor, before any upstream call', async () => {
    size = 30;
    await expectBadInput(() => window({ first: MAX_PAGE_SIZE + 1 }), '"first"');
    await expectBadInput(() => window({ first: -1 }), '"first"');
    await expectBadInput(() => window({ first: 5, after: 'bogus' }), 'cursor');
    expect(calls).toEqual([]);
  });
});

/**
 * Identical forge reads sharing one call (`src/upstream/shared-reads.ts`): the joining rule on
 * its own, then the REST client against the demo forge over real HTTP, then the gateway end to
 * end: concurrent requests make one forge call, and a request that arrives after a write never
 * joins a call made before it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { defaultSeedPath, loadSeedFile } from '../../src/demo/seed.js';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client.js';
import { arrivalTicket, createReadSharing, deepFreeze } from '../../src/upstream/shared-reads.js';
import type { RestRelease } from '../../src/upstream/types.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const WEB = 'acme/apps/web';
const WEB_ID = 102;

/** A call that answers when told to, counting how often it was made. */
function gate<R>(): {
  call: () => Promise<R>;
  made: number;
  answer(v: R): void;
  fail(e: Error): void;
} {
  const waiting: { resolve: (v: R) => void; reject: (e: Error) => void }[] = [];
  const g = {
    made: 0,
    call: () => {
      g.made++;
      return new Promise<R>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    answer: (v: R) => waiting.shift()?.resolve(v),
    fail: (e: Error) => waiting.shift()?.reject(e),
  };
  return g;
}

describe('createReadSharing', () => {
  it('hands out tickets in increasing order', () => {
    const a = arrivalTicket();
    const b = arrivalTicket();
    expect(b).toBeGreaterThan(a);
  });

  it('lets a read join a call made after its request arrived, and freezes the shared answer', async () => {
    const sharing = createReadSharing<{ items: { n: number }[] }>((r) => deepFreeze(r));
    const g = gate<{ items: { n: number }[] }>();
    const early = arrivalTicket();
    const later = arrivalTicket();
    let joins = 0;
    const first = sharing.run('k', later, g.call);
    const second = sharing.run('k', early, g.call, () => joins++);
    expect(g.made).toBe(1);
    expect(joins).toBe(1);
    expect(sharing.size).toBe(1);
    g.answer({ items: [{ n: 1 }] });
    const [a, b] = await Promise.all([first, second]);
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.items)).toBe(true);
    expect(Object.isFrozen(a.items[0])).toBe(true);
    expect(() => {
      (a.items[0] as { n: number }).n = 2;
    }).toThrow(TypeError);
    // Landed: the next read makes its own call.
    expect(sharing.size).toBe(0);
    const third = sharing.run('k', arrivalTicket(), g.call);
    expect(g.made).toBe(2);
    g.answer({ items: [] });
    expect(Object.isFrozen(await third)).toBe(false);
  });

  it('never lets a read join a call made before its request arrived', async () => {
    const sharing = createReadSharing<number>(() => undefined);
    const g = gate<number>();
    const old = sharing.run('k', arrivalTicket(), g.call);
    const arrivedAfter = arrivalTicket();
    const fresh = sharing.run('k', arrivedAfter, g.call);
    expect(g.made).toBe(2);
    g.answer(1);
    g.answer(2);
    expect(await old).toBe(1);
    expect(await fresh).toBe(2);
  });

  it('never joins a read without an arrival ticket, nor one asking something else', async () => {
    const sharing = createReadSharing<number>(() => undefined);
    const g = gate<number>();
    const arrived = arrivalTicket();
    const reads = [
      sharing.run('k', arrived, g.call),
      sharing.run('k', undefined, g.call),
      sharing.run('other', arrived, g.call),
    ];
    expect(g.made).toBe(3);
    for (const v of [1, 2, 3]) g.answer(v);
    expect(await Promise.all(reads)).toEqual([1, 2, 3]);
  });

  it('lets later reads join the newer of two calls, and forgets the older when it lands', async () => {
    const sharing = createReadSharing<string>(() => undefined);
    const g = gate<string>();
    const a = sharing.run('k', arrivalTicket(), g.call);
    const between = arrivalTicket();
    const b = sharing.run('k', between, g.call);
    const c = sharing.run('k', between, g.call);
    expect(g.made).toBe(2);
    g.answer('older');
    expect(await a).toBe('older');
    expect(sharing.size).toBe(1);
    g.answer('newer');
    expect(await b).toBe('newer');
    expect(await c).toBe('newer');
    expect(sharing.size).toBe(0);
  });

  it('hands a failure to every read that joined, then calls again', async () => {
    const sharing = createReadSharing<number>(() => undefined);
    const g = gate<number>();
    const arrived = arrivalTicket();
    const reads = [sharing.run('k', arrived, g.call), sharing.run('k', arrived, g.call)];
    g.fail(new Error('forge down'));
    for (const r of await Promise.allSettled(reads))
      expect(r).toMatchObject({ status: 'rejected', reason: { message: 'forge down' } });
    expect(sharing.size).toBe(0);
    const again = sharing.run('k', arrived, g.call);
    expect(g.made).toBe(2);
    g.answer(7);
    expect(await again).toBe(7);
  });
});

describe('the REST client sharing reads with the demo forge', () => {
  let upstream: DemoUpstream;
  let client: UpstreamClient;
  let shared = 0;
  const releaseLists = () =>
    upstream.requests.filter(
      (r) => r.method === 'GET' && r.path.startsWith(`/api/v4/projects/${WEB_ID}/releases?`),
    );
  const slowReleases = () =>
    upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB_ID}/releases`,
      kind: 'delay',
      delayMs: 100,
    });

  beforeAll(async () => {
    upstream = await startDemoUpstream({ seed: loadSeedFile(defaultSeedPath()) });
    client = createUpstreamClient({
      baseUrl: upstream.url,
      token: upstream.token,
      onSharedRead: () => shared++,
    });
  });
  afterEach(() => {
    upstream.clearFaults();
    upstream.clearRequests();
    shared = 0;
  });
  afterAll(async () => {
    await client.close();
    await upstream.close();
  });

  it('makes one call for concurrent identical reads, each answered with the same frozen page', async () => {
    slowReleases();
    const arrival = arrivalTicket();
    const pages = await Promise.all(
      Array.from({ length: 4 }, () =>
        client.list<RestRelease>(`projects/${WEB_ID}/releases`, { per_page: 20 }, { arrival }),
      ),
    );
    expect(releaseLists()).toHaveLength(1);
    expect(shared).toBe(3);
    expect(pages[0]?.items.length).toBeGreaterThan(0);
    for (const p of pages) expect(p.items).toBe(pages[0]?.items);
    expect(Object.isFrozen(pages[0]?.items)).toBe(true);
    expect(Object.isFrozen(pages[0]?.items[0])).toBe(true);
  });

  it('asks again for another page, another "what", or a read without an arrival ticket', async () => {
    slowReleases();
    const arrival = arrivalTicket();
    const path = `projects/${WEB_ID}/releases`;
    await Promise.all([
      client.list(path, { per_page: 20 }, { arrival }),
      client.list(path, { per_page: 20, page: 2 }, { arrival }),
      client.list(path, { per_page: 20 }),
      client.find(`projects/${WEB_ID}`, { arrival, what: 'the project' }),
      client.find(`projects/${WEB_ID}`, { arrival, what: 'project 102' }),
    ]);
    expect(releaseLists()).toHaveLength(3);
    expect(upstream.requests.filter((r) => r.path === `/api/v4/projects/${WEB_ID}`)).toHaveLength(
      2,
    );
    expect(shared).toBe(0);
  });

  it('keeps an answer only one read received unfrozen', async () => {
    const page = await client.list<RestRelease>(
      `projects/${WEB_ID}/releases`,
      { per_page: 5 },
      { arrival: arrivalTicket() },
    );
    expect(Object.isFrozen(page.items)).toBe(false);
  });

  it('makes every call itself with shareReads: false', async () => {
    const own = createUpstreamClient({
      baseUrl: upstream.url,
      token: upstream.token,
      shareReads: false,
    });
    try {
      slowReleases();
      const arrival = arrivalTicket();
      await Promise.all(
        Array.from({ length: 3 }, () =>
          own.list(`projects/${WEB_ID}/releases`, { per_page: 20 }, { arrival }),
        ),
      );
      expect(releaseLists()).toHaveLength(3);
    } finally {
      await own.close();
    }
  });
});

describe('shared reads through the gateway', () => {
  let t: TestGateway;
  let token: string;
  const LIST = `{ project(fullPath: "${WEB}") { releases(first: 100) { nodes { tagName name } } } }`;
  const releaseLists = () =>
    t.upstream.requests.filter(
      (r) => r.method === 'GET' && r.path.startsWith(`/api/v4/projects/${WEB_ID}/releases?`),
    );
  const sharedMetric = async (): Promise<number> => {
    const text = await (await fetch(`${t.gateway.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('scopegate_upstream_shared_reads_total '));
    return Number(line?.split(' ')[1]);
  };

  beforeAll(async () => {
    t = await createTestGateway({ seed: loadSeedFile(defaultSeedPath()) });
    token = await t.jobToken(WEB, 'bob');
  });
  afterEach(() => {
    t.upstream.clearFaults();
    t.upstream.clearRequests();
  });
  afterAll(async () => t.close());

  it('answers concurrent identical requests with one forge call each for what they all ask', async () => {
    // The first project look-up is slow, so every request has arrived before any of them lists.
    t.upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB}`,
      kind: 'delay',
      delayMs: 300,
      times: 1,
    });
    const before = await sharedMetric();
    const answers = await Promise.all(Array.from({ length: 5 }, () => t.gql(LIST, {}, { token })));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.errors).toBeUndefined();
      expect(a.text).toBe(answers[0]?.text);
    }
    expect(releaseLists()).toHaveLength(1);
    expect((await sharedMetric()) - before).toBeGreaterThanOrEqual(4);
  });

  it('never answers a request that arrived after a write with a forge call made before it', async () => {
    // A list call is on its way (slow); a release is created through the gateway meanwhile; a
    // list that arrives after the create must make its own call and see the new release.
    t.upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB_ID}/releases`,
      kind: 'delay',
      delayMs: 400,
      times: 1,
    });
    const older = t.gql(LIST, {}, { token });
    await expect.poll(() => releaseLists().length, { interval: 5 }).toBe(1);
    const created = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v7.7.7", ref: "main", name: "Seven" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(created.body.errors).toBeUndefined();
    const before = await sharedMetric();
    const later = await t.gql<{ project: { releases: { nodes: { tagName: string }[] } } }>(
      LIST,
      {},
      { token },
    );
    expect(later.body.data?.project.releases.nodes.map((n) => n.tagName)).toContain('v7.7.7');
    expect((await older).status).toBe(200);
    expect(releaseLists()).toHaveLength(2);
    expect((await sharedMetric()) - before).toBe(0);
  });
});

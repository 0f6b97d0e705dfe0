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

  it('lets no read join a call made before the last write settled, whenever it arrived', async () => {
    const sharing = createReadSharing<string>(() => undefined);
    const g = gate<string>();
    const arrived = arrivalTicket();
    const beforeWrite = sharing.run('k', arrivalTicket(), g.call);
    sharing.fence();
    const afterWrite = sharing.run('k', arrived, g.call);
    const alongside = sharing.run('k', arrived, g.call);
    expect(g.made).toBe(2);
    g.answer('before the write');
    g.answer('after the write');
    expect(await beforeWrite).toBe('before the write');
    expect(await afterWrite).toBe('after the write');
    expect(await alongside).toBe('after the write');
  });

  it('seals every answer with sealAll', async () => {
    const sharing = createReadSharing<{ n: number }>((r) => deepFreeze(r), { sealAll: true });
    const g = gate<{ n: number }>();
    const one = sharing.run('k', arrivalTicket(), g.call);
    g.answer({ n: 1 });
    expect(Object.isFrozen(await one)).toBe(true);
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

  it('freezes every answer outside production, shared or not', async () => {
    // So that code changing an answer in place fails every test that runs it.
    const page = await client.list<RestRelease>(
      `projects/${WEB_ID}/releases`,
      { per_page: 5 },
      { arrival: arrivalTicket() },
    );
    expect(shared).toBe(0);
    expect(Object.isFrozen(page.items)).toBe(true);
    expect(Object.isFrozen(page.items[0])).toBe(true);
  });

  it('never mistakes a path for a query, nor an empty "what" for none', async () => {
    slowReleases();
    const arrival = arrivalTicket();
    const path = `projects/${WEB_ID}/releases`;
    const got = await Promise.allSettled([
      client.list(path, { per_page: 20 }, { arrival }),
      client.find(`${path}&per_page=20`, { arrival }),
      client.find(`projects/${WEB_ID}`, { arrival }),
      client.find(`projects/${WEB_ID}`, { arrival, what: '' }),
    ]);
    expect(got.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(upstream.requests.map((r) => r.path).sort()).toEqual(
      [
        `/api/v4/projects/${WEB_ID}`,
        `/api/v4/projects/${WEB_ID}`,
        `/api/v4/projects/${WEB_ID}/releases&per_page=20`,
        `/api/v4/projects/${WEB_ID}/releases?per_page=20`,
      ].sort(),
    );
    expect(shared).toBe(0);
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
  type ListData = { project: { releases: { nodes: { tagName: string }[] } } };
  const tagsOf = (res: { body: { data?: ListData | null } }): string[] =>
    res.body.data?.project.releases.nodes.map((n) => n.tagName) ?? [];
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
    // A list call is on its way, its answer made before the release below is created and sent
    // late; a list that arrives after the create must make its own call and see it.
    t.upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB_ID}/releases`,
      kind: 'late',
      delayMs: 1_500,
      times: 1,
    });
    let olderSettled = false;
    const older = t.gql<ListData>(LIST, {}, { token }).finally(() => (olderSettled = true));
    await expect.poll(() => releaseLists().length, { interval: 5 }).toBe(1);
    // Made on the forge directly (another instance, or a script): this gateway's own writes
    // also fence the reads after them, which is not what this test is about.
    const created = await fetch(`${t.upstream.url}/projects/${WEB_ID}/releases`, {
      method: 'POST',
      headers: { 'private-token': t.upstream.token, 'content-type': 'application/json' },
      body: JSON.stringify({ tag_name: 'v7.7.7', ref: 'main', name: 'Seven' }),
    });
    expect(created.status).toBe(201);
    const before = await sharedMetric();
    expect(olderSettled).toBe(false);
    const later = await t.gql<ListData>(LIST, {}, { token });
    expect(olderSettled).toBe(false);
    expect(tagsOf(later)).toContain('v7.7.7');
    // The older call's answer was made before the create: joining it would have missed it.
    expect(tagsOf(await older)).not.toContain('v7.7.7');
    expect(releaseLists()).toHaveLength(2);
    expect((await sharedMetric()) - before).toBe(0);
  });

  it('never answers a read with a call made before an earlier write of the same request', async () => {
    // One request deletes a tag, then releases it with `ref` (the forge creates it again from
    // `ref` only when it does not exist). Another request that arrived meanwhile has the same
    // tag read on its way, answered before the delete: joining it, the release would be sent
    // without `ref` and refused ("Ref is not specified").
    const tagPath = `/projects/${WEB_ID}/repository/tags/shared-1`;
    const created = await t.gql(
      `mutation { tagCreate(input: { projectPath: "${WEB}", name: "shared-1", ref: "main" }) { tag { name } errors } }`,
      {},
      { token },
    );
    expect(created.body.errors).toBeUndefined();
    t.upstream.clearRequests();
    t.upstream.injectFault({
      method: 'DELETE',
      path: tagPath,
      kind: 'delay',
      delayMs: 500,
      times: 1,
    });
    const both = t.gql<{ b: { release: { tagName: string } | null; errors: string[] } }>(
      `mutation {
        a: tagDelete(input: { projectPath: "${WEB}", name: "shared-1" }) { tag { name } errors }
        b: releaseCreate(input: { projectPath: "${WEB}", tagName: "shared-1", ref: "main", name: "S" }) { release { tagName } errors }
      }`,
      {},
      { token },
    );
    // While the delete is on its way, another request reads the tag (late: "it exists").
    await expect
      .poll(() => t.upstream.requests.some((r) => r.method === 'DELETE'), { interval: 5 })
      .toBe(true);
    t.upstream.injectFault({
      method: 'GET',
      path: tagPath,
      kind: 'late',
      delayMs: 1_500,
      times: 1,
    });
    const other = t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "shared-1", ref: "main", name: "other" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    await expect
      .poll(
        () =>
          t.upstream.requests.filter((r) => r.method === 'GET' && r.path === `/api/v4${tagPath}`)
            .length,
        { interval: 5 },
      )
      .toBe(2);
    const res = await both;
    expect(res.body.errors, res.text).toBeUndefined();
    expect(res.body.data?.b).toEqual({ release: { tagName: 'shared-1' }, errors: [] });
    await other;
    // The tag read of `b` was its own call: the first read of `a`, the other request's, then b's.
    expect(
      t.upstream.requests.filter((r) => r.method === 'GET' && r.path === `/api/v4${tagPath}`),
    ).toHaveLength(3);
  });
});

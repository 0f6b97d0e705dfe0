/**
 * The process-wide project cache (`src/upstream/project-cache.ts`): what it remembers, for how
 * long, what it never remembers (404s, failures), and what it changes end to end: a second
 * request for the same project asks the forge nothing, and a visibility change on the forge is
 * seen once the record's TTL has passed (at once with the cache off).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { defaultSeedPath, loadSeedFile } from '../../src/demo/seed.js';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client.js';
import { createUpstreamLoaders } from '../../src/upstream/loaders.js';
import { createProjectCache, type ProjectCache } from '../../src/upstream/project-cache.js';
import type { RestProject } from '../../src/upstream/types.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

function project(id: number, path: string, visibility: RestProject['visibility'] = 'private') {
  return {
    id,
    name: path.split('/').pop() ?? path,
    path: path.split('/').pop() ?? path,
    path_with_namespace: path,
    namespace: { id: 1, full_path: path.split('/').slice(0, -1).join('/') },
    visibility,
  } satisfies RestProject;
}

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('createProjectCache', () => {
  it('is off (undefined) with size 0 or TTL 0, and refuses negative or fractional settings', () => {
    expect(createProjectCache({ size: 0, ttlMs: 5_000 })).toBeUndefined();
    expect(createProjectCache({ size: 10, ttlMs: 0 })).toBeUndefined();
    expect(() => createProjectCache({ size: -1, ttlMs: 5_000 })).toThrow(/size/);
    expect(() => createProjectCache({ size: 1.5, ttlMs: 5_000 })).toThrow(/size/);
    expect(() => createProjectCache({ size: 10, ttlMs: -5 })).toThrow(/TTL/);
  });

  it('answers by id and by full path with one frozen record, and counts hits and misses', () => {
    const c = createProjectCache({ size: 10, ttlMs: 5_000 }) as ProjectCache;
    expect(c.get(7)).toBeUndefined();
    const stored = c.remember(project(7, 'acme/web'));
    expect(c.get(7)).toBe(stored);
    expect(c.get('acme/web')).toBe(stored);
    expect(Object.isFrozen(stored)).toBe(true);
    expect(Object.isFrozen(stored.namespace)).toBe(true);
    expect(() => {
      (stored as { visibility: string }).visibility = 'public';
    }).toThrow(TypeError);
    expect(c.stats()).toEqual({ hits: 2, misses: 1, shared: 0, entries: 1 });
  });

  it('stops answering once the TTL has passed', () => {
    const t = clock();
    const c = createProjectCache({ size: 10, ttlMs: 5_000, now: t.now }) as ProjectCache;
    c.remember(project(7, 'acme/web'));
    t.advance(4_999);
    expect(c.get('acme/web')?.id).toBe(7);
    t.advance(1);
    expect(c.get('acme/web')).toBeUndefined();
    expect(c.get(7)).toBeUndefined();
    expect(c.stats().entries).toBe(0);
  });

  it('forgets an old path after a rename, and an alias after its own TTL', () => {
    const t = clock();
    const c = createProjectCache({ size: 10, ttlMs: 5_000, now: t.now }) as ProjectCache;
    c.remember(project(7, 'acme/web'), 'ACME/Web');
    expect(c.get('ACME/Web')?.id).toBe(7);
    t.advance(3_000);
    // Fetched again by id: renamed on the forge meanwhile.
    c.remember(project(7, 'acme/site'), 7);
    expect(c.get('acme/site')?.id).toBe(7);
    expect(c.get('acme/web')).toBeUndefined();
    // The alias was learnt 3 s ago; a later fetch by id does not extend it.
    t.advance(2_000);
    expect(c.get('ACME/Web')).toBeUndefined();
    expect(c.get(7)?.path_with_namespace).toBe('acme/site');
  });

  it('shares one fetch between concurrent misses of the same key, and remembers its record', async () => {
    const c = createProjectCache({ size: 10, ttlMs: 5_000 }) as ProjectCache;
    let calls = 0;
    let release: (p: RestProject) => void = () => undefined;
    const fetch = () => {
      calls++;
      return new Promise<RestProject | undefined>((r) => (release = r));
    };
    const waiting = [
      c.load('acme/web', fetch),
      c.load('acme/web', fetch),
      c.load('acme/web', fetch),
    ];
    // A different key (the id) is a different call, even for the same project.
    const byId = c.load(7, () => Promise.resolve(project(7, 'acme/web')));
    expect(calls).toBe(1);
    release(project(7, 'acme/web'));
    const got = await Promise.all(waiting);
    expect(got[0]?.id).toBe(7);
    expect(got[1]).toBe(got[0]);
    expect(got[2]).toBe(got[0]);
    expect(Object.isFrozen(got[0])).toBe(true);
    expect((await byId)?.id).toBe(7);
    expect(await c.load('acme/web', fetch)).toBe(c.get(7));
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ misses: 4, shared: 2 });
  });

  it('hands a shared failure or not-found to every joiner and remembers neither', async () => {
    const c = createProjectCache({ size: 10, ttlMs: 5_000 }) as ProjectCache;
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('forge down'));
    };
    const both = [c.load(7, failing), c.load(7, failing)];
    for (const p of both) await expect(p).rejects.toThrow('forge down');
    expect(calls).toBe(1);
    const missing = () => {
      calls++;
      return Promise.resolve(undefined);
    };
    expect(await Promise.all([c.load(7, missing), c.load(7, missing)])).toEqual([
      undefined,
      undefined,
    ]);
    expect(calls).toBe(2);
    // Nothing was remembered and nothing is left in flight: the next load asks again.
    expect(await c.load(7, () => Promise.resolve(project(7, 'acme/web')))).toMatchObject({ id: 7 });
    expect(c.stats()).toMatchObject({ hits: 0, shared: 2, entries: 1 });
  });

  it('holds at most `size` projects, dropping the least recently used', () => {
    const c = createProjectCache({ size: 2, ttlMs: 5_000 }) as ProjectCache;
    c.remember(project(1, 'g/a'));
    c.remember(project(2, 'g/b'));
    c.get(1);
    c.remember(project(3, 'g/c'));
    expect(c.stats().entries).toBe(2);
    expect(c.get(2)).toBeUndefined();
    expect(c.get('g/b')).toBeUndefined();
    expect(c.get(1)?.id).toBe(1);
    expect(c.get('g/c')?.id).toBe(3);
  });
});

describe('the project loader with a shared cache (real HTTP to the embedded upstream)', () => {
  let upstream: DemoUpstream;
  let client: UpstreamClient;
  const projectCalls = () =>
    upstream.requests.filter(
      (r) => r.method === 'GET' && /^\/api\/v4\/projects\/[^/]+$/.test(r.path),
    );

  beforeAll(async () => {
    upstream = await startDemoUpstream({ seed: loadSeedFile(defaultSeedPath()) });
    client = createUpstreamClient({ baseUrl: upstream.url, token: upstream.token });
  });
  afterEach(() => {
    upstream.clearFaults();
    upstream.clearRequests();
  });
  afterAll(async () => {
    await client.close();
    await upstream.close();
  });

  it('asks the forge once for the project of several requests, by path or by id', async () => {
    const cache = createProjectCache({ size: 10, ttlMs: 60_000 });
    const first = await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web');
    expect(first?.path_with_namespace).toBe('acme/apps/web');
    const byPath = await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web');
    const byId = await createUpstreamLoaders(client, {}, cache).project.load(first?.id ?? 0);
    expect(byPath).toBe(first);
    expect(byId).toBe(first);
    expect(projectCalls()).toHaveLength(1);
  });

  it('asks the forge once for concurrent requests that miss the same project', async () => {
    const cache = createProjectCache({ size: 10, ttlMs: 60_000 });
    const remove = upstream.injectFault({
      path: '/projects/acme/apps/web',
      kind: 'delay',
      delayMs: 50,
    });
    const got = await Promise.all(
      Array.from({ length: 5 }, () =>
        createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web'),
      ),
    );
    remove();
    expect(new Set(got).size).toBe(1);
    expect(got[0]?.path_with_namespace).toBe('acme/apps/web');
    expect(projectCalls()).toHaveLength(1);
    expect(cache?.stats()).toMatchObject({ hits: 0, misses: 5, shared: 4 });
  });

  it('hands a failed shared call to every waiting request, then asks again', async () => {
    const cache = createProjectCache({ size: 10, ttlMs: 60_000 });
    const remove = upstream.injectFault({
      path: '/projects/acme/apps/web',
      kind: 'status',
      status: 500,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () =>
        createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web'),
      ),
    );
    remove();
    for (const r of results)
      expect(r).toMatchObject({
        status: 'rejected',
        reason: { extensions: { code: 'UPSTREAM_ERROR' } },
      });
    expect(projectCalls()).toHaveLength(1);
    expect(
      (await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web'))
        ?.path_with_namespace,
    ).toBe('acme/apps/web');
    expect(projectCalls()).toHaveLength(2);
  });

  it('asks the forge on every request without a cache', async () => {
    for (let i = 0; i < 3; i++)
      await createUpstreamLoaders(client, {}).project.load('acme/apps/web');
    expect(projectCalls()).toHaveLength(3);
  });

  it('never remembers a 404: a project created meanwhile is found by the next request', async () => {
    const cache = createProjectCache({ size: 10, ttlMs: 60_000 });
    expect(
      await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/nope'),
    ).toBeNull();
    expect(
      await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/nope'),
    ).toBeNull();
    expect(projectCalls()).toHaveLength(2);
  });

  it('never remembers a failure: the next request asks again and then remembers the answer', async () => {
    const cache = createProjectCache({ size: 10, ttlMs: 60_000 });
    const remove = upstream.injectFault({
      path: '/projects/acme/apps/web',
      kind: 'status',
      status: 500,
    });
    await expect(
      createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web'),
    ).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_ERROR' } });
    remove();
    expect((await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web'))?.id).toBe(
      upstream.store.project('acme/apps/web').id,
    );
    await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web');
    expect(projectCalls()).toHaveLength(2);
    expect(cache?.stats()).toMatchObject({ hits: 1, misses: 2 });
  });

  it('asks again once the TTL has passed', async () => {
    const t = clock();
    const cache = createProjectCache({ size: 10, ttlMs: 5_000, now: t.now });
    await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web');
    t.advance(5_000);
    await createUpstreamLoaders(client, {}, cache).project.load('acme/apps/web');
    expect(projectCalls()).toHaveLength(2);
  });
});

describe('end to end: a visibility change on the forge', () => {
  const PUBLIC = 'acme/oss-lib';
  const query = `{ project(fullPath: "${PUBLIC}") { fullPath } }`;
  let t: TestGateway;
  let token: string;
  const projectCalls = () =>
    t.upstream.requests.filter(
      (r) => r.method === 'GET' && r.path === `/api/v4/projects/${encodeURIComponent(PUBLIC)}`,
    );

  beforeAll(async () => {
    t = await createTestGateway({ gateway: { projectCache: { size: 100, ttlMs: 60_000 } } });
    // A job of another group's project: it sees acme/oss-lib only while it is public.
    token = await t.jobToken('globex/portal', 'mallory');
  });
  afterEach(() => {
    t.upstream.store.project(PUBLIC).visibility = 'public';
  });
  afterAll(async () => t.close());

  it('is seen at most one TTL late, and the requests in between ask the forge nothing', async () => {
    t.upstream.clearRequests();
    const before = await t.gql(query, {}, { token });
    expect(before.body.data).toEqual({ project: { fullPath: PUBLIC } });
    t.upstream.store.project(PUBLIC).visibility = 'private';
    const within = await t.gql(query, {}, { token });
    expect(within.body.data).toEqual({ project: { fullPath: PUBLIC } });
    expect(projectCalls()).toHaveLength(1);

    const short = await createTestGateway({
      upstream: t.upstream,
      gateway: { projectCache: { size: 100, ttlMs: 50 } },
    });
    try {
      const shortToken = await short.jobToken('globex/portal', 'mallory');
      t.upstream.store.project(PUBLIC).visibility = 'public';
      expect((await short.gql(query, {}, { token: shortToken })).body.data).toEqual({
        project: { fullPath: PUBLIC },
      });
      t.upstream.store.project(PUBLIC).visibility = 'private';
      await new Promise((r) => setTimeout(r, 120));
      const after = await short.gql(query, {}, { token: shortToken });
      // Invisible now: `null`, exactly as for a project that does not exist.
      expect(after.body).toEqual({ data: { project: null } });
    } finally {
      await short.close();
    }
  });

  it('is seen at once with the cache off (size 0)', async () => {
    const off = await createTestGateway({
      upstream: t.upstream,
      gateway: { projectCache: { size: 0, ttlMs: 5_000 } },
    });
    try {
      const offToken = await off.jobToken('globex/portal', 'mallory');
      expect((await off.gql(query, {}, { token: offToken })).body.data).toEqual({
        project: { fullPath: PUBLIC },
      });
      t.upstream.store.project(PUBLIC).visibility = 'private';
      const after = await off.gql(query, {}, { token: offToken });
      // Invisible now: `null`, exactly as for a project that does not exist.
      expect(after.body).toEqual({ data: { project: null } });
    } finally {
      await off.close();
    }
  });
});

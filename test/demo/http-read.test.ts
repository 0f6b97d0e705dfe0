import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { asList, asObject, call, DEMO_SEED_PATH, enc, SCENARIOS_PATH } from './fixtures.js';

let demo: DemoUpstream;
let world: DemoUpstream;

beforeAll(async () => {
  demo = await startDemoUpstream({ seed: loadSeedFile(DEMO_SEED_PATH) });
  world = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH), token: 'scenario-token' });
});
afterAll(async () => {
  await demo.close();
  await world.close();
});

describe('PRIVATE-TOKEN', () => {
  it('answers 401 when the token is missing or wrong, and logs it', async () => {
    demo.clearRequests();
    for (const token of [null, 'wrong', `${demo.token}x`]) {
      const res = await call(demo, '/projects/102', { token });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ message: '401 Unauthorized' });
      expect(res.headers.get('content-type')).toBe('application/json');
    }
    expect(demo.requests.map((r) => [r.status, r.privateTokenOk])).toEqual([
      [401, false],
      [401, false],
      [401, false],
    ]);
  });

  it('accepts only the configured token', async () => {
    expect(world.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v4$/);
    expect((await call(world, '/projects/102', { token: 'demo-upstream-token' })).status).toBe(401);
    expect((await call(world, '/projects/102')).status).toBe(200);
  });
});

describe('projects and groups', () => {
  it('serves a project by id and by URL-encoded path with the fields the gateway uses', async () => {
    const byId = asObject(await call(world, '/projects/103'));
    const byPath = asObject(await call(world, `/projects/${enc('acme/platform/tools/releaser')}`));
    expect(byPath).toEqual(byId);
    expect(byId).toMatchObject({
      id: 103,
      name: 'releaser',
      path: 'releaser',
      path_with_namespace: 'acme/platform/tools/releaser',
      name_with_namespace: 'acme / platform / tools / releaser',
      namespace: {
        id: 12,
        path: 'tools',
        full_path: 'acme/platform/tools',
        kind: 'group',
        parent_id: 11,
      },
      visibility: 'private',
      web_url: expect.stringMatching(/\/acme\/platform\/tools\/releaser$/) as unknown,
      created_at: expect.any(String) as unknown,
      releases_access_level: 'enabled',
      repository_access_level: 'enabled',
      container_registry_access_level: 'disabled',
      merge_requests_access_level: 'enabled',
    });
  });

  it('answers 404 Project Not Found for an unknown id or path, and does not accept an unencoded path', async () => {
    for (const path of [
      '/projects/999',
      `/projects/${enc('acme/nope')}`,
      '/projects/acme/apps/web',
    ]) {
      const res = await call(world, path);
      expect(res.status).toBe(404);
    }
    expect((await call(world, '/projects/999')).json).toEqual({ message: '404 Project Not Found' });
    expect((await call(world, '/projects/acme/apps/web')).json).toEqual({ error: '404 Not Found' });
  });

  it('serves groups by id and path with their parent', async () => {
    const group = asObject(await call(world, `/groups/${enc('acme/platform/tools')}`));
    expect(group).toMatchObject({
      id: 12,
      name: 'tools',
      path: 'tools',
      full_path: 'acme/platform/tools',
      parent_id: 11,
    });
    expect(group).toMatchObject({ visibility: 'private', web_url: expect.any(String) as unknown });
    expect(asObject(await call(world, '/groups/10'))).toMatchObject({
      full_path: 'acme',
      parent_id: null,
    });
    expect(await call(world, '/groups/99').then((r) => [r.status, r.json])).toEqual([
      404,
      { message: '404 Group Not Found' },
    ]);
  });
});

describe('users and memberships', () => {
  it('serves users with their bot flag', async () => {
    expect(asObject(await call(demo, '/users/3'))).toMatchObject({
      id: 3,
      username: 'remediator-bot',
      name: 'Remediator Bot',
      state: 'active',
      bot: true,
    });
    expect(asObject(await call(demo, '/users/1'))).toMatchObject({ username: 'alice', bot: false });
    expect((await call(demo, '/users/404')).json).toEqual({ message: '404 User Not Found' });
    expect((await call(demo, '/users/alice')).status).toBe(404);
    expect(asList(await call(demo, '/users?username=bob')).map((u) => u.id)).toEqual([2]);
  });

  it('returns a direct member with the access level by user id', async () => {
    expect(asObject(await call(world, `/projects/${enc('acme/apps/api')}/members/all/1`))).toEqual(
      expect.objectContaining({
        id: 1,
        username: 'alice',
        name: 'alice',
        state: 'active',
        access_level: 10,
      }),
    );
  });

  it('answers 404 Not found for a user who is not a member, or unknown', async () => {
    for (const path of ['/projects/102/members/all/4', '/projects/102/members/all/999']) {
      const res = await call(world, path);
      expect([res.status, res.json]).toEqual([404, { message: '404 Not found' }]);
    }
  });

  it('inherits group memberships and returns the highest of direct and inherited levels', async () => {
    // carol is Owner of the acme group only.
    expect(
      asObject(await call(demo, `/projects/${enc('acme/platform/registry')}/members/all/5`))
        .access_level,
    ).toBe(50);
    // mallory: Developer of globex/portal directly, Maintainer of globex.
    expect(asObject(await call(demo, '/projects/201/members/all/4')).access_level).toBe(40);
    // bob: Reporter of the registry, not a member of any acme group.
    expect(asObject(await call(demo, '/projects/101/members/all/2')).access_level).toBe(20);
    expect((await call(demo, '/projects/201/members/all/1')).status).toBe(404);
  });
});

describe('releases, tags, registry and merge requests', () => {
  const web = `/projects/${enc('acme/apps/web')}`;

  it('lists releases newest first with the release shape', async () => {
    const list = asList(await call(world, `${web}/releases`));
    expect(list.map((r) => r.tag_name)).toEqual(['v1.2.0', 'v1.1.0', 'v1.0.0']);
    expect(list[0]).toEqual({
      tag_name: 'v1.2.0',
      name: 'acme/apps/web release v1.2.0',
      description: expect.stringContaining('acme/apps/web') as unknown,
      created_at: expect.any(String) as unknown,
      released_at: expect.any(String) as unknown,
      upcoming_release: false,
      author: expect.objectContaining({ id: 1, username: 'alice', name: 'alice' }) as unknown,
      commit: expect.objectContaining({
        id: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown,
      }) as unknown,
      assets: { count: 0, sources: [], links: [] },
    });
    const single = asObject(await call(world, `${web}/releases/v1.0.0`));
    expect(single.name).toBe('acme/apps/web release v1.0.0');
    expect((await call(world, `${web}/releases/v9`)).json).toEqual({
      message: '404 Release Not Found',
    });
  });

  it('lists tags with their release and filters them with the forge search syntax', async () => {
    const tags = asList(await call(world, `${web}/repository/tags`));
    expect(tags).toHaveLength(6);
    const v1 = tags.find((t) => t.name === 'v1.0.0');
    expect(v1).toMatchObject({
      message: expect.stringContaining('acme/apps/web') as unknown,
      target: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown,
      commit: expect.objectContaining({ short_id: expect.any(String) as unknown }) as unknown,
      release: { tag_name: 'v1.0.0', description: expect.any(String) as unknown },
      protected: false,
    });
    expect(tags.find((t) => t.name === 'v0.1.0')?.release).toBeNull();
    const names = async (search: string) =>
      asList(await call(world, `${web}/repository/tags?search=${enc(search)}`))
        .map((t) => t.name)
        .sort();
    expect(await names('.1.')).toEqual(['v0.1.0', 'v1.1.0']);
    expect(await names('^v0')).toEqual(['v0.1.0', 'v0.2.0', 'v0.3.0']);
    expect(await names('1.2.0$')).toEqual(['v1.2.0']);
    expect(await names('^v1.2.0$')).toEqual(['v1.2.0']);
    expect(await names('^1')).toEqual([]);
    expect(asObject(await call(world, `${web}/repository/tags/v0.2.0`)).name).toBe('v0.2.0');
    expect((await call(world, `${web}/repository/tags/nope`)).json).toEqual({
      message: '404 Tag Not Found',
    });
  });

  it('serves container repositories and image tags only inside their project', async () => {
    const repos = asList(await call(world, `${web}/registry/repositories`));
    expect(repos).toHaveLength(2);
    const repo = repos[0] as Record<string, unknown>;
    expect(repo).toEqual({
      id: expect.any(Number) as unknown,
      name: 'acme/apps/web/app',
      path: 'acme/apps/web/app',
      project_id: 102,
      location: expect.stringMatching(/\/acme\/apps\/web\/app$/) as unknown,
      created_at: expect.any(String) as unknown,
      cleanup_policy_started_at: null,
    });
    const tags = asList(await call(world, `${web}/registry/repositories/${String(repo.id)}/tags`));
    expect(tags.map((t) => t.name)).toEqual(['latest', 'v1', 'v2']);
    expect(tags[0]).toEqual({
      name: 'latest',
      path: 'acme/apps/web/app:latest',
      location: expect.any(String) as unknown,
    });
    const details = asObject(
      await call(world, `${web}/registry/repositories/${String(repo.id)}/tags/latest`),
    );
    expect(details).toMatchObject({
      name: 'latest',
      short_revision: expect.any(String) as unknown,
      total_size: expect.any(Number) as unknown,
    });
    expect(details.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const withTags = asList(
      await call(world, `${web}/registry/repositories?tags=true&tags_count=true`),
    );
    expect(withTags[0]).toMatchObject({ tags_count: 3, tags: expect.any(Array) as unknown });

    const otherRepoId = world.store.containerRepositories('acme/platform/registry')[0]?.id ?? 0;
    const crossed = await call(world, `${web}/registry/repositories/${otherRepoId}/tags`);
    expect([crossed.status, crossed.json]).toEqual([404, { message: '404 Repository Not Found' }]);
  });

  it('serves a merge request and its notes oldest first', async () => {
    const mr = asObject(await call(world, `${web}/merge_requests/1`));
    expect(mr).toMatchObject({
      iid: 1,
      project_id: 102,
      state: 'opened',
      author: expect.objectContaining({ username: 'alice' }) as unknown,
    });
    expect(mr).toEqual(
      expect.objectContaining({
        id: expect.any(Number) as unknown,
        title: expect.any(String) as unknown,
        description: expect.any(String) as unknown,
        created_at: expect.any(String) as unknown,
        web_url: expect.stringMatching(/\/acme\/apps\/web\/-\/merge_requests\/1$/) as unknown,
      }),
    );
    const notes = asList(await call(world, `${web}/merge_requests/1/notes`));
    expect(notes.map((n) => n.body)).toEqual([
      'note 1 on acme/apps/web',
      'note 2 on acme/apps/web',
      'note 3 on acme/apps/web',
    ]);
    expect(notes[0]).toMatchObject({
      author: expect.objectContaining({
        id: expect.any(Number) as unknown,
        username: expect.any(String) as unknown,
      }) as unknown,
      system: false,
      noteable_id: mr.id,
      noteable_type: 'MergeRequest',
      noteable_iid: 1,
      updated_at: expect.any(String) as unknown,
    });
    expect(asList(await call(world, `${web}/merge_requests/1/notes?sort=desc`))[0]?.body).toBe(
      'note 3 on acme/apps/web',
    );
    expect((await call(world, `${web}/merge_requests/2`)).json).toEqual({
      message: '404 Not found',
    });
    expect((await call(world, `${web}/merge_requests/2/notes`)).status).toBe(404);
  });

  it('answers 404 for unknown routes and paths outside /api/v4', async () => {
    expect((await call(world, `${web}/wikis`)).json).toEqual({ error: '404 Not Found' });
    const outside = await fetch(world.url.replace('/api/v4', '/projects/102'), {
      headers: { 'PRIVATE-TOKEN': world.token },
    });
    expect(outside.status).toBe(404);
  });
});

describe('pagination', () => {
  const releases = `/projects/${enc('acme/apps/web')}/releases`;

  it('pages through 30 releases with the forge headers', async () => {
    const first = await call(demo, releases);
    expect(asList(first)).toHaveLength(20);
    expect(
      Object.fromEntries(
        ['x-page', 'x-per-page', 'x-next-page', 'x-prev-page', 'x-total', 'x-total-pages'].map(
          (h) => [h, first.headers.get(h)],
        ),
      ),
    ).toEqual({
      'x-page': '1',
      'x-per-page': '20',
      'x-next-page': '2',
      'x-prev-page': '',
      'x-total': '30',
      'x-total-pages': '2',
    });
    const second = await call(demo, `${releases}?page=2`);
    expect(asList(second)).toHaveLength(10);
    expect([second.headers.get('x-next-page'), second.headers.get('x-prev-page')]).toEqual([
      '',
      '1',
    ]);
    expect(second.headers.get('link')).toContain('rel="prev"');
  });

  it('visits every release exactly once with a small per_page, following x-next-page', async () => {
    const seen: unknown[] = [];
    let page = '1';
    while (page !== '') {
      const res = await call(demo, `${releases}?per_page=7&page=${page}`);
      expect(res.headers.get('x-total-pages')).toBe('5');
      seen.push(...asList(res).map((r) => r.tag_name));
      page = res.headers.get('x-next-page') ?? '';
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
    expect(seen[0]).toBe('v1.29.0');
  });

  it('caps per_page at 100 and answers an empty page past the end', async () => {
    const big = await call(demo, `${releases}?per_page=500`);
    expect([asList(big).length, big.headers.get('x-per-page')]).toEqual([30, '100']);
    const past = await call(demo, `${releases}?page=9`);
    expect(asList(past)).toEqual([]);
    expect(past.headers.get('x-next-page')).toBe('');
  });

  it('paginates every list, tags and notes included', async () => {
    const tags = await call(demo, `/projects/102/repository/tags?per_page=5`);
    expect([
      asList(tags).length,
      tags.headers.get('x-total'),
      tags.headers.get('x-next-page'),
    ]).toEqual([5, '33', '2']);
    const notes = await call(demo, `/projects/102/merge_requests/1/notes?per_page=2&page=2`);
    expect([asList(notes).length, notes.headers.get('x-total-pages')]).toEqual([1, '2']);
  });
});

/**
 * Every resource query and mutation, end to end over real HTTP against the demo seed, with a
 * job token that is allowed everything it asks: a job in `acme/apps/web` itself, triggered by
 * bob (Maintainer there). Each write is checked by a later read; each failure by its code and
 * by what reached the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSeedPath, loadSeedFile } from '../../src/demo/seed.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';

const WEB = 'acme/apps/web';

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}
interface ReleaseNode {
  tagName: string;
  name: string;
}
interface ReleasesData {
  project: {
    releases: {
      nodes: ReleaseNode[];
      edges: { cursor: string; node: ReleaseNode }[];
      pageInfo: PageInfo;
    };
  };
}
interface TagsData {
  project: { tags: { nodes: { name: string; target: string | null }[] } };
}
interface ContainerData {
  project: {
    containerRepositories: {
      nodes: { id: string; name: string; tags: { nodes: { name: string; path: string }[] } }[];
    };
  };
}
interface NotesData {
  project: {
    mergeRequest: {
      title: string;
      notes: { nodes: { body: string; author: { username: string } | null }[] };
    } | null;
  };
}

const RELEASES_PAGE = `query Page($first: Int, $after: String) {
  project(fullPath: "${WEB}") {
    releases(first: $first, after: $after) {
      nodes { tagName name }
      edges { cursor node { tagName name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`;
const RELEASE = `query One($tag: String!) { project(fullPath: "${WEB}") { release(tagName: $tag) { tagName name description } } }`;
const TAGS = `query Tags($search: String) { project(fullPath: "${WEB}") { tags(search: $search, first: 100) { nodes { name target } } } }`;
const CONTAINERS = `{ project(fullPath: "${WEB}") { containerRepositories { nodes { id name tags(first: 100) { nodes { name path } } } } } }`;
const NOTES = `{ project(fullPath: "${WEB}") { mergeRequest(iid: "1") { title notes(first: 100) { nodes { body author { username } } } } } }`;

/** The first error's code, or undefined. */
function codeOf(res: GqlResponse<unknown>): string | undefined {
  return res.body.errors?.[0]?.extensions?.code;
}

/** Asserts a clean 200 answer and returns its data. */
function ok<T>(res: GqlResponse<T>): T {
  expect(res.body.errors, res.text).toBeUndefined();
  expect(res.status).toBe(200);
  const data = res.body.data;
  if (!data) throw new Error(`no data: ${res.text}`);
  return data;
}

describe('resource reads against the demo seed', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await createTestGateway({ seed: loadSeedFile(defaultSeedPath()) });
    token = await t.jobToken(WEB, 'bob');
  });
  afterAll(async () => t.close());

  it('resolves the project fields a job in the project asks for', async () => {
    const data = ok(
      await t.gql<{ project: Record<string, string> }>(
        `{ project(fullPath: "${WEB}") { id fullPath name visibility } }`,
        {},
        { token },
      ),
    );
    expect(data.project).toEqual({
      id: 'gid://gitlab/Project/102',
      fullPath: WEB,
      name: 'Web',
      visibility: 'private',
    });
  });

  it('returns a releases connection whose nodes, edges and pageInfo agree', async () => {
    const data = ok(await t.gql<ReleasesData>(RELEASES_PAGE, { first: 5 }, { token }));
    const { nodes, edges, pageInfo } = data.project.releases;
    expect(nodes).toHaveLength(5);
    expect(edges.map((e) => e.node)).toEqual(nodes);
    expect(new Set(edges.map((e) => e.cursor)).size).toBe(5);
    expect(pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor,
      endCursor: edges[4]?.cursor,
    });
    // The forge's order: newest release first.
    expect(nodes[0]?.tagName).toBe('v1.29.0');
  });

  it('reads one release by tag name, and null without an error for a tag with no release', async () => {
    const hit = ok(
      await t.gql<{ project: { release: ReleaseNode | null } }>(
        RELEASE,
        { tag: 'v1.3.0' },
        { token },
      ),
    );
    expect(hit.project.release).toMatchObject({
      tagName: 'v1.3.0',
      name: 'acme/apps/web release v1.3.0',
    });
    const miss = ok(
      await t.gql<{ project: { release: ReleaseNode | null } }>(
        RELEASE,
        { tag: 'v404.0.0' },
        { token },
      ),
    );
    expect(miss.project.release).toBeNull();
  });

  it('filters tags with the forge search syntax', async () => {
    const all = ok(await t.gql<TagsData>(TAGS, {}, { token }));
    expect(all.project.tags.nodes.length).toBeGreaterThanOrEqual(30);
    const some = ok(await t.gql<TagsData>(TAGS, { search: '^v1.2' }, { token }));
    const names = some.project.tags.nodes.map((n) => n.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n.startsWith('v1.2'))).toBe(true);
    expect(names).toContain('v1.29.0');
    const exact = ok(await t.gql<TagsData>(TAGS, { search: '^v1.29.0$' }, { token }));
    expect(exact.project.tags.nodes.map((n) => n.name)).toEqual(['v1.29.0']);
    expect(exact.project.tags.nodes[0]?.target).toMatch(/^[0-9a-f]{40}$/);
  });

  it('lists container repositories with their image tags', async () => {
    const data = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const repos = data.project.containerRepositories.nodes;
    expect(repos.map((r) => r.name)).toEqual(['acme/apps/web/app', 'acme/apps/web/worker']);
    expect(repos[0]?.id).toBe('gid://gitlab/ContainerRepository/303');
    for (const r of repos) {
      expect(r.tags.nodes.length).toBeGreaterThan(0);
      for (const tag of r.tags.nodes) expect(tag.path).toBe(`${r.name}:${tag.name}`);
    }
  });

  it('reads a merge request and its notes, oldest first, with their authors', async () => {
    const data = ok(await t.gql<NotesData>(NOTES, {}, { token }));
    expect(data.project.mergeRequest?.title).toBe('Bump lodash in acme/apps/web');
    expect(data.project.mergeRequest?.notes.nodes).toEqual([
      {
        body: 'note 1 on acme/apps/web: remediator-bot found CVE-2024-0001',
        author: { username: 'remediator-bot' },
      },
      { body: 'note 2 on acme/apps/web: looks good to me', author: { username: 'bob' } },
      { body: 'note 3 on acme/apps/web: added label security', author: { username: 'bob' } },
    ]);
  });

  it('answers null without an error for a merge request iid that does not exist', async () => {
    const data = ok(
      await t.gql<{ project: { mergeRequest: null } }>(
        `{ project(fullPath: "${WEB}") { mergeRequest(iid: "999") { title } } }`,
        {},
        { token },
      ),
    );
    expect(data.project.mergeRequest).toBeNull();
  });
});

describe('cursors across instances and a cursor key rotation (SCOPEGATE_CURSOR_SECRET)', () => {
  const OLD = 'cursor-key-old-0123456789';
  const NEW = 'cursor-key-new-0123456789';
  const gateways: TestGateway[] = [];
  /** A gateway in front of the first one's forge, with these cursor keys. */
  const instance = async (cursorSecrets?: string[]) => {
    const t = await createTestGateway({
      seed: loadSeedFile(defaultSeedPath()),
      ...(gateways[0] ? { upstream: gateways[0].upstream } : {}),
      ...(cursorSecrets ? { gateway: { cursorSecrets } } : {}),
    });
    gateways.push(t);
    return t;
  };
  afterAll(async () => {
    for (const t of gateways.reverse()) await t.close();
  });

  const page = async (t: TestGateway, after?: string | null) =>
    t.gql<ReleasesData>(
      RELEASES_PAGE,
      { first: 10, after },
      { token: await t.jobToken(WEB, 'bob') },
    );

  it('reads the cursors of a previous key, makes them with the current one, and refuses others', async () => {
    const before = await instance([OLD]);
    const rolling = await instance([NEW, OLD]);
    const after = await instance([NEW]);
    const byCredential = await instance();
    const first = ok(await page(before)).project.releases;
    const all = ok(
      await before.gql<ReleasesData>(
        RELEASES_PAGE,
        { first: 100 },
        { token: await before.jobToken(WEB, 'bob') },
      ),
    ).project.releases.nodes.map((n) => n.tagName);

    // A client paging while the fleet rolls to the new key goes on where it was.
    const second = ok(await page(rolling, first.pageInfo.endCursor)).project.releases;
    expect(second.nodes.map((n) => n.tagName)).toEqual(all.slice(10, 20));
    // What the rolling instance made is the new key's: the finished fleet reads it.
    const third = ok(await page(after, second.pageInfo.endCursor)).project.releases;
    expect(third.nodes.map((n) => n.tagName)).toEqual(all.slice(20, 30));

    // The old key's cursors once `_PREVIOUS` is gone, and any keyed cursor where the upstream
    // credential keys them: BAD_USER_INPUT.
    expect(codeOf(await page(after, first.pageInfo.endCursor))).toBe('BAD_USER_INPUT');
    expect(codeOf(await page(byCredential, first.pageInfo.endCursor))).toBe('BAD_USER_INPUT');
  });
});

describe('release pagination over 30 releases', () => {
  let t: TestGateway;
  let token: string;
  let all: string[];
  beforeAll(async () => {
    // A full page (nodes, edges and pageInfo) of 100 costs about 6 000, within the default.
    t = await createTestGateway({ seed: loadSeedFile(defaultSeedPath()) });
    token = await t.jobToken(WEB, 'bob');
    const data = ok(await t.gql<ReleasesData>(RELEASES_PAGE, { first: 100 }, { token }));
    all = data.project.releases.nodes.map((n) => n.tagName);
  });
  afterAll(async () => t.close());

  const page = async (first: number, after?: string | null) =>
    ok(await t.gql<ReleasesData>(RELEASES_PAGE, { first, after }, { token })).project.releases;

  it('walks three pages of 10 with endCursor, without duplicates or gaps, and stops', async () => {
    expect(all).toHaveLength(30);
    const seen: string[] = [];
    let after: string | null = null;
    const hasNext: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await page(10, after);
      expect(p.nodes).toHaveLength(10);
      expect(p.pageInfo.hasPreviousPage).toBe(i > 0);
      seen.push(...p.nodes.map((n) => n.tagName));
      hasNext.push(p.pageInfo.hasNextPage);
      after = p.pageInfo.endCursor;
    }
    expect(hasNext).toEqual([true, true, false]);
    expect(seen).toEqual(all);
    const beyond = await page(10, after);
    expect(beyond.nodes).toEqual([]);
    expect(beyond.pageInfo).toMatchObject({ hasNextPage: false, endCursor: null });
  });

  it('continues exactly when a different first follows a cursor', async () => {
    const a = await page(10);
    const b = await page(7, a.pageInfo.endCursor);
    expect(b.nodes.map((n) => n.tagName)).toEqual(all.slice(10, 17));
    expect(b.pageInfo.hasNextPage).toBe(true);
    const c = await page(13, b.pageInfo.endCursor);
    expect(c.nodes.map((n) => n.tagName)).toEqual(all.slice(17, 30));
    expect(c.pageInfo.hasNextPage).toBe(false);
    // A window that spans two upstream pages of its own size.
    const d = await page(4, a.edges[2]?.cursor);
    expect(d.nodes.map((n) => n.tagName)).toEqual(all.slice(3, 7));
    expect(d.edges.map((e) => e.cursor)).toEqual(
      (await page(7)).edges.slice(3).map((e) => e.cursor),
    );
  });

  it('rejects a cursor it did not make with BAD_USER_INPUT', async () => {
    for (const after of [
      'not-a-cursor',
      Buffer.from('sg1:-1').toString('base64url'),
      'x'.repeat(80),
    ]) {
      const res = await t.gql(RELEASES_PAGE, { first: 10, after }, { token });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.message).toContain('cursor');
    }
  });

  it('rejects first above 100 or below 0 with BAD_USER_INPUT before calling the upstream', async () => {
    for (const first of [101, -1]) {
      t.upstream.clearRequests();
      const res = await t.gql(RELEASES_PAGE, { first }, { token });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.message).toContain('"first"');
      expect(t.upstream.requests.filter((r) => r.path.includes('/releases'))).toEqual([]);
    }
  });
});

describe('resource mutations against the demo seed', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await createTestGateway({ seed: loadSeedFile(defaultSeedPath()) });
    token = await t.jobToken(WEB, 'bob');
  });
  afterAll(async () => t.close());

  const release = async (tag: string) =>
    ok(await t.gql<{ project: { release: ReleaseNode | null } }>(RELEASE, { tag }, { token }))
      .project.release;
  const tagNames = async (search: string) =>
    ok(await t.gql<TagsData>(TAGS, { search }, { token })).project.tags.nodes.map((n) => n.name);

  it('creates, updates and deletes a release, each visible in a later read', async () => {
    const created = await t.gql<{ releaseCreate: { release: ReleaseNode; errors: string[] } }>(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v9.0.0", ref: "main", name: "Nine", description: "first" }) { release { tagName name } errors } }`,
      {},
      { token },
    );
    expect(ok(created).releaseCreate).toEqual({
      release: { tagName: 'v9.0.0', name: 'Nine' },
      errors: [],
    });
    expect(await release('v9.0.0')).toMatchObject({ name: 'Nine', description: 'first' });
    expect(await tagNames('^v9.0.0$')).toEqual(['v9.0.0']);

    const updated = await t.gql<{ releaseUpdate: { release: ReleaseNode; errors: string[] } }>(
      `mutation { releaseUpdate(input: { projectPath: "${WEB}", tagName: "v9.0.0", name: "Nine (renamed)" }) { release { tagName name } errors } }`,
      {},
      { token },
    );
    expect(ok(updated).releaseUpdate.release.name).toBe('Nine (renamed)');
    expect(await release('v9.0.0')).toMatchObject({ name: 'Nine (renamed)', description: 'first' });

    const deleted = await t.gql<{ releaseDelete: { release: ReleaseNode; errors: string[] } }>(
      `mutation { releaseDelete(input: { projectPath: "${WEB}", tagName: "v9.0.0" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(ok(deleted).releaseDelete).toEqual({ release: { tagName: 'v9.0.0' }, errors: [] });
    expect(await release('v9.0.0')).toBeNull();
    // Deleting a release keeps its tag, as the forge does.
    expect(await tagNames('^v9.0.0$')).toEqual(['v9.0.0']);
  });

  it('creates and deletes a tag, each visible in a later read', async () => {
    const created = await t.gql<{ tagCreate: { tag: { name: string; target: string } } }>(
      `mutation { tagCreate(input: { projectPath: "${WEB}", name: "feature-x", ref: "v1.29.0", message: "x" }) { tag { name target message } errors } }`,
      {},
      { token },
    );
    expect(ok(created).tagCreate.tag).toMatchObject({ name: 'feature-x', message: 'x' });
    expect(await tagNames('^feature-x$')).toEqual(['feature-x']);

    const deleted = await t.gql<{ tagDelete: { tag: { name: string }; errors: string[] } }>(
      `mutation { tagDelete(input: { projectPath: "${WEB}", name: "feature-x" }) { tag { name } errors } }`,
      {},
      { token },
    );
    expect(ok(deleted).tagDelete).toEqual({ tag: { name: 'feature-x' }, errors: [] });
    expect(await tagNames('^feature-x$')).toEqual([]);
  });

  it('answers NOT_FOUND for deleting a tag that does not exist, without a DELETE upstream', async () => {
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { tagDelete(input: { projectPath: "${WEB}", name: "no-such-tag" }) { tag { name } errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(res.body.errors?.[0]?.message).toBe('tag "no-such-tag" was not found');
    expect(t.upstream.writes()).toEqual([]);
  });

  it('deletes container image tags, visible in a later read', async () => {
    const before = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const repo = before.project.containerRepositories.nodes[0];
    if (!repo) throw new Error('no container repository in the seed');
    const victim = repo.tags.nodes[0]?.name ?? '';
    const res = await t.gql<{ containerRepositoryTagsDelete: { deletedTagNames: string[] } }>(
      `mutation($id: ID!, $names: [String!]!) { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: $id, tagNames: $names }) { deletedTagNames errors } }`,
      { id: repo.id, names: [victim] },
      { token },
    );
    expect(ok(res).containerRepositoryTagsDelete.deletedTagNames).toEqual([victim]);
    const after = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const names = after.project.containerRepositories.nodes[0]?.tags.nodes.map((n) => n.name);
    expect(names).toEqual(repo.tags.nodes.slice(1).map((n) => n.name));
  });

  it('deletes no container image tag when one of several names is unknown', async () => {
    const before = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const repo = before.project.containerRepositories.nodes[1];
    if (!repo) throw new Error('no second container repository in the seed');
    const existing = repo.tags.nodes.map((n) => n.name);
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation($id: ID!, $names: [String!]!) { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: $id, tagNames: $names }) { deletedTagNames errors } }`,
      { id: repo.id, names: [...existing, 'does-not-exist'] },
      { token },
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(res.body.errors?.[0]?.message).toContain('does-not-exist');
    expect(t.upstream.writes()).toEqual([]);
    const after = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    expect(after.project.containerRepositories.nodes[1]?.tags.nodes.map((n) => n.name)).toEqual(
      existing,
    );
  });

  it('says which container image tags were deleted when the forge fails part-way', async () => {
    const before = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const repo = before.project.containerRepositories.nodes[1];
    if (!repo) throw new Error('no second container repository in the seed');
    const existing = repo.tags.nodes.map((n) => n.name);
    expect(existing.length).toBeGreaterThanOrEqual(2);
    const [first, second] = existing as [string, string];
    const remove = t.upstream.injectFault({
      method: 'DELETE',
      path: new RegExp(`/tags/${second.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
      kind: 'status',
      status: 500,
    });
    const res = await t.gql<{
      containerRepositoryTagsDelete: { deletedTagNames: string[]; errors: string[] };
    }>(
      `mutation($id: ID!, $names: [String!]!) { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: $id, tagNames: $names }) { deletedTagNames errors } }`,
      { id: repo.id, names: existing },
      { token },
    );
    remove();
    const payload = ok(res).containerRepositoryTagsDelete;
    expect(payload.deletedTagNames).toEqual([first]);
    const rest = existing.slice(2);
    expect(payload.errors).toEqual([
      `tag "${second}" could not be deleted (UPSTREAM_ERROR); stopped there` +
        (rest.length > 0 ? `, not attempted: ${rest.join(', ')}` : ''),
    ]);
    const after = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    expect(after.project.containerRepositories.nodes[1]?.tags.nodes.map((n) => n.name)).toEqual(
      existing.slice(1),
    );
  });

  it('answers the error when the forge fails on the first container image tag, deleting nothing', async () => {
    const before = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    const repo = before.project.containerRepositories.nodes[1];
    if (!repo) throw new Error('no second container repository in the seed');
    const existing = repo.tags.nodes.map((n) => n.name);
    const remove = t.upstream.injectFault({
      method: 'DELETE',
      path: /\/tags\//,
      kind: 'status',
      status: 500,
    });
    const res = await t.gql(
      `mutation($id: ID!, $names: [String!]!) { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: $id, tagNames: $names }) { deletedTagNames errors } }`,
      { id: repo.id, names: existing },
      { token },
    );
    remove();
    expect(codeOf(res)).toBe('UPSTREAM_ERROR');
    const after = ok(await t.gql<ContainerData>(CONTAINERS, {}, { token }));
    expect(after.project.containerRepositories.nodes[1]?.tags.nodes.map((n) => n.name)).toEqual(
      existing,
    );
  });

  it('answers NOT_FOUND for a container repository id of another project, deleting nothing', async () => {
    // Repository 301 belongs to acme/platform/registry, not to acme/apps/web.
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: "301", tagNames: ["latest"] }) { deletedTagNames errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(t.upstream.writes()).toEqual([]);
  });

  it('creates a merge request note, visible in a later read', async () => {
    const res = await t.gql<{
      mergeRequestNoteCreate: { note: { body: string }; errors: string[] };
    }>(
      `mutation { mergeRequestNoteCreate(input: { projectPath: "${WEB}", iid: "1", body: "LGTM from CI" }) { note { body author { username } } errors } }`,
      {},
      { token },
    );
    expect(ok(res).mergeRequestNoteCreate).toMatchObject({
      note: { body: 'LGTM from CI' },
      errors: [],
    });
    const notes = ok(await t.gql<NotesData>(NOTES, {}, { token })).project.mergeRequest?.notes
      .nodes;
    expect(notes).toHaveLength(4);
    expect(notes?.[3]?.body).toBe('LGTM from CI');
  });

  it('answers NOT_FOUND for a note on a merge request that does not exist, without a POST', async () => {
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { mergeRequestNoteCreate(input: { projectPath: "${WEB}", iid: "999", body: "hi" }) { errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(t.upstream.writes()).toEqual([]);
  });

  it('surfaces the forge message as BAD_USER_INPUT when a release for the tag already exists', async () => {
    const create = `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v1.29.0", name: "again" }) { release { tagName } errors } }`;
    const before = await release('v1.29.0');
    const res = await t.gql(create, {}, { token });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0]?.message).toBe('Release already exists');
    expect(await release('v1.29.0')).toEqual(before);
  });

  it('surfaces "Release already exists" on the second create of a release for an existing tag', async () => {
    ok(
      await t.gql(
        `mutation { tagCreate(input: { projectPath: "${WEB}", name: "v8.0.0", ref: "main" }) { tag { name } errors } }`,
        {},
        { token },
      ),
    );
    const create = `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v8.0.0" }) { release { tagName } errors } }`;
    ok(await t.gql(create, {}, { token }));
    const again = await t.gql(create, {}, { token });
    expect(codeOf(again)).toBe('BAD_USER_INPUT');
    expect(again.body.errors?.[0]?.message).toBe('Release already exists');
    expect(again.body.errors?.[0]?.path).toEqual(['releaseCreate']);
  });

  it('surfaces the forge message as BAD_USER_INPUT for a tag from a ref that does not resolve', async () => {
    const res = await t.gql(
      `mutation { tagCreate(input: { projectPath: "${WEB}", name: "bad-ref", ref: "no-such-branch" }) { tag { name } errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0]?.message).toBe('Target no-such-branch is invalid');
    expect(await tagNames('^bad-ref$')).toEqual([]);
  });

  it('surfaces BAD_USER_INPUT for a release of a new tag without a ref, creating nothing', async () => {
    const res = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v7.0.0" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0]?.message).toBe('Ref is not specified');
    expect(await release('v7.0.0')).toBeNull();
    expect(await tagNames('^v7.0.0$')).toEqual([]);
  });

  it('answers NOT_FOUND for deleting the release of a tag that has none', async () => {
    const res = await t.gql(
      `mutation { releaseDelete(input: { projectPath: "${WEB}", tagName: "v404.0.0" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(res.body.errors?.[0]?.message).toBe('release "v404.0.0" was not found');
    expect(res.body.data).toEqual({ releaseDelete: null });
  });
});

/**
 * Path and input abuse (DESIGN.md sections 4 and 5): values a caller controls that end up in
 * an upstream URL (project paths, tag names, release tags, iids, container repository ids,
 * search strings) carrying `..`, `.`, encoded slashes, `%00`, CR/LF, query strings, unicode
 * look-alikes or very long strings. Each is refused or sent as one encoded segment of the
 * intended project's URL: the embedded upstream's request log shows no request outside the
 * target project, no extra query parameter and no injected header. `e2e/visibility.test.ts`
 * covers the plainer `fullPath` shapes; this file adds the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamRequestLogEntry } from '../../src/demo/http-server.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

/** The job's own project: alice (Developer) may read and write there. */
const OWN = 'acme/apps/web';
const OTHER = 'acme/platform/registry';

/** Values that try to leave their URL segment, or the request line. */
const HOSTILE: readonly (readonly [string, string])[] = [
  ['a parent-directory segment', '..'],
  ['a current-directory segment', '.'],
  ['an encoded parent directory', '%2e%2e'],
  ['a walk to another project', '../../101/releases/v1.0.0'],
  ['an encoded walk', '..%2F..%2F101'],
  ['a double-encoded slash', 'v1%252F..%252F101'],
  ['a NUL byte', 'v1.0.0\u0000x'],
  ['an encoded NUL byte', 'v1.0.0%00x'],
  ['CR/LF with a header', 'v1\r\nX-Injected: yes\r\n\r\nGET /api/v4/projects/101 HTTP/1.1'],
  ['an encoded CR/LF', 'v1%0d%0aX-Injected:%20yes'],
  ['a query string', 'v1.0.0?private_token=stolen&sudo=1'],
  ['a fragment', 'v1.0.0#x'],
  ['a backslash walk', '..\\..\\101'],
  ['fullwidth and division slashes', 'v1\uff0f..\u2215101'],
  ['a very long value', `v${'9'.repeat(20_000)}`],
];

/** Full paths that name no project, beyond those of the visibility test. */
const BAD_PATHS: readonly (readonly [string, string])[] = [
  ['an encoded NUL', 'acme/apps/web%00'],
  ['a NUL byte', 'acme/apps/web\u0000'],
  ['a trailing dot segment', 'acme/apps/web/.'],
  ['a trailing parent segment', 'acme/apps/web/..'],
  ['a dot-dot inside', 'acme/..%2Fplatform/registry'],
  ['a Cyrillic look-alike', 'acme/\u0430pps/web'],
  ['a fullwidth slash', 'acme\uff0fapps\uff0fweb'],
  ['a backslash', 'acme\\apps\\web'],
  ['a gid instead of a path', 'gid://gitlab/Project/102'],
  ['a numeric id', '102'],
  ['CR/LF', 'acme/apps/web\r\nX-Injected: yes'],
  ['a leading slash', '/acme/apps/web'],
  ['a double slash', 'acme//apps/web'],
];

describe('hostile input never steers an upstream call', () => {
  let t: TestGateway;
  let job: string;
  let ownId: number;

  beforeAll(async () => {
    t = await createTestGateway();
    job = await t.jobToken(OWN, 'alice');
    ownId = t.upstream.store.project(OWN).id;
  });
  afterAll(async () => t.close());

  /** Why `r` is outside what a request about the job's own project may call, if it is. */
  function stray(r: UpstreamRequestLogEntry): string | undefined {
    const [pathname = '', query = ''] = r.path.split('?', 2);
    if (Object.keys(r.headers).some((h) => h.startsWith('x-injected'))) return 'an injected header';
    if (/[\r\n\0]/.test(r.path)) return 'a raw control character';
    const params = new URLSearchParams(query);
    for (const key of params.keys())
      if (!['page', 'per_page', 'search', 'order_by', 'sort'].includes(key))
        return `query parameter ${key}`;
    const segments = pathname.split('/').slice(3); // '', 'api', 'v4'
    if (segments.some((s) => s === '' || /^(\.|%2e){1,2}$/i.test(s))) return 'a dot segment';
    const [root, id, ...rest] = segments;
    if (root === 'users' && /^\d+$/.test(id ?? '') && rest.length === 0) return undefined;
    if (root !== 'projects') return `root ${root}`;
    if (id !== String(ownId) && decodeURIComponent(id ?? '') !== OWN) return `project ${id}`;
    return undefined;
  }

  async function run(query: string, variables: Record<string, unknown>) {
    t.upstream.clearRequests();
    const res = await t.gql(query, variables, { token: job });
    const strays = t.upstream.requests.flatMap((r) => {
      const why = stray(r);
      return why ? [`${r.method} ${r.path}: ${why}`] : [];
    });
    return { res, strays };
  }

  const READS: readonly (readonly [string, string])[] = [
    [
      'release(tagName)',
      `query($v: String!) { project(fullPath: "${OWN}") { release(tagName: $v) { name } } }`,
    ],
    [
      'tags(search)',
      `query($v: String) { project(fullPath: "${OWN}") { tags(search: $v) { nodes { name } } } }`,
    ],
    [
      'mergeRequest(iid)',
      `query($v: String!) { project(fullPath: "${OWN}") { mergeRequest(iid: $v) { title } } }`,
    ],
    [
      'releases(after)',
      `query($v: String) { project(fullPath: "${OWN}") { releases(after: $v) { nodes { name } } } }`,
    ],
  ];

  describe.each(READS)('reading %s', (_field, query) => {
    it.each(HOSTILE)('sends %s only inside the project, or not at all', async (_what, v) => {
      const { res, strays } = await run(query, { v });
      expect(res.status).toBeLessThan(500);
      expect(strays).toEqual([]);
      expect(res.text).not.toContain(`${OTHER} release`);
      expect(t.upstream.writes()).toEqual([]);
    });
  });

  const WRITES: readonly (readonly [string, string, (v: string) => Record<string, unknown>])[] = [
    [
      'releaseCreate(tagName)',
      'mutation($i: ReleaseCreateInput!) { releaseCreate(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, tagName: v, ref: 'main' }),
    ],
    [
      'releaseUpdate(tagName)',
      'mutation($i: ReleaseUpdateInput!) { releaseUpdate(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, tagName: v, name: 'x' }),
    ],
    [
      'releaseDelete(tagName)',
      'mutation($i: ReleaseDeleteInput!) { releaseDelete(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, tagName: v }),
    ],
    [
      'tagCreate(name, ref)',
      'mutation($i: TagCreateInput!) { tagCreate(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, name: v, ref: v }),
    ],
    [
      'tagDelete(name)',
      'mutation($i: TagDeleteInput!) { tagDelete(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, name: v }),
    ],
    [
      'containerRepositoryTagsDelete(id)',
      'mutation($i: ContainerRepositoryTagsDeleteInput!) { containerRepositoryTagsDelete(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, id: v, tagNames: ['latest'] }),
    ],
    [
      'containerRepositoryTagsDelete(tagNames)',
      'mutation($i: ContainerRepositoryTagsDeleteInput!) { containerRepositoryTagsDelete(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, id: '303', tagNames: [v] }),
    ],
    [
      'mergeRequestNoteCreate(iid)',
      'mutation($i: MergeRequestNoteCreateInput!) { mergeRequestNoteCreate(input: $i) { errors } }',
      (v) => ({ projectPath: OWN, iid: v, body: 'hostile iid' }),
    ],
  ];

  describe.each(WRITES)('writing %s', (_field, query, input) => {
    it.each(HOSTILE)(
      'sends %s only inside the project, and writes only there',
      async (_what, v) => {
        const { res, strays } = await run(query, { i: input(v) });
        expect(res.status).toBeLessThan(500);
        expect(strays).toEqual([]);
        for (const w of t.upstream.writes())
          expect(w.path).toMatch(new RegExp(`^/api/v4/projects/${ownId}/[a-z_]+(/[^/?]+)*$`));
      },
    );
  });

  it.each(['.', '..'])(
    'refuses %j as a release, tag or image tag name with BAD_USER_INPUT before any upstream write',
    async (v) => {
      // Encoding leaves dots alone and URL resolution walks up: `releaseDelete(tagName: "..")`
      // used to send DELETE /projects/:id, and an image tag ".." deleted the whole repository.
      for (const [field, query, input] of WRITES.filter(([f]) => !/Create|\(id\)|iid/.test(f))) {
        const { res } = await run(query, { i: input(v) });
        expect({ field, codes: res.body.errors?.map((e) => e.extensions?.code) }).toEqual({
          field,
          codes: ['BAD_USER_INPUT'],
        });
        expect(t.upstream.writes()).toEqual([]);
      }
      const read = await run(READS[0]![1], { v });
      expect(read.res.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(read.strays).toEqual([]);
    },
  );

  it('stores a hostile note body verbatim, as data, in the one merge request it names', async () => {
    const body = 'x\r\nX-Injected: yes\u0000 ../../101 %2F <script>';
    const { res, strays } = await run(
      'mutation($i: MergeRequestNoteCreateInput!) { mergeRequestNoteCreate(input: $i) { note { body } errors } }',
      { i: { projectPath: OWN, iid: '1', body } },
    );
    expect(strays).toEqual([]);
    expect(res.body.data).toEqual({ mergeRequestNoteCreate: { note: { body }, errors: [] } });
    expect(t.upstream.writes().map((w) => w.path)).toEqual([
      `/api/v4/projects/${ownId}/merge_requests/1/notes`,
    ]);
  });

  it.each(BAD_PATHS)(
    'answers a fullPath with %s as no project, with no stray upstream call',
    async (_what, p) => {
      const { res, strays } = await run('query($p: ID!) { project(fullPath: $p) { fullPath } }', {
        p,
      });
      expect(strays.filter((s) => !s.includes(': project '))).toEqual([]);
      expect(t.upstream.requests).toEqual([]);
      expect(res.body).toEqual({ data: { project: null } });
    },
  );

  it.each(BAD_PATHS)('refuses a write to a projectPath with %s as NOT_FOUND', async (_what, p) => {
    const { res } = await run('mutation($i: TagCreateInput!) { tagCreate(input: $i) { errors } }', {
      i: { projectPath: p, name: 'v-bad-path', ref: 'main' },
    });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    expect(t.upstream.requests).toEqual([]);
  });
});

/**
 * A misbehaving forge, end to end: every resource route (and `GET /projects/:id`) answered with
 * an error status, too slowly, with a reset connection, with a body that is not JSON or one far
 * too large. Each case must give the right `extensions.code`, must not leak the upstream's
 * address or credentials or the caller's token, and must leave the gateway answering.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/demo/http-server.js';
import { defaultSeedPath, loadSeedFile } from '../../src/demo/seed.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';

const WEB = 'acme/apps/web';
/** Short upstream timeout of the gateway that sees the delay faults. */
const TIMEOUT_MS = 500;
const NO_PROJECT_CACHE = { projectCache: { size: 0, ttlMs: 0 } };

/** A resource route: the upstream path it calls and a query that reaches it. */
interface RouteCase {
  readonly name: string;
  /** Decoded upstream path after `/api/v4`. */
  readonly path: string;
  readonly query: string;
  /** Single-object look-ups answer a 404 with null (no error), as the forge's GraphQL does. */
  readonly notFoundIsNull: boolean;
}

const ROUTES: readonly RouteCase[] = [
  {
    name: 'GET /projects/:id',
    path: `/projects/${WEB}`,
    query: `{ project(fullPath: "${WEB}") { name } }`,
    notFoundIsNull: true,
  },
  {
    name: 'releases',
    path: '/projects/102/releases',
    query: `{ project(fullPath: "${WEB}") { releases(first: 5) { nodes { tagName } } } }`,
    notFoundIsNull: false,
  },
  {
    name: 'one release',
    path: '/projects/102/releases/v1.29.0',
    query: `{ project(fullPath: "${WEB}") { release(tagName: "v1.29.0") { tagName } } }`,
    notFoundIsNull: true,
  },
  {
    name: 'repository tags',
    path: '/projects/102/repository/tags',
    query: `{ project(fullPath: "${WEB}") { tags(search: "v1") { nodes { name } } } }`,
    notFoundIsNull: false,
  },
  {
    name: 'container repositories',
    path: '/projects/102/registry/repositories',
    query: `{ project(fullPath: "${WEB}") { containerRepositories { nodes { name } } } }`,
    notFoundIsNull: false,
  },
  {
    name: 'container image tags',
    path: '/projects/102/registry/repositories/303/tags',
    query: `{ project(fullPath: "${WEB}") { containerRepositories { nodes { tags { nodes { name } } } } } }`,
    notFoundIsNull: false,
  },
  {
    name: 'merge request',
    path: '/projects/102/merge_requests/1',
    query: `{ project(fullPath: "${WEB}") { mergeRequest(iid: "1") { title } } }`,
    notFoundIsNull: true,
  },
  {
    name: 'merge request notes',
    path: '/projects/102/merge_requests/1/notes',
    query: `{ project(fullPath: "${WEB}") { mergeRequest(iid: "1") { notes { nodes { body } } } } }`,
    notFoundIsNull: false,
  },
];

/** A fault and the code it must produce (`null`: data null, no error). */
interface FaultCase {
  readonly name: string;
  readonly fault: Omit<FaultRule, 'path'>;
  readonly code: (route: RouteCase) => string | null;
}

const FAULTS: readonly FaultCase[] = [
  {
    name: '404',
    fault: { kind: 'status', status: 404 },
    code: (r) => (r.notFoundIsNull ? null : 'NOT_FOUND'),
  },
  { name: '500', fault: { kind: 'status', status: 500 }, code: () => 'UPSTREAM_ERROR' },
  {
    name: '500 with a body naming the upstream',
    fault: { kind: 'status', status: 500, body: 'PLACEHOLDER' },
    code: () => 'UPSTREAM_ERROR',
  },
  { name: '503', fault: { kind: 'status', status: 503 }, code: () => 'UPSTREAM_UNAVAILABLE' },
  {
    name: '401 (service credential refused)',
    fault: { kind: 'status', status: 401 },
    code: () => 'UPSTREAM_ERROR',
  },
  {
    name: 'a delay beyond the timeout',
    fault: { kind: 'delay', delayMs: TIMEOUT_MS * 4 },
    code: () => 'UPSTREAM_UNAVAILABLE',
  },
  { name: 'malformed JSON', fault: { kind: 'garbage' }, code: () => 'UPSTREAM_ERROR' },
  { name: 'a huge body', fault: { kind: 'huge' }, code: () => 'UPSTREAM_ERROR' },
  { name: 'a connection reset', fault: { kind: 'reset' }, code: () => 'UPSTREAM_UNAVAILABLE' },
];

describe('upstream faults on every resource route', () => {
  // Two gateways in front of one upstream: `t` with the short timeout for the delay faults,
  // `tolerant` with the default one for the others, so a loaded test machine cannot turn a
  // slow-but-fine answer (a 10 MB body read) into a timeout.
  let t: TestGateway;
  let token: string;
  let tolerant: TestGateway;
  let tolerantToken: string;
  let secrets: string[];
  beforeAll(async () => {
    const seed = loadSeedFile(defaultSeedPath());
    // Every request must reach every route here, `GET /projects/:id` included: the process's
    // project cache is off (what it changes is tested in test/upstream/project-cache.test.ts).
    t = await createTestGateway({ seed, upstreamTimeoutMs: TIMEOUT_MS, gateway: NO_PROJECT_CACHE });
    tolerant = await createTestGateway({ seed, upstream: t.upstream, gateway: NO_PROJECT_CACHE });
    token = await t.jobToken(WEB, 'bob');
    tolerantToken = await tolerant.jobToken(WEB, 'bob');
    const origin = new URL(t.upstream.url);
    secrets = [
      t.upstream.url,
      origin.host,
      `:${t.upstream.port}`,
      '/api/v4',
      t.upstream.token,
      token,
      tolerantToken,
    ];
  });
  afterEach(() => t.upstream.clearFaults());
  afterAll(async () => {
    await tolerant.close();
    await t.close();
  });

  /** Asserts that the raw response text names no upstream address and carries no token. */
  function expectNoLeak(res: GqlResponse<unknown>): void {
    for (const s of secrets) expect(res.text).not.toContain(s);
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  }

  async function expectStillAnswering(gw = t, tok = token): Promise<void> {
    const res = await gw.gql<{ project: { releases: { nodes: unknown[] } } }>(
      `{ project(fullPath: "${WEB}") { name releases(first: 2) { nodes { tagName } } } }`,
      {},
      { token: tok },
    );
    expect(res.body.errors, res.text).toBeUndefined();
    expect(res.body.data?.project.releases.nodes).toHaveLength(2);
  }

  for (const route of ROUTES) {
    for (const f of FAULTS) {
      const expected = f.code(route);
      it(`answers ${expected ?? 'null without an error'} for ${f.name} on ${route.name}, leaking nothing`, async () => {
        const body = f.fault.body === 'PLACEHOLDER' ? `error at ${t.upstream.url}` : f.fault.body;
        const [gw, tok] = f.fault.kind === 'delay' ? [t, token] : [tolerant, tolerantToken];
        t.upstream.injectFault({ ...f.fault, body, method: 'GET', path: route.path });
        const res = await gw.gql(route.query, {}, { token: tok });
        expect(res.status).toBe(200);
        expectNoLeak(res);
        if (expected === null) {
          expect(res.body.errors, res.text).toBeUndefined();
          expect(JSON.stringify(res.body.data)).toContain('null');
        } else {
          expect(
            res.body.errors?.map((e) => e.extensions?.code),
            res.text,
          ).toEqual([expected]);
          expect(res.body.errors?.[0]?.extensions).toEqual({ code: expected });
        }
        t.upstream.clearFaults();
        await expectStillAnswering(gw, tok);
      });
    }
  }

  it('never forwards the caller token upstream and always sends the service PRIVATE-TOKEN', async () => {
    t.upstream.clearRequests();
    const query = `{ project(fullPath: "${WEB}") { releases(first: 1) { nodes { tagName } } mergeRequest(iid: "1") { notes { nodes { body } } } } }`;
    const viaBearer = await t.gql(query, {}, { token });
    const viaJobToken = await t.gql(query, {}, { headers: { 'job-token': token } });
    expect(viaBearer.body.errors).toBeUndefined();
    expect(viaJobToken.body.errors).toBeUndefined();
    expect(t.upstream.requests.length).toBeGreaterThan(3);
    for (const r of t.upstream.requests) {
      expect(r.headers).not.toHaveProperty('authorization');
      expect(r.headers).not.toHaveProperty('job-token');
      expect(JSON.stringify(r.headers)).not.toContain(token);
      expect(r.headers['private-token']).toBe('[redacted]');
      expect(r.privateTokenOk).toBe(true);
    }
  });

  it('masks an unexpected thrown error as INTERNAL_SERVER_ERROR without message detail or stack', async () => {
    // A 200 list whose items are not objects makes the resolver itself throw a TypeError.
    t.upstream.injectFault({
      method: 'GET',
      path: '/projects/102/releases',
      kind: 'status',
      status: 200,
      body: [null],
    });
    const res = await t.gql(
      `{ project(fullPath: "${WEB}") { name releases { nodes { tagName } } } }`,
      {},
      { token },
    );
    expect(res.body.errors).toEqual([
      {
        message: 'internal server error',
        locations: [{ line: 1, column: 45 }],
        path: ['project', 'releases'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(res.body.data).toEqual({ project: { name: 'Web', releases: null } });
    expect(res.text).not.toMatch(/TypeError|stacktrace|tag_name|\.ts:\d+/);
    expectNoLeak(res);
    t.upstream.clearFaults();
    await expectStillAnswering();
  });
});

describe('upstream faults during mutations', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await createTestGateway({
      seed: loadSeedFile(defaultSeedPath()),
      upstreamTimeoutMs: TIMEOUT_MS,
      gateway: NO_PROJECT_CACHE,
    });
    token = await t.jobToken(WEB, 'bob');
  });
  afterEach(() => t.upstream.clearFaults());
  afterAll(async () => t.close());

  it('writes nothing when the target project cannot be loaded', async () => {
    t.upstream.injectFault({
      method: 'GET',
      path: `/projects/${WEB}`,
      kind: 'status',
      status: 500,
    });
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v9.1.0", ref: "main" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UPSTREAM_ERROR' });
    expect(res.body.data).toEqual({ releaseCreate: null });
    expect(t.upstream.writes()).toEqual([]);
  });

  it('does not delete a tag whose look-up timed out', async () => {
    t.upstream.injectFault({
      method: 'GET',
      path: '/projects/102/repository/tags/v1.0.0',
      kind: 'delay',
      delayMs: TIMEOUT_MS * 4,
    });
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { tagDelete(input: { projectPath: "${WEB}", name: "v1.0.0" }) { tag { name } errors } }`,
      {},
      { token },
    );
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(t.upstream.writes()).toEqual([]);
    expect(t.upstream.store.tag(102, 'v1.0.0')).toBeDefined();
  });

  it('does not post a note when the merge request look-up is reset', async () => {
    t.upstream.injectFault({
      method: 'GET',
      path: '/projects/102/merge_requests/1',
      kind: 'reset',
    });
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { mergeRequestNoteCreate(input: { projectPath: "${WEB}", iid: "1", body: "hi" }) { errors } }`,
      {},
      { token },
    );
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(t.upstream.writes()).toEqual([]);
  });

  it('deletes no container image tag when a tag look-up fails', async () => {
    const names = t.upstream.store.containerRepository(102, 303)?.tags.map((x) => x.name) ?? [];
    expect(names.length).toBeGreaterThan(1);
    t.upstream.injectFault({
      method: 'GET',
      path: `/projects/102/registry/repositories/303/tags/${names[1]}`,
      kind: 'garbage',
    });
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation($names: [String!]!) { containerRepositoryTagsDelete(input: { projectPath: "${WEB}", id: "303", tagNames: $names }) { deletedTagNames errors } }`,
      { names },
      { token },
    );
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UPSTREAM_ERROR' });
    expect(t.upstream.writes()).toEqual([]);
  });

  it('reports a failed write as UPSTREAM_ERROR without detail and keeps answering', async () => {
    t.upstream.injectFault({
      method: 'POST',
      path: '/projects/102/releases',
      kind: 'status',
      status: 500,
      body: { message: `database at ${t.upstream.url} is down` },
    });
    const res = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v9.2.0", ref: "main" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(res.body.errors?.[0]).toMatchObject({
      message: 'the forge API returned an unexpected response',
      extensions: { code: 'UPSTREAM_ERROR' },
    });
    expect(res.text).not.toContain(t.upstream.url);
    expect(t.upstream.store.release(102, 'v9.2.0')).toBeUndefined();
    t.upstream.clearFaults();
    const again = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${WEB}", tagName: "v9.2.0", ref: "main" }) { release { tagName } errors } }`,
      {},
      { token },
    );
    expect(again.body.errors).toBeUndefined();
    expect(t.upstream.store.release(102, 'v9.2.0')).toBeDefined();
  });
});

/**
 * Request protection end to end: each document limit rejects one step past it with its code and
 * HTTP 400 (and no upstream call), a query exactly at the limit passes, anonymous callers get no
 * introspection outside the demo, and errors suggest no field names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createCursorCodec } from '../../src/upstream/pagination.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimitOptions } from '../../src/server/limits.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const WEB = 'acme/apps/web';

let upstream: DemoUpstream;
const gateways: TestGateway[] = [];

async function gatewayWith(
  limits: RequestLimitOptions,
  anonymousIntrospection = false,
): Promise<TestGateway> {
  const t = await createTestGateway({ upstream, gateway: { limits, anonymousIntrospection } });
  gateways.push(t);
  return t;
}

beforeAll(async () => {
  upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterAll(async () => {
  for (const t of gateways) await t.close();
  await upstream.close();
});

function expectRejected(res: GqlResponse, code: string, message: RegExp): void {
  expect(res.status).toBe(400);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
  expect(res.body.errors?.[0]?.message).toMatch(message);
}

/** Sends `query` as a signed-in caller and reports whether the upstream was called. */
async function send(
  t: TestGateway,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResponse & { calls: number }> {
  const token = await t.jobToken(WEB, 'alice');
  upstream.clearRequests();
  const res = await t.gql(query, variables, { token });
  return { ...res, calls: upstream.requests.length };
}

describe('document limits', () => {
  it('passes a query exactly at the depth limit and rejects one level deeper', async () => {
    const t = await gatewayWith({ maxDepth: 4 });
    const at = await send(t, `{ project(fullPath: "${WEB}") { releases { nodes { tagName } } } }`);
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    const over = await send(
      t,
      `{ project(fullPath: "${WEB}") { releases { edges { node { tagName } } } } }`,
    );
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Query depth limit of 4 exceeded, found 5/);
    expect(over.calls).toBe(0);
  });

  it('counts depth through fragments', async () => {
    const t = await gatewayWith({ maxDepth: 4 });
    const over = await send(
      t,
      `{ project(fullPath: "${WEB}") { ...P } } fragment P on Project { releases { edges { node { tagName } } } }`,
    );
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /depth limit of 4 exceeded/);
  });

  it('passes a query exactly at the alias limit and rejects one more alias', async () => {
    const t = await gatewayWith({ maxAliases: 3 });
    const aliases = (n: number) =>
      Array.from({ length: n }, (_, i) => `p${i}: project(fullPath: "${WEB}") { name }`).join(' ');
    const at = await send(t, `{ ${aliases(3)} }`);
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    const over = await send(t, `{ ${aliases(4)} }`);
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Aliases limit of 3 exceeded, found 4/);
    expect(over.calls).toBe(0);
  });

  it('passes a document exactly at the token limit and stops parsing one token later', async () => {
    const t = await gatewayWith({ maxTokens: 40 });
    // `{`, k × `__typename`, `}`: k + 2 tokens.
    const typenames = (k: number) =>
      `{ ${Array.from({ length: k }, () => '__typename').join(' ')} }`;
    const at = await send(t, typenames(38));
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    const over = await send(t, typenames(39));
    expectRejected(over, 'GRAPHQL_PARSE_FAILED', /more tha[nt] 40 tokens/);
    expect(over.calls).toBe(0);
  });

  it('passes a query exactly at the cost limit and rejects one field more', async () => {
    const t = await gatewayWith({ maxCost: 20 });
    // project: object 2 + 1.5 per scalar child, so k names cost 2 + 1.5k (12 → 20).
    const names = (k: number) =>
      `{ project(fullPath: "${WEB}") { ${Array.from({ length: k }, () => 'name').join(' ')} } }`;
    const at = await send(t, names(12));
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    const over = await send(t, names(13));
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 20 exceeded/);
    expect(over.calls).toBe(0);
  });

  it('multiplies a list field by its `first` when costing it', async () => {
    const t = await gatewayWith({ maxCost: 100 });
    const q = (first: number) =>
      `{ project(fullPath: "${WEB}") { releases(first: ${first}) { nodes { tagName } } } }`;
    expect((await send(t, q(5))).status).toBe(200);
    expectRejected(await send(t, q(50)), 'GRAPHQL_VALIDATION_FAILED', /Cost limit of 100/);
  });

  it('uses defaults that let the demo banner query through', async () => {
    expect(DEFAULT_REQUEST_LIMITS).toEqual({
      maxDepth: 12,
      maxAliases: 30,
      maxTokens: 2000,
      maxCost: 10_000,
      maxPages: 100,
    });
    const t = await gatewayWith({});
    const res = await send(
      t,
      `{ project(fullPath: "${WEB}") { jobTokenPermissions { resource level reason explanation } releases { nodes { tagName name } } } }`,
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it('refuses a limit that is not a positive integer at start-up', async () => {
    await expect(
      createTestGateway({ upstream, gateway: { limits: { maxDepth: 0 } } }),
    ).rejects.toThrow('"maxDepth" must be a positive integer');
  });
});

describe('cost of list sizes given as variables', () => {
  // Two nested lists: with 100 each, about 245 000 against the default limit of 10 000.
  const nested = (repos: string, tags: string, head = '') =>
    `query${head} { project(fullPath: "${WEB}") { containerRepositories(first: ${repos}) { nodes { tags(first: ${tags}) { nodes { name } } } } } }`;

  it('rejects a variable `first` with the same answer as its literal twin, before any upstream call', async () => {
    const t = await gatewayWith({});
    const literal = await send(t, nested('100', '100'));
    expectRejected(literal, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 10000 exceeded/);
    const variable = await send(t, nested('$n', '$n', '($n: Int)'), { n: 100 });
    expect(variable.status).toBe(literal.status);
    expect(variable.body).toEqual(literal.body);
    expect(variable.calls).toBe(0);
  });

  it('counts each variable with its own value', async () => {
    const t = await gatewayWith({});
    const head = '($repos: Int, $tags: Int)';
    const literal = await send(t, nested('50', '2'));
    expect(literal.status).toBe(200);
    const cheap = await send(t, nested('$repos', '$tags', head), { repos: 50, tags: 2 });
    expect(cheap.status).toBe(200);
    expect(cheap.body).toEqual(literal.body);
    const over = await send(t, nested('$repos', '$tags', head), { repos: 5, tags: 100 });
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 10000 exceeded/);
    expect(over.calls).toBe(0);
  });

  it('passes a cheap variable `first` and rejects one past the limit, as with literals', async () => {
    const t = await gatewayWith({ maxCost: 100 });
    const q =
      'query($n: Int) { project(fullPath: "acme/apps/web") { releases(first: $n) { nodes { tagName } } } }';
    const cheap = await send(t, q, { n: 5 });
    expect(cheap.status).toBe(200);
    expect(cheap.body.errors).toBeUndefined();
    const over = await send(t, q, { n: 50 });
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 100 exceeded/);
    expect(over.calls).toBe(0);
  });

  it('counts the default of a variable definition when the variable is not sent', async () => {
    const t = await gatewayWith({});
    const res = await send(t, nested('$n', '$n', '($n: Int = 100)'));
    expectRejected(res, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 10000 exceeded/);
    expect(res.calls).toBe(0);
  });

  it('counts a variable `first` inside a fragment', async () => {
    const t = await gatewayWith({});
    const res = await send(
      t,
      `query($n: Int) { project(fullPath: "${WEB}") { ...Repos } }
       fragment Repos on Project { containerRepositories(first: $n) { nodes { ...Tags } } }
       fragment Tags on ContainerRepository { tags(first: $n) { nodes { name } } }`,
      { n: 100 },
    );
    expectRejected(res, 'GRAPHQL_VALIDATION_FAILED', /^Query Cost limit of 10000 exceeded/);
    expect(res.calls).toBe(0);
  });

  it('costs a variable that is not sent as the omitted argument, as graphql-js executes it', async () => {
    const t = await gatewayWith({});
    const omitted = await send(
      t,
      `{ project(fullPath: "${WEB}") { containerRepositories { nodes { tags { nodes { name } } } } } }`,
    );
    expect(omitted.status).toBe(200);
    const absent = await send(t, nested('$n', '$n', '($n: Int)'));
    expect(absent.status).toBe(200);
    expect(absent.body).toEqual(omitted.body);
  });

  it('refuses a variable `first` above the page maximum as it refuses the literal', async () => {
    const t = await gatewayWith({});
    const q = (first: string, head = '') =>
      `query${head} { project(fullPath: "${WEB}") { releases(first: ${first}) { nodes { tagName } } } }`;
    const literal = await send(t, q('101'));
    expect(literal.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(literal.body.errors?.[0]?.message).toBe('"first" must be between 0 and 100');
    const variable = await send(t, q('$n', '($n: Int)'), { n: 101 });
    expect(variable.status).toBe(literal.status);
    expect(variable.body.data).toEqual(literal.body.data);
    const error = literal.body.errors?.[0];
    expect(variable.body.errors).toEqual([
      expect.objectContaining({
        message: error?.message,
        path: error?.path,
        extensions: error?.extensions,
      }),
    ]);
  });
});

describe('list pages per operation', () => {
  // graphql-armor's cost counts an omitted `first` as one item, while the resolver serves 20:
  // the page count is what bounds the forge calls, omitted `first` included.
  const repoTags = (repos = '', tags = '') =>
    `containerRepositories${repos} { nodes { name tags${tags} { nodes { name } } } }`;
  const query = (body: string, head = '') =>
    `query${head} { project(fullPath: "${WEB}") { ${body} } }`;

  it('counts an omitted `first` as the 20 items served, and refuses before any upstream call', async () => {
    const t = await gatewayWith({ maxPages: 21 });
    // 1 page of repositories + 20 repositories x 1 page of tags.
    const at = await send(t, query(repoTags()));
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    expect(at.calls).toBeGreaterThan(0);
    const over = await send(t, query(`${repoTags()} releases { nodes { tagName } }`));
    expectRejected(
      over,
      'GRAPHQL_VALIDATION_FAILED',
      /^Query asks for up to 22 list pages, over the limit of 21\.$/,
    );
    expect(over.body.errors?.[0]?.extensions?.limit).toBe(true);
    expect(over.calls).toBe(0);
  });

  it('refuses aliases of nested default lists that the cost limit lets through', async () => {
    const t = await gatewayWith({});
    const many = Array.from({ length: 29 }, (_, i) => `r${i}: ${repoTags()}`).join(' ');
    const res = await send(t, query(many));
    // 29 x (1 + 20) pages; graphql-armor's cost for the same document is far under 5 000.
    expectRejected(res, 'GRAPHQL_VALIDATION_FAILED', /up to 609 list pages, over the limit of 100/);
    expect(res.calls).toBe(0);
  });

  it('counts `first` as sent: literal, variable, variable default, null and 0', async () => {
    const t = await gatewayWith({ maxPages: 6 });
    const head = '($r: Int, $t: Int)';
    // 1 + 5 x 1 = 6 pages: at the limit, literal and variable alike.
    expect((await send(t, query(repoTags('(first: 5)')))).status).toBe(200);
    expect(
      (await send(t, query(repoTags('(first: $r)', '(first: $t)'), head), { r: 5 })).status,
    ).toBe(200);
    // 1 + 6 pages, or 1 + 20 when `first` is null or not sent: over.
    const one = '($r: Int)';
    for (const [body, vars, vhead] of [
      [repoTags('(first: 6)'), {}, ''],
      [repoTags('(first: $r)', '(first: $t)'), { r: 6, t: 3 }, head],
      [repoTags('(first: null)'), {}, ''],
      [repoTags('(first: $r)'), {}, one],
      [repoTags('(first: $r)'), { r: null }, one],
    ] as const) {
      const res = await send(t, query(body, vhead), vars);
      expectRejected(res, 'GRAPHQL_VALIDATION_FAILED', /list pages, over the limit of 6/);
      expect(res.calls).toBe(0);
    }
    const withDefault = await send(t, query(repoTags('(first: $r)'), '($r: Int = 5)'));
    expect(withDefault.status).toBe(200);
    // `first: 0` asks for nothing: no page at all, whatever is nested under it.
    const none = await send(t, query(`a: ${repoTags('(first: 0)')} b: ${repoTags('(first: 5)')}`));
    expect(none.status).toBe(200);
  });

  it('counts a page that starts after a cursor as two (it may span two forge pages)', async () => {
    const t = await gatewayWith({ maxPages: 3 });
    // A cursor of this gateway (its key comes from the upstream credential).
    const after = createCursorCodec(t.upstream.token).encode(0);
    const page = (from: string) => `releases(first: 2${from}) { nodes { tagName } }`;
    // 2 + 1 pages: at the limit.
    const at = await send(t, query(`a: ${page(`, after: "${after}"`)} b: ${page('')}`));
    expect(at.status).toBe(200);
    expect(at.body.errors).toBeUndefined();
    // 2 + 2 pages, literal or variable cursor.
    const over = await send(
      t,
      query(`a: ${page(`, after: "${after}"`)} b: ${page(', after: $c')}`, '($c: String)'),
      { c: after },
    );
    expectRejected(over, 'GRAPHQL_VALIDATION_FAILED', /^Query asks for up to 4 list pages/);
    expect(over.calls).toBe(0);
    // An empty cursor is no cursor (as `paginate` reads it): 1 + 2 is at the limit again.
    const empty = await send(
      t,
      query(`a: ${page(', after: ""')} b: ${page(', after: $c')}`, '($c: String)'),
      { c: after },
    );
    expect(empty.status).toBe(200);
    expect(empty.body.errors).toBeUndefined();
    // A cursor variable that is not sent is no cursor: 2 + 1 again.
    const unsent = await send(
      t,
      query(`a: ${page(`, after: "${after}"`)} b: ${page(', after: $c')}`, '($c: String)'),
    );
    expect(unsent.status).toBe(200);
  });

  it('counts pages through fragments, and a fragment reused 2^29 times in linear time', async () => {
    const t = await gatewayWith({});
    const viaFragments = await send(
      t,
      `{ project(fullPath: "${WEB}") { ...Repos } }
       fragment Repos on Project { a: containerRepositories { nodes { ...Tags } } b: containerRepositories { nodes { ...Tags } } ... on Project { c: containerRepositories { nodes { ...Tags } } } }
       fragment Tags on ContainerRepository { x: tags { nodes { name } } y: tags { nodes { name } } }`,
    );
    // 3 x (1 + 20 x 2) = 123 pages.
    expectRejected(viaFragments, 'GRAPHQL_VALIDATION_FAILED', /up to 123 list pages/);
    expect(viaFragments.calls).toBe(0);
    let doc = `{ project(fullPath: "${WEB}") { ...F1 } }\n`;
    for (let i = 1; i < 30; i += 1)
      doc += `fragment F${i} on Project { ...F${i + 1} ...F${i + 1} }\n`;
    doc += 'fragment F30 on Project { releases(first: 1) { nodes { tagName } } }';
    const huge = await send(t, doc);
    expect(huge.status).toBe(400);
    expect(huge.calls).toBe(0);
  });

  it('counts a list repeated through fragments once, as it runs, and aliased copies apart', async () => {
    const t = await gatewayWith({ maxPages: 21 });
    const repos = (tags: string) =>
      `containerRepositories(first: 20) { nodes { name tags(first: 2) { nodes { ${tags} } } } }`;
    // Written twice (42 pages as written), run once: 1 + 20 pages, at the limit.
    const merged = await send(
      t,
      `{ project(fullPath: "${WEB}") { ...A ...B } }
       fragment A on Project { ${repos('name')} }
       fragment B on Project { ${repos('location')} }`,
    );
    expect(merged.status).toBe(200);
    expect(merged.body.errors).toBeUndefined();
    const aliased = await send(t, query(`a: ${repos('name')} b: ${repos('name')}`));
    expectRejected(aliased, 'GRAPHQL_VALIDATION_FAILED', /^Query asks for up to 42 list pages/);
    expect(aliased.calls).toBe(0);
  });

  it('never makes more list calls than it counted', async () => {
    const t = await gatewayWith({});
    const body = `${repoTags()} releases { nodes { tagName } } tags { nodes { name } } mergeRequest(iid: "1") { notes { nodes { body } } }`;
    const res = await send(t, query(body));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const listCalls = upstream.requests.filter((r) =>
      /\/(releases|repository\/tags|registry\/repositories|tags|notes)(\?|$)/.test(r.path),
    ).length;
    expect(listCalls).toBeGreaterThan(3);
    expect(listCalls).toBeLessThanOrEqual(1 + 20 + 1 + 1 + 1);
  });
});

describe('introspection and schema details', () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';

  it('refuses introspection to an anonymous caller with GRAPHQL_VALIDATION_FAILED', async () => {
    const t = await gatewayWith({});
    const res = await t.gql(INTROSPECT);
    expectRejected(res, 'GRAPHQL_VALIDATION_FAILED', /introspection needs a signed-in caller/);
    const type = await t.gql('{ q: __type(name: "Project") { name } }');
    expectRejected(type, 'GRAPHQL_VALIDATION_FAILED', /introspection/);
  });

  it('still answers __typename to an anonymous caller', async () => {
    const t = await gatewayWith({});
    const res = await t.gql('{ __typename }');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ __typename: 'Query' });
  });

  it('allows introspection to a signed-in caller', async () => {
    const t = await gatewayWith({});
    const res = await send(t, INTROSPECT);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('allows anonymous introspection when configured (the demo)', async () => {
    const t = await gatewayWith({}, true);
    const res = await t.gql(INTROSPECT);
    expect(res.status).toBe(200);
  });

  it('names no field in a validation error (no "Did you mean")', async () => {
    const t = await gatewayWith({});
    const res = await send(t, `{ project(fullPath: "${WEB}") { nam } }`);
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.text).not.toMatch(/Did you mean/);
    expect(res.text).not.toMatch(/"name"/);
  });

  it('refuses a batched request', async () => {
    const t = await gatewayWith({});
    const res = await fetch(t.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/batch/i);
  });
});

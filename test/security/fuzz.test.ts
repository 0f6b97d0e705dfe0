/**
 * Fuzzing the running gateway with fast-check (bounded: 200 runs in all). Documents are built
 * from `schema.graphql` (every guarded path, in every shape, on projects the job may and may
 * not read), then some are mangled (characters dropped or inserted, directives, introspection,
 * variables of the wrong type), and some bodies are not GraphQL at all. Whatever arrives, the
 * gateway answers below 500 (its only designed 5xx is the POLICY_UNAVAILABLE 503, and this
 * gateway's store is in memory), returns no identifying byte of data the policy denies, writes
 * nothing upstream (the token may only read), and still answers a normal query afterwards.
 */
import fc from 'fast-check';
import { isInputObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { forbiddenMarkers } from './markers.js';
import { SHAPES, guardedMutations, guardedPaths, loadSchema, renderQuery } from './schema-paths.js';

const SOURCE = 'acme/apps/web';
/** Releases READ for the job. */
const A = 'acme/platform/registry';
/** Invisible, and visible with every level NONE. */
const FORBIDDEN = ['globex/portal', 'acme/apps/api'] as const;

const schema = loadSchema();
const PATHS = guardedPaths(schema);
const MUTATIONS = guardedMutations(schema);

/** Fragments of GraphQL syntax worth splicing into a document. */
const SPLICES = [
  '{',
  '}',
  '(',
  ')',
  '$',
  '...',
  ':',
  '"',
  '\\u0000',
  ' @skip(if: true) ',
  ' @include(if: $b) ',
  ' __typename ',
  ' __schema { types { name } } ',
  ' ... on Release { name } ',
  ' project(fullPath: $b) { releases { nodes { name } } } ',
  ' fragment X on Project { name } ',
  ' mutation ',
  ' subscription ',
  '\n# comment\n',
  '\r\n',
  '\u{1F600}',
];

/** A variable value of any JSON shape, or a project path. */
const variableValue = fc.oneof(
  fc.constantFrom<unknown>(A, ...FORBIDDEN, '', '../', 'acme%2Fapps%2Fweb', null),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A document from the schema, maybe mangled, with its variables. */
const documentRequest = fc
  .record({
    kind: fc.constantFrom('query', 'mutation'),
    pathIndex: fc.nat({ max: PATHS.length - 1 }),
    mutationIndex: fc.nat({ max: MUTATIONS.length - 1 }),
    shape: fc.constantFrom(...SHAPES),
    a: fc.constantFrom<string>(A, ...FORBIDDEN),
    b: fc.constantFrom<string>(A, ...FORBIDDEN),
    // Two documents in three are left intact, so that many reach the resolvers.
    mangles: fc.oneof(
      { arbitrary: fc.constant([]), weight: 2 },
      {
        arbitrary: fc.array(
          fc.record({
            at: fc.nat(),
            drop: fc.nat({ max: 3 }),
            insert: fc.oneof(fc.constantFrom(...SPLICES), fc.string({ maxLength: 4 })),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        weight: 1,
      },
    ),
    variables: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      { arbitrary: fc.record({ a: variableValue, b: variableValue }), weight: 1 },
      {
        arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), variableValue, { maxKeys: 3 }),
        weight: 1,
      },
    ),
    input: fc.record(
      {
        projectPath: fc.constantFrom<unknown>(A, ...FORBIDDEN, 42, null, ['x']),
        tagName: fc.oneof(fc.string({ maxLength: 12 }), fc.constant('v1.0.0')),
        name: fc.string({ maxLength: 12 }),
        ref: fc.constantFrom<unknown>('main', '', 7),
        id: fc.constantFrom<unknown>('301', 'gid://gitlab/ContainerRepository/301', '../1', -1),
        tagNames: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
        iid: fc.constantFrom<unknown>('1', '0', '1/../2', 1e20),
        body: fc.string({ maxLength: 20 }),
      },
      { requiredKeys: ['projectPath'] },
    ),
    /** Rarely: keep fields the input type does not define. */
    extraFields: fc.oneof(
      { arbitrary: fc.constant(false), weight: 4 },
      { arbitrary: fc.constant(true), weight: 1 },
    ),
  })
  .map((r) => {
    let query =
      r.kind === 'query'
        ? renderQuery(PATHS[r.pathIndex] ?? PATHS[0]!, r.shape, [
            ['a', 'a'],
            ['b', 'b'],
          ])
        : (MUTATIONS[r.mutationIndex] ?? MUTATIONS[0]!).document;
    for (const m of r.mangles) {
      const at = m.at % (query.length + 1);
      query = query.slice(0, at) + m.insert + query.slice(at + m.drop);
    }
    const mutation = MUTATIONS[r.mutationIndex] ?? MUTATIONS[0]!;
    const inputType = schema.getType(mutation.inputType);
    const known = isInputObjectType(inputType) ? Object.keys(inputType.getFields()) : [];
    const input = r.extraFields
      ? r.input
      : Object.fromEntries(Object.entries(r.input).filter(([k]) => known.includes(k)));
    const variables = r.kind === 'mutation' ? { input } : (r.variables ?? { a: r.a, b: r.b });
    return { body: JSON.stringify({ query, variables }), contentType: 'application/json' };
  });

/** A body that is not a GraphQL request, or barely one. */
const rawRequest = fc.oneof(
  fc.string({ maxLength: 200 }).map((body) => ({ body, contentType: 'application/json' })),
  fc
    .jsonValue({ maxDepth: 3 })
    .map((v) => ({ body: JSON.stringify(v), contentType: 'application/json' })),
  fc
    .record({ query: fc.jsonValue({ maxDepth: 1 }), variables: fc.jsonValue({ maxDepth: 1 }) })
    .map((v) => ({ body: JSON.stringify(v), contentType: 'application/json' })),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => ({
    body: Buffer.from(bytes).toString('latin1'),
    contentType: 'application/octet-stream',
  })),
  fc.string({ maxLength: 100 }).map((q) => ({ body: `query=${q}`, contentType: 'text/plain' })),
);

describe('fuzzing the running gateway', () => {
  let t: TestGateway;
  let job: string;
  let markers: string[];

  beforeAll(async () => {
    t = await createTestGateway({
      policy: {
        version: 1,
        projects: {
          [A]: {
            enforcement: 'ENFORCED',
            entries: [{ source: SOURCE, kind: 'PROJECT', permissions: { RELEASES: 'READ' } }],
          },
        },
      },
    });
    job = await t.jobToken(SOURCE, 'alice');
    markers = [
      ...FORBIDDEN.flatMap((p) => forbiddenMarkers(t.upstream.store, p)),
      ...forbiddenMarkers(t.upstream.store, A, ['RELEASES']),
    ];
  });
  afterAll(async () => t.close());

  async function send(
    req: { body: string; contentType: string },
    auth: 'job' | 'none' | 'garbage',
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {
      'content-type': req.contentType,
      accept: 'application/graphql-response+json, application/json',
      'apollo-require-preflight': 'true',
    };
    if (auth === 'job') headers['authorization'] = `Bearer ${job}`;
    if (auth === 'garbage') headers['authorization'] = `Bearer ${job.slice(0, -3)}abc`;
    const res = await fetch(t.gateway.graphqlUrl, { method: 'POST', headers, body: req.body });
    return { status: res.status, text: await res.text() };
  }

  it('answers every random document and body below 500, leaks nothing denied, writes nothing, and keeps answering', async () => {
    const statuses = new Map<number, number>();
    t.upstream.clearRequests();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: documentRequest, weight: 3 }, { arbitrary: rawRequest, weight: 1 }),
        fc.constantFrom<'job' | 'none' | 'garbage'>('job', 'job', 'job', 'none', 'garbage'),
        async (req, auth) => {
          const res = await send(req, auth);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, res.text).toBeLessThan(500);
          for (const m of markers) if (res.text.includes(m)) expect.fail(`leaked "${m}"`);
          expect(res.text).not.toContain(t.upstream.token);
          expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
        },
      ),
      {
        numRuns: 200,
        interruptAfterTimeLimit: 18_000,
        seed: Number(process.env['SG_FUZZ_SEED'] ?? Date.now() % 2 ** 31),
      },
    );
    expect(t.upstream.writes()).toEqual([]);
    // It still works: A's releases for the job, nothing else.
    const after = await t.gql<{ project: { releases: { nodes: { name: string }[] } } }>(
      `query($p: ID!) { project(fullPath: $p) { releases { nodes { name } } } }`,
      { p: A },
      { token: job },
    );
    expect(after.status).toBe(200);
    expect(after.body.data?.project.releases.nodes.length).toBeGreaterThan(0);
    expect((await fetch(`${t.gateway.url}/healthz`)).status).toBe(200);
    if (process.env['SG_REPORT']) console.log('fuzz statuses', Object.fromEntries(statuses));
    // Both valid and refused documents were tried.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(5);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
  });
});

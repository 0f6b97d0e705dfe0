/**
 * Generated traversal: every path from `Query.project` to every field a job-token permission
 * guards (read from `schema.graphql`, not written by hand) is tried against projects the job
 * may not read, in every shape (plain, aliases, inline and named fragments, several root
 * fields with the forbidden project first and twice), next to a project it may read. Every
 * guarded mutation is tried on them too. No byte of the forbidden data (every identifying
 * string the upstream holds for those resources) may appear in any response or error text.
 * `e2e/traversal.test.ts` holds the hand-written shapes; this file covers the whole schema,
 * so a field added later is covered without editing a test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, isInputObjectType, isNonNullType } from 'graphql';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { forbiddenMarkers, type Resource } from './markers.js';
import {
  SHAPES,
  guardedMutations,
  guardedPaths,
  loadSchema,
  renderQuery,
  type GuardedPath,
  type Shape,
} from './schema-paths.js';

const SOURCE = 'acme/apps/web';
/** Every resource READ for the job (alice is a Developer there). */
const A = 'acme/platform/registry';
const ALL: readonly Resource[] = ['RELEASES', 'TAGS', 'CONTAINERS', 'MERGE_REQUEST_NOTES'];

/** A project the job may not (fully) read. */
interface Forbidden {
  readonly what: string;
  readonly path: string;
  /** Resources it may read there. */
  readonly allowed: readonly Resource[];
  /** Invisible: `project` is null, with no error and no mention of it. */
  readonly hidden: boolean;
}

const FORBIDDEN: readonly Forbidden[] = [
  { what: 'an invisible project', path: 'globex/portal', allowed: [], hidden: true },
  {
    what: 'a visible project (alice is a Guest) with no allowlist entry',
    path: 'acme/apps/api',
    allowed: [],
    hidden: false,
  },
  {
    what: 'a visible project allowing TAGS READ only',
    path: 'acme/platform/tools/releaser',
    allowed: ['TAGS'],
    hidden: false,
  },
];

const FULL = process.env['SG_TRAVERSAL_FULL'] === '1';
const schema = loadSchema();
const PATHS = guardedPaths(schema);
const MUTATIONS = guardedMutations(schema);

const rootValues = (res: GqlResponse, alias: string): unknown[] => {
  const root = (res.body.data ?? {}) as Record<string, unknown>;
  const value = root[alias];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value)
    .filter(([key]) => key !== '__typename')
    .map(([, v]) => v as unknown);
};

describe('generated traversal of every guarded field', () => {
  let t: TestGateway;
  let job: string;
  const markers = new Map<string, string[]>();

  beforeAll(async () => {
    t = await createTestGateway({
      policy: {
        version: 1,
        projects: {
          [A]: {
            enforcement: 'ENFORCED',
            entries: [
              {
                source: SOURCE,
                kind: 'PROJECT',
                permissions: Object.fromEntries(ALL.map((r) => [r, 'READ'])),
              },
            ],
          },
          'acme/platform/tools/releaser': {
            enforcement: 'ENFORCED',
            entries: [{ source: SOURCE, kind: 'PROJECT', permissions: { TAGS: 'READ' } }],
          },
        },
      },
    });
    job = await t.jobToken(SOURCE, 'alice');
    for (const b of FORBIDDEN)
      markers.set(b.path, forbiddenMarkers(t.upstream.store, b.path, b.allowed));
  });
  afterAll(async () => t.close());

  it('generates a path to every guarded field of the schema, each resource reached', () => {
    expect(PATHS.length).toBeGreaterThan(50);
    expect(new Set(PATHS.flatMap((p) => p.resources))).toEqual(new Set(ALL));
    for (const field of ['releases', 'release', 'tags', 'containerRepositories', 'mergeRequest'])
      expect(PATHS.some((p) => p.steps[0]?.field === field)).toBe(true);
    expect(MUTATIONS.map((m) => m.name).sort()).toEqual(
      [
        'containerRepositoryTagsDelete',
        'mergeRequestNoteCreate',
        'releaseCreate',
        'releaseDelete',
        'releaseUpdate',
        'tagCreate',
        'tagDelete',
      ].sort(),
    );
    // Every forbidden project really has data to leak.
    for (const b of FORBIDDEN) expect(markers.get(b.path)?.length).toBeGreaterThan(5);
  });

  it('accepts the deepest path written with a fragment per level, as in its plain form', async () => {
    const deepest = PATHS.reduce((a, p) => (p.steps.length > a.steps.length ? p : a));
    expect(deepest.steps.length).toBeGreaterThanOrEqual(7);
    for (const shape of SHAPES) {
      const res = await t.gql(renderQuery(deepest, shape, [['a', 'a']]), { a: A }, { token: job });
      expect({ shape, status: res.status, errors: res.body.errors }).toEqual({
        shape,
        status: 200,
        errors: undefined,
      });
    }
  });

  /** Asserts one response for `path` read from B at `bAliases` and from A at `a`. */
  function check(res: GqlResponse, path: GuardedPath, b: Forbidden, bAliases: readonly string[]) {
    const context = `${path.label} on ${b.path}`;
    expect(res.status, context).toBe(200);
    for (const m of markers.get(b.path) ?? []) {
      if (res.text.includes(m)) expect.fail(`${context}: response contains B's "${m}"`);
    }
    // A's data still arrives in the same response: the shape itself works.
    expect(
      rootValues(res, 'a').some((v) => v !== null),
      context,
    ).toBe(true);
    const readable = path.resources.every((r) => b.allowed.includes(r as Resource));
    const bErrors = (res.body.errors ?? []).filter((e) => bAliases.includes(String(e.path?.[0])));
    if (b.hidden) {
      expect(res.text, context).not.toContain(b.path);
      expect(bErrors, context).toEqual([]);
      for (const alias of bAliases) expect((res.body.data ?? {})[alias], context).toBeNull();
    } else if (readable) {
      expect(bErrors, context).toEqual([]);
      for (const alias of bAliases)
        expect(
          rootValues(res, alias).some((v) => v !== null),
          context,
        ).toBe(true);
    } else {
      expect(bErrors.length, context).toBeGreaterThan(0);
      for (const e of bErrors) expect(e.extensions?.code, context).toBe('FORBIDDEN');
      for (const alias of bAliases)
        expect(
          rootValues(res, alias).every((v) => v === null),
          context,
        ).toBe(true);
    }
  }

  describe.each(FORBIDDEN.map((b, index) => ({ ...b, index })))('B is $what', (b) => {
    it(`reveals nothing of B on any generated path, in any shape, next to A's data`, async () => {
      // Each path is tried in two shapes per B (the second with several root fields: B first,
      // then A, then B again), rotating so that the three Bs together try every path in every
      // shape. SG_TRAVERSAL_FULL=1 tries every shape for every B (four times the requests).
      const shapesOf = (i: number): Shape[] =>
        FULL ? [...SHAPES] : [0, 1].map((k) => SHAPES[(i + b.index + k) % SHAPES.length] as Shape);
      const cases = PATHS.flatMap((path, i) =>
        shapesOf(i)
          .flatMap((shape, k) =>
            k % 2 === 0 || FULL
              ? [
                  {
                    path,
                    query: renderQuery(path, shape, [
                      ['a', 'a'],
                      ['b', 'b'],
                    ]),
                    bAliases: ['b'],
                  },
                ]
              : [],
          )
          .concat(
            shapesOf(i)
              .slice(FULL ? 0 : 1)
              .map((shape) => ({
                path,
                query: renderQuery(path, shape, [
                  ['b', 'b'],
                  ['a', 'a'],
                  ['b2', 'b'],
                ]),
                bAliases: ['b', 'b2'],
              })),
          ),
      );
      // A few requests in flight at a time: fast, and still a bounded load.
      const next = cases[Symbol.iterator]();
      const worker = async (): Promise<void> => {
        for (let c = next.next(); !c.done; c = next.next()) {
          const { path, query, bAliases } = c.value;
          check(await t.gql(query, { a: A, b: b.path }, { token: job }), path, b, bAliases);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect(cases.length).toBe(PATHS.length * (FULL ? 2 * SHAPES.length : 2));
    });

    it.each(MUTATIONS)(
      'refuses $name on B before any upstream write, leaking nothing',
      async (m) => {
        const inputType = schema.getType(m.inputType);
        if (!isInputObjectType(inputType)) throw new Error(`${m.inputType} is not an input type`);
        const repoId = t.upstream.store.containerRepositories(b.path)[0]?.id ?? 1;
        const values: Record<string, unknown> = {
          projectPath: b.path,
          tagName: 'v1.0.0',
          name: 'v0.1.0',
          ref: 'main',
          id: String(repoId),
          tagNames: ['latest'],
          iid: '1',
          body: 'generated traversal',
        };
        const input = Object.fromEntries(
          Object.values(inputType.getFields())
            .filter((f) => isNonNullType(f.type))
            .map((f) => [f.name, values[f.name] ?? `x-${getNamedType(f.type).name}`]),
        );
        t.upstream.clearRequests();
        const res = await t.gql(m.document, { input }, { token: job });
        expect(res.status).toBe(200);
        expect(t.upstream.writes()).toEqual([]);
        expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual([
          b.hidden ? 'NOT_FOUND' : 'FORBIDDEN',
        ]);
        for (const marker of markers.get(b.path) ?? []) expect(res.text).not.toContain(marker);
      },
    );
  });
});

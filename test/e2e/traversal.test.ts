/**
 * No query shape reaches data of a project the token may not read (DESIGN.md section 4: the
 * target of every check is the project that owns the data). A job from `acme/apps/web` may
 * read the releases of A and nothing of B; B is tried through aliases, fragments, nested
 * fields, several root fields and variables, and A's data still arrives in the same response.
 * The embedded upstream writes the project path into every generated name and body, so the
 * raw response text is searched for B's markers. Also: type-level guards on mutation
 * payloads, anonymous callers, person tokens, and writes to a public project.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleCapFor } from '../../src/policy/levels.js';
import { RESOURCES } from '../../src/policy/types.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';

/** Readable (releases only) by the job. */
const A = 'acme/platform/registry';
/** Private, the job's user is not a member: invisible to the job. */
const B_HIDDEN = 'globex/portal';
/** Private, the job's user is a Developer, its allowlist is empty: visible, every level NONE. */
const B_VISIBLE = 'acme/platform/tools/releaser';
const PUBLIC = 'acme/oss-lib';

/** What the sample data writes about a project into its generated names, bodies and paths. */
const dataMarkers = (path: string): string[] => [
  `${path} release v`,
  `notes for v1.0.0 of ${path}`,
  `tag v0.1.0 of ${path}`,
  `Sample change in ${path}`,
  `on ${path}`,
  `${path}/app`,
];

/** Whether a root alias of {@link SHAPES} reads B. */
const isB = (alias: string): boolean => alias.startsWith('b') || alias === 'theirs';

/** The shapes tried against B; `$a` and `$b` are A's and B's paths. */
const SHAPES: readonly (readonly [string, string])[] = [
  [
    'aliases',
    `query($a: ID!, $b: ID!) {
      mine: project(fullPath: $a) { rel: releases { nodes { n: name } } }
      theirs: project(fullPath: $b) { rel: releases { nodes { n: name } } t: tags { nodes { message } } }
    }`,
  ],
  [
    'inline fragments',
    `query($a: ID!, $b: ID!) {
      a: project(fullPath: $a) { ... on Project { releases { nodes { name } } } }
      b: project(fullPath: $b) {
        ... on Project { releases { nodes { ... on Release { name description } } } tags { nodes { name message } } }
      }
    }`,
  ],
  [
    'named fragments',
    `query($a: ID!, $b: ID!) {
      a: project(fullPath: $a) { ...Everything }
      b: project(fullPath: $b) { ...Everything }
    }
    fragment Everything on Project {
      releases { nodes { ...R } }
      tags { nodes { name message } }
      containerRepositories { nodes { name path } }
      mergeRequest(iid: "1") { title notes { nodes { body } } }
    }
    fragment R on Release { name description }`,
  ],
  [
    'nested fields',
    `query($a: ID!, $b: ID!) {
      a: project(fullPath: $a) { releases { edges { node { name author { username } } } } }
      b: project(fullPath: $b) {
        containerRepositories { nodes { location tags { nodes { location } } } }
        mergeRequest(iid: "1") { title notes { edges { node { body } } } }
      }
    }`,
  ],
  [
    'several root fields with B first and twice',
    `query($a: ID!, $b: ID!) {
      b1: project(fullPath: $b) { release(tagName: "v1.0.0") { name description } }
      a: project(fullPath: $a) { release(tagName: "v1.0.0") { name } }
      b2: project(fullPath: $b) { tags(search: "v") { nodes { message } } }
    }`,
  ],
];

/** Every project-shaped value of the response data, by alias. */
function roots(res: GqlResponse): Record<string, unknown> {
  return (res.body.data ?? {}) as Record<string, unknown>;
}

describe('no query shape reaches a project the token may not read', () => {
  let t: TestGateway;
  let job: string;
  beforeAll(async () => {
    t = await createTestGateway({
      policy: {
        version: 1,
        projects: {
          [A]: {
            enforcement: 'ENFORCED',
            entries: [
              { source: 'acme/apps/web', kind: 'PROJECT', permissions: { RELEASES: 'READ' } },
            ],
          },
          [PUBLIC]: {
            enforcement: 'ENFORCED',
            entries: [{ source: 'globex/portal', kind: 'PROJECT', defaultPermissions: true }],
          },
        },
      },
    });
    job = await t.jobToken('acme/apps/web', 'alice');
  });
  afterAll(async () => t.close());

  describe.each([
    ['an invisible project', B_HIDDEN],
    ['a visible project with every level NONE', B_VISIBLE],
  ])('B is %s', (_what, b) => {
    it.each(SHAPES)(
      'returns nothing of B through %s, and A in the same response',
      async (_shape, query) => {
        const res = await t.gql(query, { a: A, b }, { token: job });
        expect(res.status).toBe(200);
        // A's releases arrive next to B's refusals (partial results).
        expect(res.text).toContain(`${A} release v1.0.0`);
        for (const marker of dataMarkers(b)) expect(res.text).not.toContain(marker);
        const bErrors = (res.body.errors ?? []).filter((e) => isB(String(e.path?.[0])));
        if (b === B_HIDDEN) {
          // Not even a denial names it: B answers like a project that does not exist.
          expect(res.text).not.toContain(b);
          expect(bErrors).toEqual([]);
        } else {
          expect(bErrors.length).toBeGreaterThan(0);
          for (const e of bErrors) expect(e.extensions?.code).toBe('FORBIDDEN');
        }
        for (const [alias, value] of Object.entries(roots(res))) {
          if (!isB(alias)) continue;
          if (b === B_HIDDEN) expect({ alias, value }).toEqual({ alias, value: null });
          // A visible B keeps only nulls where its guarded fields were.
          else
            for (const field of Object.values(value as Record<string, unknown>))
              expect({ alias, field }).toEqual({ alias, field: null });
        }
      },
    );
  });

  it('returns the Release of a releaseCreate payload after checking it against the project that owns it', async () => {
    const own = await t.jobToken('acme/apps/web', 'alice', {
      jobPermissions: { releases: 'write' },
    });
    // The tag exists: a release of a new tag would also be a tag write, which needs TAGS.
    t.upstream.store.createTag('acme/apps/web', { tag_name: 'v-traversal', ref: 'main' });
    t.upstream.clearRequests();
    const res = await t.gql<{ releaseCreate: { release: { tagName: string; name: string } } }>(
      `mutation { releaseCreate(input: { projectPath: "acme/apps/web", tagName: "v-traversal", ref: "main", name: "made here" }) { release { tagName name } errors } }`,
      {},
      { token: own },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.releaseCreate.release).toEqual({
      tagName: 'v-traversal',
      name: 'made here',
    });
    expect(t.upstream.writes()).toHaveLength(1);
    // The same job claim gives no tags: the Tag a tagCreate would return is never reached.
    const tag = await t.gql(
      `mutation { tagCreate(input: { projectPath: "acme/apps/web", name: "t-traversal", ref: "main" }) { tag { name } errors } }`,
      {},
      { token: own },
    );
    expect(tag.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', resource: 'TAGS' });
  });

  describe('anonymous callers', () => {
    it('read the enabled features of a public project and nothing of its members-only features', async () => {
      const res = await t.gql<{
        project: {
          releases: unknown;
          tags: unknown;
          containerRepositories: unknown;
          mergeRequest: unknown;
        };
      }>(
        `query($p: ID!) { project(fullPath: $p) {
          releases { nodes { name } } tags { nodes { name } }
          containerRepositories { nodes { name } } mergeRequest(iid: "1") { notes { nodes { body } } }
          jobTokenPermissions { resource level reason }
        } }`,
        { p: PUBLIC },
      );
      const p = res.body.data?.project;
      expect(p?.releases).not.toBeNull();
      expect(p?.tags).not.toBeNull();
      expect(p?.containerRepositories).not.toBeNull();
      expect(p?.mergeRequest).toBeNull();
      expect(res.body.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
        [['project', 'mergeRequest'], 'FORBIDDEN'],
      ]);
      expect(res.text).not.toContain(`on ${PUBLIC}`);
    });

    it('cannot write to a public project', async () => {
      t.upstream.clearRequests();
      const res = await t.gql(
        `mutation { releaseCreate(input: { projectPath: "${PUBLIC}", tagName: "v-anon", ref: "main" }) { errors } }`,
      );
      expect(res.body.errors?.[0]?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        resource: 'RELEASES',
        requiredLevel: 'WRITE',
        grantedLevel: 'READ',
      });
      expect(t.upstream.writes()).toEqual([]);
    });

    it('see neither private nor internal projects', async () => {
      const res = await t.gql(
        `{ a: project(fullPath: "${A}") { fullPath } i: project(fullPath: "globex/shared-ci") { fullPath } }`,
      );
      expect(res.body).toEqual({ data: { a: null, i: null } });
    });
  });

  it("gives a person's user token the levels of their role, with reason USER_ROLE", async () => {
    // bob is a Reporter of A; A's allowlist does not apply to people.
    const token = await t.userToken('bob');
    const res = await t.gql<{
      project: { jobTokenPermissions: { resource: string; level: string; reason: string }[] };
    }>(
      `query($p: ID!) { project(fullPath: $p) { jobTokenPermissions { resource level reason } } }`,
      { p: A },
      { token },
    );
    expect(res.body.data?.project.jobTokenPermissions).toEqual(
      RESOURCES.map((resource) => ({
        resource,
        level: roleCapFor(resource, 20),
        reason: 'USER_ROLE',
      })),
    );
  });

  it('does not let a job write to a public project it is not a member of, even when allowlisted with default permissions', async () => {
    const token = await t.jobToken('globex/portal', 'mallory');
    t.upstream.clearRequests();
    const res = await t.gql(
      `mutation { tagCreate(input: { projectPath: "${PUBLIC}", name: "t-mallory", ref: "main" }) { errors } }`,
      {},
      { token },
    );
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'TAGS',
      requiredLevel: 'WRITE',
      grantedLevel: 'READ',
    });
    expect(t.upstream.writes()).toEqual([]);
  });
});

/**
 * Visibility (DESIGN.md section 4): `project(fullPath)` is null with no error both for a
 * missing project and for one the caller may not see, so nothing leaks whether a private
 * project exists; mutations on such a project are NOT_FOUND, never FORBIDDEN; ids in inputs
 * are resolved inside `input.projectPath` only; odd paths never steer an upstream call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { loadScenarios, SCENARIOS_PATH, worldProject } from '../helpers/scenarios.js';

/** Only in B (`acme/platform/registry`): a merge request with an iid no other project has. */
const B_ONLY_IID = 7;
const A = 'acme/apps/web';
const B = 'acme/platform/registry';
const HIDDEN = 'globex/portal';
const MISSING = 'globex/does-not-exist';

const PROJECT = 'query($p: ID!) { project(fullPath: $p) { fullPath } }';
const RELEASE_CREATE =
  'mutation($input: ReleaseCreateInput!) { releaseCreate(input: $input) { release { tagName } errors } }';

describe('project visibility and id resolution', () => {
  let t: TestGateway;
  let aliceJob: string;
  beforeAll(async () => {
    const seed = loadSeedFile(SCENARIOS_PATH);
    t = await createTestGateway({
      seed: {
        ...seed,
        mergeRequests: {
          ...seed.mergeRequests,
          [B]: [
            { iid: 1, title: `Sample change in ${B}`, notes: [] },
            { iid: B_ONLY_IID, title: `Only in ${B}`, notes: [{ body: `only on ${B}` }] },
          ],
        },
      },
      policy: {
        version: 1,
        projects: {
          [HIDDEN]: {
            enforcement: 'ENFORCED',
            entries: [
              {
                source: 'acme/bots/remediator',
                kind: 'PROJECT',
                boundToUserRole: false,
                permissions: { MERGE_REQUEST_NOTES: 'WRITE' },
              },
            ],
          },
        },
      },
    });
    // alice: Developer in A (her job's own project) and in B, not a member of globex/*.
    aliceJob = await t.jobToken(A, 'alice');
  });
  afterAll(async () => t.close());

  const fullPathOf = async (path: string, token?: string): Promise<string | null | undefined> => {
    const res = await t.gql<{ project: { fullPath: string } | null }>(
      PROJECT,
      { p: path },
      token ? { token } : {},
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.project?.fullPath ?? null;
  };

  it('answers a private project the caller cannot see byte for byte like a missing one', async () => {
    const hidden = await t.gql(PROJECT, { p: HIDDEN }, { token: aliceJob });
    const missing = await t.gql(PROJECT, { p: MISSING }, { token: aliceJob });
    expect(hidden.body).toEqual({ data: { project: null } });
    expect(hidden.status).toBe(missing.status);
    expect(hidden.text).toBe(missing.text);
  });

  it('shows a project to a member even when the allowlist gives it nothing', async () => {
    // alice is a Developer of the releaser, whose (default, enforced) allowlist is empty.
    expect(await fullPathOf('acme/platform/tools/releaser', aliceJob)).toBe(
      'acme/platform/tools/releaser',
    );
  });

  it('shows a public project to everyone, anonymous callers included', async () => {
    expect(await fullPathOf('acme/oss-lib', aliceJob)).toBe('acme/oss-lib');
    expect(await fullPathOf('acme/oss-lib')).toBe('acme/oss-lib');
  });

  it('shows an internal project to signed-in callers only', async () => {
    expect(await fullPathOf('globex/shared-ci', aliceJob)).toBe('globex/shared-ci');
    expect(await fullPathOf('globex/shared-ci')).toBeNull();
  });

  it('shows a private project to a non-member whose job holds some level above NONE on it', async () => {
    const identityJob = await t.jobToken('acme/bots/remediator', 'alice', { refProtected: true });
    expect(await fullPathOf(HIDDEN, identityJob)).toBe(HIDDEN);
  });

  it('answers a mutation on an invisible project NOT_FOUND with the message of a missing project, without writing', async () => {
    t.upstream.clearRequests();
    const input = (projectPath: string) => ({
      input: { projectPath, tagName: 'v-hidden', ref: 'main' },
    });
    const hidden = await t.gql(RELEASE_CREATE, input(HIDDEN), { token: aliceJob });
    const missing = await t.gql(RELEASE_CREATE, input(MISSING), { token: aliceJob });
    expect(hidden.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(hidden.body.errors?.[0]?.message).toBe(missing.body.errors?.[0]?.message);
    expect(hidden.text).toBe(missing.text);
    expect(t.upstream.writes()).toEqual([]);
  });

  it("does not find another project's container repository by id, and never calls the upstream for it", async () => {
    const bId = t.upstream.store.project(B).id;
    const repo = t.upstream.store.containerRepositories(B)[0]!;
    const tagName = repo.tags[0]!.name;
    t.upstream.clearRequests();
    // alice's job holds WRITE on the containers of its own project A.
    const res = await t.gql(
      'mutation($input: ContainerRepositoryTagsDeleteInput!) { containerRepositoryTagsDelete(input: $input) { deletedTagNames errors } }',
      { input: { projectPath: A, id: String(repo.id), tagNames: [tagName] } },
      { token: aliceJob },
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(t.upstream.writes()).toEqual([]);
    expect(t.upstream.requests.filter((r) => r.path.includes(`/projects/${bId}/`))).toEqual([]);
    expect(t.upstream.store.containerRepositories(B)[0]!.tags.map((x) => x.name)).toContain(
      tagName,
    );
  });

  it('does not find a merge request iid that exists only in another project', async () => {
    expect(t.upstream.store.mergeRequest(A, B_ONLY_IID)).toBeUndefined();
    const bId = t.upstream.store.project(B).id;
    t.upstream.clearRequests();
    const res = await t.gql(
      'mutation($input: MergeRequestNoteCreateInput!) { mergeRequestNoteCreate(input: $input) { note { body } errors } }',
      { input: { projectPath: A, iid: String(B_ONLY_IID), body: 'steered note' } },
      { token: aliceJob },
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(t.upstream.writes()).toEqual([]);
    expect(t.upstream.requests.filter((r) => r.path.includes(`/projects/${bId}/`))).toEqual([]);
    expect(t.upstream.store.notes(B, B_ONLY_IID).map((n) => n.body)).toEqual([`only on ${B}`]);
  });

  describe('with a path that is not a project path', () => {
    const numericId = String(worldProject(loadScenarios().world, B).id);
    const invalid = [
      ['a parent-directory walk', '../acme/platform/registry'],
      ['a walk inside the path', 'acme/apps/../platform/registry'],
      ['an encoded slash', 'acme%2Fplatform%2Fregistry'],
      ['a very long path', `acme/${'x'.repeat(5000)}`],
      ['a numeric project id', numericId],
      ['an empty string', ''],
      ['a query string', 'acme/apps/web?private_token=x'],
    ] as const;

    /** Every upstream path must be `/api/v4/projects/<one encoded segment>[/...]`. */
    const outsideProjectShape = (path: string): boolean =>
      !/^\/api\/v4\/projects\/[^/?#]+(\/[^?#]*)?(\?.*)?$/.test(path) ||
      /\/projects\/[^/]*(%2E%2E|\.\.)(%2F|\/|$)/i.test(path);

    it.each(invalid)(
      'answers %s with a null project and no stray upstream call',
      async (_what, p) => {
        t.upstream.clearRequests();
        const res = await t.gql(PROJECT, { p }, { token: aliceJob });
        expect(res.body).toEqual({ data: { project: null } });
        expect(t.upstream.requests.map((r) => r.path).filter(outsideProjectShape)).toEqual([]);
      },
    );

    it.each(invalid)('answers a write to %s NOT_FOUND without writing', async (_what, p) => {
      t.upstream.clearRequests();
      const res = await t.gql(
        RELEASE_CREATE,
        { input: { projectPath: p, tagName: 'v-invalid', ref: 'main' } },
        { token: aliceJob },
      );
      expect(res.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(t.upstream.writes()).toEqual([]);
      expect(t.upstream.requests.map((r) => r.path).filter(outsideProjectShape)).toEqual([]);
    });
  });
});

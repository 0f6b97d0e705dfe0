/**
 * Protected tags. The gateway writes with its service credential, which the forge's tag
 * protections do not hold back, so the gateway applies them to the caller's own role before
 * anything is written (found by an adversarial review): a Developer's job with TAGS WRITE could
 * delete a tag the forge only lets Maintainers delete.
 *
 * acme/apps/web: alice is a Developer, bob a Maintainer; a job in the project itself has every
 * resource at WRITE (SAME_PROJECT), so only the protection decides. Its releases v1.0.0..v1.2.0
 * have tags of the same names.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSeedFile, type DemoSeed } from '../../src/demo/seed.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const WEB = 'acme/apps/web';
const TAG_DELETE = `mutation($name: String!) { tagDelete(input: { projectPath: "${WEB}", name: $name }) { tag { name } errors } }`;
const TAG_CREATE = `mutation($name: String!) { tagCreate(input: { projectPath: "${WEB}", name: $name, ref: "main" }) { tag { name } errors } }`;
const RELEASE_CREATE = `mutation($tag: String!) { releaseCreate(input: { projectPath: "${WEB}", tagName: $tag, ref: "main" }) { release { tagName } errors } }`;
const RELEASE_UPDATE = `mutation($tag: String!) { releaseUpdate(input: { projectPath: "${WEB}", tagName: $tag, name: "renamed" }) { release { name } errors } }`;
const RELEASE_DELETE = `mutation($tag: String!) { releaseDelete(input: { projectPath: "${WEB}", tagName: $tag }) { release { tagName } errors } }`;
const TAGS = `{ project(fullPath: "${WEB}") { tags(first: 100) { nodes { name } } releases(first: 100) { nodes { tagName name } } } }`;

describe('protected tags', () => {
  let t: TestGateway;
  let alice: string;
  let bob: string;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const seed: DemoSeed = {
      ...loadSeedFile(SCENARIOS_PATH),
      protectedTags: {
        [WEB]: [
          { name: 'v1.*' },
          { name: 'nightly-*', createAccessLevel: 30 },
          { name: 'frozen', createAccessLevel: 0 },
        ],
      },
    };
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    t = await createTestGateway({
      seed,
      // mallory, not a member of acme/apps/web, runs jobs in globex/portal: a project-identity
      // entry gives her jobs TAGS and RELEASES WRITE there without her role.
      policy: {
        version: 1,
        projects: {
          [WEB]: {
            entries: [
              {
                source: 'globex/portal',
                kind: 'PROJECT',
                boundToUserRole: false,
                permissions: { TAGS: 'WRITE', RELEASES: 'WRITE' },
              },
            ],
          },
        },
      },
      gateway: { logger },
    });
    alice = await t.jobToken(WEB, 'alice');
    bob = await t.jobToken(WEB, 'bob');
  });
  afterAll(async () => t.close());
  beforeEach(() => t.upstream.clearRequests());

  async function state(): Promise<{ tags: string[]; releases: string[] }> {
    const res = await t.gql<{
      project: {
        tags: { nodes: { name: string }[] };
        releases: { nodes: { tagName: string; name: string }[] };
      };
    }>(TAGS, {}, { token: bob });
    return {
      tags: (res.body.data?.project.tags.nodes ?? []).map((n) => n.name).sort(),
      releases: (res.body.data?.project.releases.nodes ?? [])
        .map((n) => `${n.tagName}:${n.name}`)
        .sort(),
    };
  }

  async function expectRefused(
    query: string,
    variables: Record<string, unknown>,
    token: string,
    says: string,
  ) {
    const before = await state();
    t.upstream.clearRequests();
    const res = await t.gql(query, variables, { token });
    expect(res.status).toBe(200);
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      resource: 'TAGS',
      reason: 'ROLE_TOO_LOW',
    });
    expect(res.body.errors?.[0]?.message).toContain(says);
    expect(t.upstream.writes()).toEqual([]);
    expect(await state()).toEqual(before);
  }

  it('the forge reports the tags a protection matches as protected', async () => {
    const res = await fetch(`${t.upstream.url}/projects/102/repository/tags/v1.0.0`, {
      headers: { 'private-token': t.upstream.token },
    });
    expect(((await res.json()) as { protected: boolean }).protected).toBe(true);
  });

  it('refuses a Developer deleting a protected tag, and lets a Maintainer', async () => {
    await expectRefused(
      TAG_DELETE,
      { name: 'v1.0.0' },
      alice,
      'deleting it needs the Maintainer role',
    );
    const ok = await t.gql(TAG_DELETE, { name: 'v1.0.0' }, { token: bob });
    expect(ok.body.errors).toBeUndefined();
    expect(t.upstream.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      'DELETE /api/v4/projects/102/repository/tags/v1.0.0',
    ]);
  });

  it('creates a tag only when a matching protection lets the caller', async () => {
    await expectRefused(TAG_CREATE, { name: 'v1.9.0' }, alice, 'tag "v1.9.0" is protected');
    await expectRefused(TAG_CREATE, { name: 'frozen' }, bob, 'tag "frozen" is protected');
    for (const [name, token] of [
      ['v1.8.0', bob],
      ['nightly-1', alice],
      ['feature-x', alice],
    ] as const) {
      const res = await t.gql<{ tagCreate: { tag: { name: string } } }>(
        TAG_CREATE,
        { name },
        { token },
      );
      expect(res.body.errors, name).toBeUndefined();
      expect(res.body.data?.tagCreate.tag.name).toBe(name);
    }
  });

  it('writes the release of a protected tag only for a caller who may create the tag', async () => {
    await expectRefused(RELEASE_CREATE, { tag: 'v1.7.0' }, alice, 'write the release of the tag');
    await expectRefused(RELEASE_UPDATE, { tag: 'v1.1.0' }, alice, 'write the release of the tag');
    await expectRefused(RELEASE_DELETE, { tag: 'v1.1.0' }, alice, 'write the release of the tag');
    const created = await t.gql(RELEASE_CREATE, { tag: 'nightly-2' }, { token: alice });
    expect(created.body.errors).toBeUndefined();
    const updated = await t.gql(RELEASE_UPDATE, { tag: 'v1.1.0' }, { token: bob });
    expect(updated.body.errors).toBeUndefined();
  });

  it('refuses the release of an existing protected tag without ref, as with it', async () => {
    const made = await t.gql(TAG_CREATE, { name: 'v1.5.0' }, { token: bob });
    expect(made.body.errors).toBeUndefined();
    const NO_REF = `mutation($tag: String!) { releaseCreate(input: { projectPath: "${WEB}", tagName: $tag }) { release { tagName } errors } }`;
    await expectRefused(NO_REF, { tag: 'v1.5.0' }, alice, 'write the release of the tag');
    const ok = await t.gql(NO_REF, { tag: 'v1.5.0' }, { token: bob });
    expect(ok.body.errors).toBeUndefined();
  });

  it('refuses a project-identity job whose user is not a member: the entry does not lift a protection', async () => {
    const mallory = await t.jobToken('globex/portal', 'mallory');
    const unprotected = await t.gql(TAG_CREATE, { name: 'feature-m' }, { token: mallory });
    expect(unprotected.body.errors).toBeUndefined();
    await expectRefused(TAG_CREATE, { name: 'v1.6.0' }, mallory, 'is not a member');
  });

  it('reports the refusal as a denial of TAGS WRITE held by the role', async () => {
    lines.length = 0;
    const res = await t.gql(TAG_CREATE, { name: 'v1.4.0' }, { token: alice });
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'TAGS',
      requiredLevel: 'WRITE',
      grantedLevel: 'READ',
      reason: 'ROLE_TOO_LOW',
    });
    const denied = lines.filter((l) => l['event'] === 'authz.denied');
    expect(denied).toEqual([
      expect.objectContaining({
        resource: 'TAGS',
        requiredLevel: 'WRITE',
        grantedLevel: 'READ',
        reason: 'ROLE_TOO_LOW',
        targetProject: WEB,
      }),
    ]);
  });

  it('fails closed, writing nothing, when the forge cannot list the protections', async () => {
    const remove = t.upstream.injectFault({
      method: 'GET',
      path: /\/protected_tags$/,
      kind: 'status',
      status: 500,
    });
    try {
      t.upstream.clearRequests();
      const res = await t.gql(TAG_CREATE, { name: 'feature-y' }, { token: bob });
      expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_ERROR']);
      expect(t.upstream.writes()).toEqual([]);
    } finally {
      remove();
    }
  });
});

describe('a project with more protected tag patterns than the gateway reads', () => {
  it('refuses the write, writing nothing, rather than guess', async () => {
    const seed: DemoSeed = {
      ...loadSeedFile(SCENARIOS_PATH),
      protectedTags: {
        [WEB]: Array.from({ length: 2001 }, (_, i) => ({ name: `p-${i}-*` })),
      },
    };
    const t = await createTestGateway({ seed });
    try {
      const bob = await t.jobToken(WEB, 'bob');
      t.upstream.clearRequests();
      const res = await t.gql(TAG_CREATE, { name: 'feature-z' }, { token: bob });
      expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
      expect(res.body.errors?.[0]?.message).toContain('more than 2000 protected tag patterns');
      expect(t.upstream.writes()).toEqual([]);
      const reads = t.upstream.requests.filter((r) => r.path.includes('/protected_tags'));
      expect(reads).toHaveLength(20);
    } finally {
      await t.close();
    }
  });
});

/**
 * Faults `e2e/upstream-faults.test.ts` does not cover: one project of several failing in the
 * same request (the others still answer, 200 with partial data), the membership look-up failing
 * (an error, never a wrong allow, and no NONE remembered after the forge recovers), a write
 * that fails after its check passed, and callers whose clocks sit at the edge of the verifier's
 * tolerance (default 30 s) on `exp`, `nbf` and `iat`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';

const SOURCE = 'acme/apps/web';
const REGISTRY = 'acme/platform/registry';
const POLICY = {
  version: 1,
  projects: {
    [REGISTRY]: {
      enforcement: 'ENFORCED',
      entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'WRITE' } }],
    },
  },
};
const TWO = `query($a: ID!, $b: ID!) {
  own: project(fullPath: $a) { releases { nodes { name } } }
  reg: project(fullPath: $b) { releases { nodes { name } } }
}`;

const codes = <T>(res: GqlResponse<T>): unknown[] =>
  (res.body.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]);

describe('partial upstream failures', () => {
  let t: TestGateway;
  let job: string;
  let ids: { own: number; reg: number };
  beforeAll(async () => {
    // The project look-up itself must fail here, not be answered from the project cache.
    t = await createTestGateway({
      policy: POLICY,
      upstreamTimeoutMs: 1_000,
      gateway: { projectCache: { size: 0, ttlMs: 0 } },
    });
    job = await t.jobToken(SOURCE, 'alice');
    ids = { own: t.upstream.store.project(SOURCE).id, reg: t.upstream.store.project(REGISTRY).id };
  });
  afterEach(() => t.upstream.clearFaults());
  afterAll(async () => t.close());

  it.each([
    ['a 500', { kind: 'status', status: 500 }, 'UPSTREAM_ERROR'],
    ['a reset', { kind: 'reset' }, 'UPSTREAM_UNAVAILABLE'],
    ['garbage', { kind: 'garbage' }, 'UPSTREAM_ERROR'],
  ] as const)(
    "answers the healthy project's data next to %s on the other project's releases",
    async (_what, fault, code) => {
      t.upstream.injectFault({ path: `/projects/${ids.reg}/releases`, ...fault });
      const res = await t.gql<{ own: unknown; reg: { releases: unknown } }>(
        TWO,
        { a: SOURCE, b: REGISTRY },
        { token: job },
      );
      expect(res.status).toBe(200);
      expect(res.text).toContain(`${SOURCE} release v1.0.0`);
      expect(res.body.data?.reg).toEqual({ releases: null });
      expect(codes(res)).toEqual([['reg.releases', code]]);
    },
  );

  it('answers a project whose own look-up fails as null with an error, and the other in full', async () => {
    t.upstream.injectFault({ path: `/projects/${REGISTRY}`, kind: 'status', status: 502 });
    const res = await t.gql(TWO, { a: SOURCE, b: REGISTRY }, { token: job });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`${SOURCE} release v1.0.0`);
    expect(res.body.data?.['reg']).toBeNull();
    expect(codes(res)).toEqual([['reg', 'UPSTREAM_UNAVAILABLE']]);
  });

  it('never allows when the membership look-up fails, and remembers no NONE once it recovers', async () => {
    const fresh = await t.jobToken(SOURCE, 'alice', { claims: { job_id: '777001' } });
    const alice = t.seed.users.find((u) => u.username === 'alice')!;
    const remove = t.upstream.injectFault({
      path: `/projects/${ids.reg}/members/all/${alice.id}`,
      kind: 'status',
      status: 500,
    });
    // The tag exists: a release of a new tag would also be a tag write, which needs TAGS.
    t.upstream.store.createTag(REGISTRY, { tag_name: 'v-role-fault', ref: 'main' });
    t.upstream.clearRequests();
    const during = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${REGISTRY}", tagName: "v-role-fault", ref: "main" }) { errors } }`,
      {},
      { token: fresh },
    );
    expect(during.body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_ERROR']);
    expect(t.upstream.writes()).toEqual([]);
    remove();
    const after = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${REGISTRY}", tagName: "v-role-fault", ref: "main" }) { errors } }`,
      {},
      { token: fresh },
    );
    expect(after.body).toEqual({ data: { releaseCreate: { errors: [] } } });
    expect(t.upstream.writes().map((w) => w.path)).toEqual([
      `/api/v4/projects/${ids.reg}/releases`,
    ]);
  });

  it('reports a write that fails after its check as UPSTREAM_ERROR and leaves the data unchanged', async () => {
    const before = t.upstream.store.releases(REGISTRY).length;
    t.upstream.store.createTag(REGISTRY, { tag_name: 'v-write-reset', ref: 'main' });
    t.upstream.clearRequests();
    t.upstream.injectFault({
      method: 'POST',
      path: `/projects/${ids.reg}/releases`,
      kind: 'reset',
    });
    const res = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${REGISTRY}", tagName: "v-write-reset", ref: "main" }) { release { name } errors } }`,
      {},
      { token: job },
    );
    expect(res.status).toBe(200);
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    // Writes are never retried: exactly one POST reached the forge.
    expect(t.upstream.writes().filter((w) => w.path.endsWith('/releases'))).toHaveLength(1);
    expect(t.upstream.store.releases(REGISTRY)).toHaveLength(before);
  });
});

describe('clock skew at the edge of the tolerance', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway({ policy: POLICY, verifier: { clockToleranceSeconds: 30 } });
  });
  afterAll(async () => t.close());

  const now = (): number => Math.floor(Date.now() / 1000);
  const READ = `{ project(fullPath: "${REGISTRY}") { releases { nodes { name } } } }`;

  /** Sends a read with a token carrying `claims`. */
  async function read(claims: Record<string, number>) {
    const token = await t.jobToken(SOURCE, 'alice', { claims });
    t.upstream.clearRequests();
    return t.gql<{ project: { releases: unknown } | null }>(READ, {}, { token });
  }

  // 5 s either side of the edge: well clear of the one-second granularity of the claims.
  it.each([
    ['that expired 25 s ago', () => ({ iat: now() - 300, exp: now() - 25 })],
    ['not valid before 25 s from now', () => ({ nbf: now() + 25 })],
    ['issued 25 s in the future', () => ({ iat: now() + 25, exp: now() + 300 })],
  ])('accepts a token %s (inside the tolerance)', async (_what, claims) => {
    const res = await read(claims());
    expect(res.status).toBe(200);
    expect(res.body.data?.project?.releases).not.toBeNull();
  });

  it.each([
    ['that expired 35 s ago', () => ({ iat: now() - 300, exp: now() - 35 })],
    ['not valid before 35 s from now', () => ({ nbf: now() + 35 })],
  ])('refuses a token %s with 401 UNAUTHENTICATED and no upstream call', async (_what, claims) => {
    const res = await read(claims());
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(t.upstream.requests).toEqual([]);
  });
});

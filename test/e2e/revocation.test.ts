/**
 * Revocation across gateway instances (DESIGN.md section 3), over real HTTP and a real Redis:
 * two gateways in front of one forge, each with its own Redis revocation list on the same Redis.
 * A revocation made on one (by `jobTokenRevoke` or by the job-event webhook) must be refused on
 * the other within a deadline, and an instance started later must load it at start.
 */
import { decodeJwt } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationList } from '../../src/auth/revocation.js';
import { createRedisRevocationList, revocationKeys } from '../../src/auth/revocation-redis.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const ADMIN = 'carol';
const ADMIN_ID = '5';
const SECRET = 'forge-hook-secret-for-tests';
/** How long a revocation may take to reach another instance. */
const PROPAGATION_DEADLINE_MS = 2_000;
const PROBE = '{ project(fullPath: "acme/apps/web") { fullPath } }';
const REVOKE = `mutation Revoke($input: JobTokenRevokeInput!) {
  jobTokenRevoke(input: $input) { revoked errors }
}`;
const KEYS = revocationKeys();

interface RevokeData {
  jobTokenRevoke: { revoked: boolean; errors: string[] } | null;
}

let redis: TestRedis;
/** Every ioredis connection this file opened, closed in afterAll. */
const connections: Redis[] = [];
/** Every revocation list this file started, closed in afterAll. */
const lists: RevocationList[] = [];
let t1: TestGateway;
let t2: TestGateway;
/** A third Redis connection for looking at what is stored. */
let inspect: Redis;

function connect(): Redis {
  const c = new Redis(redis.url);
  connections.push(c);
  return c;
}

/** A started Redis revocation list with its own command and subscriber connections. */
async function redisRevocations(): Promise<RevocationList> {
  const list = createRedisRevocationList({ redis: connect(), createSubscriber: connect });
  await list.start();
  lists.push(list);
  return list;
}

/** A gateway on the shared upstream and Redis that trusts `t1`'s issuer. */
async function anotherInstance(): Promise<TestGateway> {
  return createTestGateway({
    upstream: t1.upstream,
    revocations: await redisRevocations(),
    extraIssuers: [t1.issuer.options],
    adminUserIds: [ADMIN_ID],
    webhookSecret: SECRET,
  });
}

beforeAll(async () => {
  redis = await startRedis();
  inspect = connect();
  t1 = await createTestGateway({
    revocations: await redisRevocations(),
    adminUserIds: [ADMIN_ID],
    webhookSecret: SECRET,
  });
  t2 = await anotherInstance();
});

afterAll(async () => {
  await t2?.close();
  await t1?.close();
  for (const list of lists) await list.close();
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

/** Requests the probe query on `t` with `token`. */
function probe(t: TestGateway, token: string): Promise<GqlResponse> {
  return t.gql(PROBE, undefined, { token });
}

/** Asserts that `token` is accepted by `t`. */
async function expectAccepted(t: TestGateway, token: string): Promise<void> {
  const res = await probe(t, token);
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
}

/** Asserts the 401 `REVOKED` refusal. */
function expectRevoked(res: GqlResponse): void {
  expect(res.status).toBe(401);
  expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'REVOKED' });
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="scopegate"/);
}

/** Polls `t` until it refuses `token`, then asserts the refusal is `REVOKED`. */
async function expectRevokedWithin(t: TestGateway, token: string): Promise<void> {
  const deadline = Date.now() + PROPAGATION_DEADLINE_MS;
  let res = await probe(t, token);
  while (res.status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    res = await probe(t, token);
  }
  expectRevoked(res);
}

/** A job token of acme/apps/web run by alice, signed by `t1`'s issuer, for job `jobId`. */
function jobToken(jobId: number): Promise<string> {
  return t1.jobToken('acme/apps/web', 'alice', { claims: { job_id: String(jobId) } });
}

let nextJobId = 900_000;
/** A job id no other test of this file uses. */
const freshJobId = (): number => ++nextJobId;

function revoke(t: TestGateway, input: Record<string, unknown>, token: string) {
  return t.gql<RevokeData>(REVOKE, { input }, { token });
}

function jobEvent(
  t: TestGateway,
  body: Record<string, unknown>,
  secret: string | undefined,
): Promise<Response> {
  return fetch(`${t.gateway.url}/hooks/job-events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret === undefined ? {} : { 'x-gitlab-token': secret }),
    },
    body: JSON.stringify(body),
  });
}

/** Stored revocation entry of a job, or null. */
const storedJob = (jobId: number): Promise<string | null> =>
  inspect.zscore(KEYS.job, String(jobId));

/**
 * Revokes a marker job on `t1` and waits until `t2` refuses it. Messages from one connection
 * arrive in order, so anything `t1` had published before has reached `t2` by then: after this,
 * "still accepted on t2" means "never revoked", not "not arrived yet".
 */
async function barrier(): Promise<void> {
  const marker = freshJobId();
  const token = await jobToken(marker);
  const res = await jobEvent(
    t1,
    { object_kind: 'build', build_id: marker, build_status: 'failed' },
    SECRET,
  );
  expect(res.status).toBe(200);
  await expectRevokedWithin(t2, token);
}

describe('jobTokenRevoke', () => {
  it('revokes a token by jti on one instance and the other refuses it as REVOKED', async () => {
    const token = await jobToken(freshJobId());
    await expectAccepted(t1, token);
    await expectAccepted(t2, token);
    const { jti, exp } = decodeJwt(token);
    const res = await revoke(
      t1,
      { jti, expiresAt: new Date((exp ?? 0) * 1000).toISOString() },
      await t1.userToken(ADMIN),
    );
    expect(res.body).toEqual({ data: { jobTokenRevoke: { revoked: true, errors: [] } } });
    expectRevoked(await probe(t1, token));
    await expectRevokedWithin(t2, token);
  });

  it('revokes every token of a job by jobId on both instances and spares other jobs', async () => {
    const jobId = freshJobId();
    const first = await jobToken(jobId);
    const second = await jobToken(jobId);
    const otherJob = await jobToken(freshJobId());
    const res = await revoke(t1, { jobId: String(jobId) }, await t1.userToken(ADMIN));
    expect(res.body.data?.jobTokenRevoke).toEqual({ revoked: true, errors: [] });
    expect(await storedJob(jobId)).not.toBeNull();
    await expectRevokedWithin(t2, first);
    expectRevoked(await probe(t2, second));
    expectRevoked(await probe(t1, first));
    await expectAccepted(t2, otherJob);
  });

  it('keeps a jti revocation without expiresAt for the maximum token lifetime', async () => {
    const token = await jobToken(freshJobId());
    const jti = decodeJwt(token).jti as string;
    const before = Date.now();
    await revoke(t2, { jti }, await t1.userToken(ADMIN));
    const until = Number(await inspect.zscore(KEYS.jti, jti));
    expect(until).toBeGreaterThanOrEqual(before + 86_400_000);
    await expectRevokedWithin(t1, token);
  });

  it('asks for a jti or a jobId with BAD_USER_INPUT and revokes nothing', async () => {
    const res = await revoke(t1, {}, await t1.userToken(ADMIN));
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.body.data?.jobTokenRevoke).toBeNull();
    const badId = await revoke(t1, { jobId: 'not-a-number' }, await t1.userToken(ADMIN));
    expect(badId.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('reports an expiresAt long past in errors and stores nothing for that jti', async () => {
    const jti = `long-gone-${freshJobId()}`;
    const res = await revoke(
      t1,
      { jti, expiresAt: '2020-01-01T00:00:00Z' },
      await t1.userToken(ADMIN),
    );
    expect(res.body.data?.jobTokenRevoke?.revoked).toBe(false);
    expect(res.body.data?.jobTokenRevoke?.errors).toEqual([
      expect.stringContaining('expiresAt is long past'),
    ]);
    expect(await inspect.zscore(KEYS.jti, jti)).toBeNull();
  });

  it('refuses a user who is not an instance admin with FORBIDDEN and stores nothing', async () => {
    const jobId = freshJobId();
    const res = await revoke(t1, { jobId: String(jobId) }, await t1.userToken('alice'));
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(res.body.data?.jobTokenRevoke).toBeNull();
    expect(await storedJob(jobId)).toBeNull();
  });

  it('refuses any job token with FORBIDDEN, even one triggered by an admin', async () => {
    const jobId = freshJobId();
    const adminJob = await t1.jobToken('acme/platform/registry', ADMIN);
    const res = await revoke(t1, { jobId: String(jobId) }, adminJob);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await storedJob(jobId)).toBeNull();
    await expectAccepted(t1, adminJob);
  });

  it('refuses an anonymous caller with FORBIDDEN', async () => {
    const res = await t1.gql<RevokeData>(REVOKE, { input: { jobId: '1' } });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await storedJob(1)).toBeNull();
  });
});

describe('POST /hooks/job-events', () => {
  it('revokes the tokens of a job that finished, on both instances', async () => {
    const jobId = freshJobId();
    const token = await jobToken(jobId);
    await expectAccepted(t2, token);
    const res = await jobEvent(
      t2,
      { object_kind: 'build', build_id: jobId, build_status: 'success' },
      SECRET,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, action: 'revoked' });
    expectRevoked(await probe(t2, token));
    await expectRevokedWithin(t1, token);
  });

  it('answers a wrong or missing secret with 401 and revokes nothing', async () => {
    const jobId = freshJobId();
    const token = await jobToken(jobId);
    const event = { object_kind: 'build', build_id: jobId, build_status: 'success' };
    for (const secret of ['wrong-secret', undefined]) {
      const res = await jobEvent(t1, event, secret);
      expect(res.status).toBe(401);
      const text = await res.text();
      expect(text).not.toContain(SECRET);
      if (secret !== undefined) expect(text).not.toContain(secret);
    }
    await barrier();
    expect(await storedJob(jobId)).toBeNull();
    await expectAccepted(t1, token);
    await expectAccepted(t2, token);
  });

  it('ignores a job that has not finished yet', async () => {
    const jobId = freshJobId();
    const token = await jobToken(jobId);
    for (const status of ['created', 'pending', 'running']) {
      const res = await jobEvent(
        t1,
        { object_kind: 'build', build_id: jobId, build_status: status },
        SECRET,
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, action: 'ignored' });
    }
    await barrier();
    expect(await storedJob(jobId)).toBeNull();
    await expectAccepted(t1, token);
    await expectAccepted(t2, token);
  });
});

describe('an instance started after a revocation', () => {
  it('refuses the revoked token on its very first request', async () => {
    const jobId = freshJobId();
    const byJob = await jobToken(jobId);
    const byJti = await jobToken(freshJobId());
    const admin = await t1.userToken(ADMIN);
    await revoke(t1, { jobId: String(jobId) }, admin);
    await revoke(t1, { jti: decodeJwt(byJti).jti }, admin);
    const t3 = await anotherInstance();
    try {
      expectRevoked(await probe(t3, byJob));
      expectRevoked(await probe(t3, byJti));
      await expectAccepted(t3, await jobToken(freshJobId()));
    } finally {
      await t3.close();
    }
  });
});

/**
 * Admin actions leave an audit trail, as profile changes do: a revocation through
 * `jobTokenRevoke` or the job-events webhook, and `jobTokenRolesDrop`, each write a
 * `jobToken.admin` event naming who, what and until when, and a revoked token only by the
 * SHA-256 of its `jti` (found by an adversarial review: none of them left any trace).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ADMIN_ID, roleWorld, TARGET, TARGET_ID } from './management-fixtures.js';

const SECRET = 'hook-secret-0123456789';
const JTI = 'a-jti-that-must-not-appear-0001';
const lines: Record<string, unknown>[] = [];
let t: TestGateway;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  t = await createTestGateway({
    seed: roleWorld(),
    adminUserIds: [ADMIN_ID],
    webhookSecret: SECRET,
    gateway: { logger: pino({ level: 'info' }, sink) },
  });
});
afterAll(async () => t.close());

const adminEvents = () => lines.filter((l) => l['event'] === 'jobToken.admin');

describe('audit of admin actions', () => {
  it('records who revoked which job and which token (by digest), until when', async () => {
    lines.length = 0;
    const admin = await t.userToken('adam');
    const res = await t.gql(
      `mutation { jobTokenRevoke(input: { jobId: "777001", jti: "${JTI}" }) { revoked errors } }`,
      {},
      { token: admin },
    );
    expect(res.body.errors, res.text).toBeUndefined();
    const events = adminEvents();
    expect(events).toEqual([
      expect.objectContaining({
        action: 'TOKEN_REVOKED',
        actor: { kind: 'user', userId: Number(ADMIN_ID), username: 'adam' },
        jtiSha256: createHash('sha256').update(JTI).digest('hex'),
        until: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        requestId: expect.any(String),
      }),
      expect.objectContaining({ action: 'JOB_REVOKED', jobId: 777001 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(JTI);
  });

  it('records that the job-events webhook revoked a job', async () => {
    lines.length = 0;
    const res = await fetch(`${t.gateway.url}/hooks/job-events`, {
      method: 'POST',
      headers: { 'x-gitlab-token': SECRET, 'content-type': 'application/json' },
      body: JSON.stringify({ object_kind: 'build', build_id: 777002, build_status: 'success' }),
    });
    expect(res.status).toBe(200);
    expect(adminEvents()).toEqual([
      expect.objectContaining({ action: 'JOB_REVOKED', actor: { kind: 'webhook' }, jobId: 777002 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });

  it('records an admin dropping cached roles', async () => {
    lines.length = 0;
    const admin = await t.userToken('adam');
    const res = await t.gql(
      `mutation { jobTokenRolesDrop(input: { projectPath: "${TARGET}", userId: "7" }) { dropped errors } }`,
      {},
      { token: admin },
    );
    expect(res.body.errors, res.text).toBeUndefined();
    expect(adminEvents()).toEqual([
      expect.objectContaining({
        action: 'ROLES_DROPPED',
        target: { projectId: TARGET_ID, fullPath: TARGET },
        userId: 7,
      }),
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { handleJobEvent, type JobEventDeps } from '../../src/auth/job-events-webhook.js';
import { createMemoryRevocationList, REVOCATION_GRACE_SECONDS } from '../../src/auth/revocation.js';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';

const SECRET = 'hook-secret-value';
const NOW = 1_700_000_000_000;

function job(jobId: number): JobTokenPrincipal {
  return {
    kind: 'job',
    issuer: 'https://ci.test',
    jti: `jti-${jobId}`,
    expiresAt: 0,
    projectId: 1,
    projectPath: 'acme/app',
    namespaceId: 2,
    namespacePath: 'acme',
    userId: 3,
    userLogin: 'alice',
    jobId,
    pipelineId: 4,
    ref: 'main',
    refType: 'branch',
    refProtected: true,
  };
}

/** A shared clock (ms) for the handler and its revocation list. */
const clock = { ms: NOW };

function deps(overrides: Partial<JobEventDeps> = {}): JobEventDeps {
  clock.ms = NOW;
  return {
    secret: SECRET,
    revocations: createMemoryRevocationList({ now: () => clock.ms }),
    maxLifetimeSeconds: 3600,
    now: () => clock.ms,
    ...overrides,
  };
}

/** A request whose body is `text` as sent; `reads()` says how often the handler read it. */
function rawInput(secretHeader: string | undefined, text: string) {
  let reads = 0;
  return {
    secretHeader,
    readBody: () => {
      reads += 1;
      return Promise.resolve(text);
    },
    reads: () => reads,
  };
}

/** A request whose body is `body` as JSON. */
const input = (secretHeader: string | undefined, body: unknown) =>
  rawInput(secretHeader, JSON.stringify(body));

const buildEvent = (status: string, id = 42): Record<string, unknown> => ({
  object_kind: 'build',
  build_id: id,
  build_status: status,
  build_name: 'test',
});

describe('job events webhook', () => {
  for (const status of ['success', 'failed', 'canceled', 'skipped']) {
    it(`revokes the job's tokens when a build ends with status ${status}`, async () => {
      const d = deps();
      const result = await handleJobEvent(input(SECRET, buildEvent(status)), d);
      expect(result).toEqual({ status: 200, body: { ok: true, action: 'revoked' } });
      expect(d.revocations.isRevoked(job(42))).toBe(true);
      expect(d.revocations.isRevoked(job(43))).toBe(false);
    });
  }

  it('keeps the job revoked for the maximum token lifetime plus the clock-skew grace, then forgets it', async () => {
    const d = deps();
    await handleJobEvent(input(SECRET, buildEvent('success')), d);
    const end = NOW + (3_600 + REVOCATION_GRACE_SECONDS) * 1000;
    clock.ms = end - 1_000;
    expect(d.revocations.isRevoked(job(42))).toBe(true);
    clock.ms = end + 1_000;
    expect(d.revocations.isRevoked(job(42))).toBe(false);
  });

  for (const status of ['created', 'pending', 'running', 'manual']) {
    it(`ignores a build still ${status}`, async () => {
      const d = deps();
      const result = await handleJobEvent(input(SECRET, buildEvent(status)), d);
      expect(result).toEqual({ status: 200, body: { ok: true, action: 'ignored' } });
      expect(d.revocations.isRevoked(job(42))).toBe(false);
    });
  }

  it('acknowledges and ignores other event kinds', async () => {
    const result = await handleJobEvent(
      input(SECRET, { object_kind: 'pipeline', object_attributes: {} }),
      deps(),
    );
    expect(result).toEqual({ status: 200, body: { ok: true, action: 'ignored' } });
  });

  it('answers 404 when no secret is configured, whatever the request carries', async () => {
    for (const secret of [undefined, '']) {
      const result = await handleJobEvent(input(SECRET, buildEvent('success')), deps({ secret }));
      expect(result.status).toBe(404);
      expect(result.body.ok).toBe(false);
    }
  });

  it('answers 401 to a missing or wrong secret, without echoing either', async () => {
    for (const secretHeader of [undefined, '', 'wrong', `${SECRET}x`, SECRET.slice(0, -1)]) {
      const d = deps();
      const result = await handleJobEvent(input(secretHeader, buildEvent('success')), d);
      expect(result.status).toBe(401);
      expect(JSON.stringify(result.body)).not.toContain(SECRET);
      if (secretHeader) expect(JSON.stringify(result.body)).not.toContain(secretHeader);
      expect(d.revocations.isRevoked(job(42))).toBe(false);
    }
  });

  it('answers 404 to a body that is not JSON when no secret is configured, without reading it', async () => {
    const request = rawInput(SECRET, 'not json');
    const result = await handleJobEvent(request, deps({ secret: undefined }));
    expect(result).toEqual({ status: 404, body: { ok: false, error: 'not found' } });
    expect(request.reads()).toBe(0);
  });

  it('answers 401 to a body that is not JSON when the secret is wrong or missing, without reading it', async () => {
    for (const secretHeader of [undefined, 'wrong']) {
      const request = rawInput(secretHeader, 'not json');
      const result = await handleJobEvent(request, deps());
      expect(result).toEqual({
        status: 401,
        body: { ok: false, error: 'invalid or missing webhook secret' },
      });
      expect(request.reads()).toBe(0);
    }
  });

  it('answers 400 to a body that is not JSON once the secret matched', async () => {
    for (const text of ['not json', '', '{"object_kind": "build"']) {
      const result = await handleJobEvent(rawInput(SECRET, text), deps());
      expect(result).toEqual({
        status: 400,
        body: { ok: false, error: 'the body is not valid JSON' },
      });
    }
  });

  it('passes a failure to read the body on to the HTTP layer', async () => {
    const tooLarge = new Error('body too large');
    await expect(
      handleJobEvent({ secretHeader: SECRET, readBody: () => Promise.reject(tooLarge) }, deps()),
    ).rejects.toBe(tooLarge);
  });

  it('answers 400 to a malformed payload', async () => {
    const bodies: unknown[] = [
      null,
      'build',
      [],
      {},
      { object_kind: 'build', build_status: 'success' },
      { object_kind: 'build', build_id: '42', build_status: 'success' },
      { object_kind: 'build', build_id: -1, build_status: 'success' },
      { object_kind: 'build', build_id: 42 },
      { object_kind: 'build', build_id: 42, build_status: 7 },
    ];
    for (const body of bodies) {
      const result = await handleJobEvent(input(SECRET, body), deps());
      expect(result.status).toBe(400);
      expect(result.body.ok).toBe(false);
    }
  });
});

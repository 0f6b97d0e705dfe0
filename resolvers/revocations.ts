/**
 * `Mutation.jobTokenRevoke` (DESIGN.md sections 3 and 4): an instance admin revokes one token
 * by `jti`, or every token of a job by `jobId`, on every gateway instance at once (the
 * revocation list stores it in Redis and publishes it).
 *
 * Admin-only, and never open to job tokens: a job token that could revoke tokens could cut off
 * other pipelines. It is not a job-token resource, so it carries no
 * `@requiresJobTokenPermission`; the role check is here, before the input is even looked at,
 * so a caller who may not revoke learns nothing from validation messages.
 */
import { auditAdmin } from './admin-audit.js';
import { sha256Hex } from '../src/audit/change-events.js';
import { badUserInputError, forbiddenActionError } from '../src/errors/codes.js';
import { REVOCATION_GRACE_SECONDS } from '../src/auth/revocation.js';
import type { GatewayContext } from '../src/server/context.js';

/** `JobTokenRevokeInput` as GraphQL hands it over (`ID` arrives as a string, `Time` as ISO text). */
export interface JobTokenRevokeInput {
  readonly jti?: string | null;
  readonly jobId?: string | null;
  readonly expiresAt?: string | null;
}

/** `JobTokenRevokePayload`. */
export interface JobTokenRevokePayload {
  readonly revoked: boolean;
  readonly errors: string[];
}

/** Longest `jti` accepted, matching the claim schema's limit. */
const MAX_JTI_LENGTH = 4096;
/** A forge job id: a non-negative safe integer in canonical decimal form. */
const JOB_ID = /^(0|[1-9][0-9]{0,15})$/;

function parseJobId(value: string): number {
  const id = Number(value);
  if (!JOB_ID.test(value) || !Number.isSafeInteger(id)) {
    throw badUserInputError('jobId must be a forge job id (a non-negative integer)');
  }
  return id;
}

function parseJti(value: string): string {
  if (value.length === 0 || value.length > MAX_JTI_LENGTH) {
    throw badUserInputError(`jti must be between 1 and ${MAX_JTI_LENGTH} characters`);
  }
  return value;
}

/**
 * When the jti revocation ends, seconds since the epoch: `expiresAt` (the token's `exp`) when
 * given, else the latest moment any token accepted now can still be valid. Either is capped at
 * that latest moment, so a far-future `expiresAt` cannot keep an entry in Redis for ever.
 */
function jtiUntil(expiresAt: string | null | undefined, latestSeconds: number): number {
  if (expiresAt === null || expiresAt === undefined) return latestSeconds;
  // The Time scalar has already checked the format; Date.parse cannot return NaN here.
  const exp = Math.ceil(Date.parse(expiresAt) / 1000);
  return Math.min(exp + REVOCATION_GRACE_SECONDS, latestSeconds);
}

/** Resolvers of the revocation domain. */
export const revocationResolvers = {
  Mutation: {
    jobTokenRevoke: async (
      _: unknown,
      { input }: { input: JobTokenRevokeInput },
      ctx: GatewayContext,
    ): Promise<JobTokenRevokePayload> => {
      const { principal } = ctx;
      if (principal.kind !== 'user' || !principal.isAdmin) {
        throw forbiddenActionError(
          'only instance administrators can revoke job tokens; sign in with an admin user token',
        );
      }
      const jti = input.jti === null || input.jti === undefined ? undefined : parseJti(input.jti);
      const jobId =
        input.jobId === null || input.jobId === undefined ? undefined : parseJobId(input.jobId);
      if (jti === undefined && jobId === undefined) {
        throw badUserInputError('give the jti of a token, the jobId of a job, or both');
      }
      const nowSeconds = Math.ceil(Date.now() / 1000);
      const latest = nowSeconds + ctx.maxTokenLifetimeSeconds + REVOCATION_GRACE_SECONDS;
      const errors: string[] = [];
      let revoked = false;
      if (jti !== undefined) {
        const until = jtiUntil(input.expiresAt, latest);
        if (until > nowSeconds) {
          await ctx.revocations.revokeJti(jti, until);
          revoked = true;
          await auditAdmin(ctx, 'TOKEN_REVOKED', {
            jtiSha256: sha256Hex(jti),
            until: new Date(until * 1000).toISOString(),
          });
        } else {
          errors.push('expiresAt is long past: that token is no longer accepted anyway');
        }
      }
      if (jobId !== undefined) {
        await ctx.revocations.revokeJob(jobId, latest);
        revoked = true;
        await auditAdmin(ctx, 'JOB_REVOKED', {
          jobId,
          until: new Date(latest * 1000).toISOString(),
        });
      }
      return { revoked, errors };
    },
  },
};

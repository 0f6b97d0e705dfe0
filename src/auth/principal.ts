/**
 * Who is making a request, as proven by a verified token (DESIGN.md section 3).
 *
 * A discriminated union on `kind`; every `switch` over it ends in an exhaustiveness check.
 * Nothing here holds the raw token: a principal may be logged by id, never by token.
 */
import type { JobTokenAccessLevel, JobTokenResource } from '../policy/types.js';

/** A CI job token (the forge's `id_tokens` claims), with ids as strings as the forge sends them. */
export interface JobTokenPrincipal {
  readonly kind: 'job';
  /** Configured issuer that verified the token. */
  readonly issuer: string;
  /** Token id (`jti`), the unit of revocation. */
  readonly jti: string;
  /** Token expiry, seconds since the epoch (`exp`). */
  readonly expiresAt: number;
  /** Source project: where the job runs. */
  readonly projectId: number;
  readonly projectPath: string;
  readonly namespaceId: number;
  readonly namespacePath: string;
  /** Forge user id of the user who triggered the job. Roles are looked up by this, never by login. */
  readonly userId: number;
  /** Display only: never used for a decision. */
  readonly userLogin: string;
  readonly jobId: number;
  readonly pipelineId: number;
  readonly pipelineSource?: string | undefined;
  readonly ref: string;
  readonly refType: string;
  readonly refProtected: boolean;
  /**
   * The `job_token_permissions` claim, parsed. `undefined`: the claim is absent (no narrowing).
   * Present: every resource it does not list is NONE.
   */
  readonly jobPermissions?:
    Readonly<Partial<Record<JobTokenResource, JobTokenAccessLevel>>> | undefined;
}

/** A person, authenticated by the identity provider; `sub` is the forge user id. */
export interface UserPrincipal {
  readonly kind: 'user';
  readonly issuer: string;
  readonly userId: number;
  readonly username?: string | undefined;
  /** Listed in `SCOPEGATE_ADMIN_USERS`. */
  readonly isAdmin: boolean;
  readonly expiresAt: number;
  readonly jti?: string | undefined;
}

/** No token at all: reaches only public features of public projects, read-only. */
export interface AnonymousPrincipal {
  readonly kind: 'anonymous';
}

/** Any caller of the gateway. */
export type Principal = JobTokenPrincipal | UserPrincipal | AnonymousPrincipal;

/** The single anonymous principal. */
export const ANONYMOUS: AnonymousPrincipal = Object.freeze({ kind: 'anonymous' });

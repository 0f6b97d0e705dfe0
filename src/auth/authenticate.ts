/**
 * Turns a request's headers into a principal: no token → the anonymous principal; a token →
 * verified by the {@link JwtVerifier}, then checked against the revocation list (synchronously,
 * no round trip). Any refusal is the 401 `GatewayError` with its `reason`.
 */
import { ANONYMOUS, type Principal } from './principal.js';
import type { JwtVerifier, TokenCacheStats } from './verifier.js';
import type { RevocationList } from './revocation.js';
import { extractToken, type HeaderSource } from './extract-token.js';
import { authFailure } from './translate-jose-error.js';

/** Authenticates requests; see {@link createAuthenticator}. */
export interface Authenticator {
  /**
   * Returns the request's principal, or throws the 401 `GatewayError` (`MALFORMED`,
   * `BAD_SIGNATURE`, ..., `REVOKED`) when it carries a token that is refused. A request without
   * a token is anonymous, never refused here.
   */
  authenticate(headers: HeaderSource): Promise<Principal>;
  /** The verifier's verified-token cache counts (metrics); `undefined` when it is off. */
  tokenCacheStats(): TokenCacheStats | undefined;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Verifies tokens against the configured issuers. */
  verifier: JwtVerifier;
  /** Revoked tokens and jobs; consulted after a token verifies. */
  revocations: RevocationList;
}

/** Creates the request authenticator. */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const { verifier, revocations } = opts;
  return {
    tokenCacheStats: () => verifier.cacheStats?.(),
    async authenticate(headers) {
      const token = extractToken(headers);
      if (token === undefined) return ANONYMOUS;
      const principal = await verifier.verify(token);
      if (revocations.isRevoked(principal)) throw authFailure('REVOKED');
      return principal;
    },
  };
}

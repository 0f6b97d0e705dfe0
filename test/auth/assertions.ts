/**
 * Shared assertions of the auth tests: a refusal is a 401 `UNAUTHENTICATED` `GatewayError` with
 * the expected reason, and its message never carries the token or any part of it.
 */
import { expect } from 'vitest';
import { GatewayError, type AuthFailureReason } from '../../src/errors/codes.js';

/** Awaits `promise` and returns what it rejected with; fails the test if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Asserts that `err` is the 401 for `reason`, and that its message leaks nothing of `token`. */
export function expectAuthError(
  err: unknown,
  reason: AuthFailureReason,
  token?: string,
): GatewayError {
  expect(err).toBeInstanceOf(GatewayError);
  const gatewayError = err as GatewayError;
  expect(gatewayError.extensions).toMatchObject({
    code: 'UNAUTHENTICATED',
    reason,
    http: { status: 401 },
  });
  if (token !== undefined && token.length > 0) {
    expect(gatewayError.message).not.toContain(token);
    for (const segment of token.split('.')) {
      if (segment.length >= 8) expect(gatewayError.message).not.toContain(segment);
    }
  }
  return gatewayError;
}

/** Verifies `token` with `verify` and asserts it is refused for `reason`. */
export async function expectRefused(
  verify: (token: string) => Promise<unknown>,
  token: string,
  reason: AuthFailureReason,
): Promise<GatewayError> {
  return expectAuthError(await rejectionOf(verify(token)), reason, token);
}

/**
 * Wraps a Redis-backed service so that an unexpected failure of any of its promises (Redis
 * away, timed out, a script error) reaches the caller as `POLICY_UNAVAILABLE` (HTTP 503 when
 * nothing else resolved), the documented answer, instead of a masked `INTERNAL_SERVER_ERROR`.
 * Errors the service throws on purpose (typed refusals such as an entry limit) pass unchanged.
 */
import { GatewayError, policyUnavailableError } from '../errors/codes.js';

/** Wraps every method of `service` that returns a promise; `expected` errors pass through. */
export function failClosed<T extends object>(
  service: T,
  expected: (err: unknown) => boolean,
  message = 'the permission store is unavailable; try again later',
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(service)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]): unknown => {
      const result = fn.apply(service, args);
      if (!(result instanceof Promise)) return result;
      return result.catch((err: unknown) => {
        if (err instanceof GatewayError || expected(err)) throw err;
        throw policyUnavailableError(message);
      });
    };
  }
  return wrapped as T;
}

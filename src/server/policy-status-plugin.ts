/**
 * `policyStatusPlugin()`: the HTTP status of an operation that met `POLICY_UNAVAILABLE`, and
 * the debug extension with the request's Redis round trips.
 *
 * Apollo merges `extensions.http.status` of every error into the response, so one field that
 * failed closed would turn a response with data into a 503. DESIGN.md section 6 asks for 503
 * only when the whole operation failed that way: nothing resolved and every error is
 * `POLICY_UNAVAILABLE` (then with `Retry-After: 1`); otherwise 200 with partial data.
 *
 * With `debugExtensions` on (`SCOPEGATE_DEBUG_EXTENSIONS`, off by default) and the request header
 * `x-scopegate-debug: 1`, the response carries `extensions.scopegate = { redisRoundTrips,
 * redisWrites }` (tests, the benchmark and operators read it). Off by default because it is an
 * oracle: a private project the caller may not see costs a decision read, a missing one none,
 * so the counts would tell the two apart where the answers do not (DESIGN.md section 4).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '../errors/codes.js';
import type { GatewayContext } from './context.js';

/** The request header that asks for the debug extension. */
export const DEBUG_HEADER = 'x-scopegate-debug';

function anyDataResolved(data: Record<string, unknown> | null | undefined): boolean {
  return !!data && Object.values(data).some((v) => v !== null && v !== undefined);
}

/** Creates the plugin (see the module comment). */
export function policyStatusPlugin(
  options: { readonly debugExtensions?: boolean } = {},
): ApolloServerPlugin<GatewayContext> {
  const debug = options.debugExtensions === true;
  return {
    requestDidStart() {
      return Promise.resolve({
        willSendResponse({ response, contextValue, request }) {
          if (response.body.kind !== 'single') return Promise.resolve();
          const result = response.body.singleResult;
          const errors = result.errors ?? [];
          const failedClosed = errors.filter(
            (e) => e.extensions?.['code'] === ErrorCode.POLICY_UNAVAILABLE,
          );
          if (failedClosed.length > 0) {
            const whole = failedClosed.length === errors.length && !anyDataResolved(result.data);
            if (whole) {
              response.http.status = 503;
              response.http.headers.set('retry-after', '1');
            } else if (response.http.status === 503) {
              response.http.status = 200;
            }
          }
          if (debug && request.http?.headers.get(DEBUG_HEADER) === '1') {
            const counter = contextValue.authz.redis;
            result.extensions = {
              ...result.extensions,
              scopegate: { redisRoundTrips: counter.roundTrips, redisWrites: counter.writes },
            };
          }
          return Promise.resolve();
        },
      });
    },
  };
}

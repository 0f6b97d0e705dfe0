/**
 * Error masking (CONVENTIONS.md "Errors"): errors built by `src/errors/codes.ts` and GraphQL's
 * own validation errors pass through; anything else (a thrown `Error`, a library failure)
 * becomes `INTERNAL_SERVER_ERROR` with no detail and no stack.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, GatewayError } from '../errors/codes.js';

/** Codes of Apollo's errors about the request itself (never about execution). */
const REQUEST_ERROR_CODES: ReadonlySet<unknown> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  // Variable coercion (an unknown enum value such as resource: WIKI): the client's mistake.
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

function isRequestError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || !REQUEST_ERROR_CODES.has(error.extensions['code']))
    return false;
  const cause = error.originalError;
  // Only when the cause is graphql-js's own error, not a thrown Error a rule could quote.
  return !cause || (cause instanceof GraphQLError && !cause.originalError);
}

/** Apollo `formatError` hook. */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GatewayError) return formatted;
  // Apollo wraps graphql-js's parse and validation errors (SyntaxError, ValidationError, ...)
  // with the graphql-js error as `originalError`: a client's mistake, shown with its code.
  if (isRequestError(original)) return formatted;
  // GraphQL's own request errors (coercion, our plugins' refusals) have no cause.
  if (original instanceof GraphQLError && !original.originalError) {
    const { extensions } = formatted;
    return extensions?.['code'] === ErrorCode.INTERNAL_SERVER_ERROR
      ? { message: 'internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }
      : formatted;
  }
  return {
    message: 'internal server error',
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

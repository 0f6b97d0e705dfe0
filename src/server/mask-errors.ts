/**
 * Error masking (CONVENTIONS.md "Errors"): errors built by `src/errors/codes.ts` and GraphQL's
 * own validation errors pass through; anything else (a thrown `Error`, a library failure)
 * becomes `INTERNAL_SERVER_ERROR` with no detail and no stack.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, GatewayError } from '../errors/codes.js';

/** Apollo `formatError` hook. */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GatewayError) return formatted;
  // GraphQL's and Apollo's own request errors (parse, validation, coercion) have no cause.
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

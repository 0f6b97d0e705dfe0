/**
 * Error masking: our own errors and the client's request mistakes (parse, validation) keep their
 * code and message; anything else becomes INTERNAL_SERVER_ERROR with no detail and no stack.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { badUserInputError, forbiddenError } from '../../src/errors/codes.js';
import { maskError } from '../../src/server/mask-errors.js';
import { createTestGateway } from '../helpers/gateway.js';

const formatted = (e: GraphQLError): GraphQLFormattedError => e.toJSON();

describe('maskError', () => {
  it('passes errors built by our factories through unchanged', () => {
    const err = forbiddenError('no');
    expect(maskError(formatted(err), err)).toEqual(formatted(err));
    const input = badUserInputError('bad tag');
    expect(maskError(formatted(input), input).extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('masks a thrown Error with no message, stack or extensions left', () => {
    const err = new GraphQLError('connect ECONNREFUSED 10.0.0.7:6379 token=abc', {
      originalError: new Error('connect ECONNREFUSED 10.0.0.7:6379 token=abc'),
      path: ['project', 'releases'],
      extensions: { code: 'SOMETHING', stacktrace: ['at x'] },
    });
    expect(maskError(formatted(err), err)).toEqual({
      message: 'internal server error',
      path: ['project', 'releases'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('masks a request-error code when a thrown Error is behind it', () => {
    const cause = new GraphQLError('rule crashed', { originalError: new Error('secret detail') });
    const err = new GraphQLError('rule crashed', {
      originalError: cause,
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(maskError(formatted(err), err).message).toBe('internal server error');
  });

  it('keeps GraphQL and Apollo request errors over HTTP with their code and status', async () => {
    const t = await createTestGateway();
    try {
      const parse = await t.gql('{ project(fullPath: "x") { name ');
      expect(parse.status).toBe(400);
      expect(parse.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(parse.body.errors?.[0]?.message).toMatch(/^Syntax Error/);
      const invalid = await t.gql('{ project(fullPath: "x") { nope } }');
      expect(invalid.status).toBe(400);
      expect(invalid.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(invalid.body.errors?.[0]?.message).toBe(
        'Cannot query field "nope" on type "Project".',
      );
      const coercion = await t.gql('query($p: ID!) { project(fullPath: $p) { name } }', {});
      expect(coercion.status).toBe(400);
      expect(coercion.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      for (const r of [parse, invalid, coercion]) expect(r.text).not.toMatch(/stacktrace|at /);
    } finally {
      await t.close();
    }
  });
});

/**
 * Builds the executable schema: `schema.graphql` + the resolvers of every domain, then the
 * permission directive's transformer. `authorization: false` leaves the transformer out; it
 * exists only for the benchmark's baseline and is never reachable from configuration.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, GraphQLScalarType, Kind, type GraphQLSchema } from 'graphql';
import { transformer as requiresJobTokenPermission } from '../../directives/requires-job-token-permission.js';
import { complianceResolvers } from '../../resolvers/compliance.js';
import { containerResolvers } from '../../resolvers/containers.js';
import { jobTokenScopeMutationResolvers } from '../../resolvers/job-token-scope-mutations.js';
import { jobTokenScopeRolloutResolvers } from '../../resolvers/job-token-scope-rollout.js';
import { jobTokenScopeResolvers } from '../../resolvers/job-token-scope.js';
import { mergeRequestNoteResolvers } from '../../resolvers/merge-request-notes.js';
import { permissionResolvers } from '../../resolvers/permissions.js';
import { projectResolvers } from '../../resolvers/projects.js';
import { releaseResolvers } from '../../resolvers/releases.js';
import { adminResolvers } from '../../resolvers/admin.js';
import { revocationResolvers } from '../../resolvers/revocations.js';
import { tagResolvers } from '../../resolvers/tags.js';
import { packageRoot } from '../config/package-root.js';

/** Options of {@link buildGatewaySchema}. */
export interface BuildSchemaOptions {
  /** Apply `@requiresJobTokenPermission`. Default true; false only for benchmark baselines. */
  readonly authorization?: boolean;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseTime(value: unknown): string {
  if (typeof value !== 'string' || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(
      'Time must be an ISO 8601 date and time, e.g. "2026-12-01T00:00:00Z" or "2026-12-01"',
    );
  }
  return value;
}

/** `Time`: ISO 8601 strings, validated on input. */
export const TimeScalar = new GraphQLScalarType({
  name: 'Time',
  serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  parseValue: parseTime,
  parseLiteral: (ast) => parseTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

type ResolverMap = Record<string, Record<string, unknown>>;

function mergeResolverMaps(...maps: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const m of maps) {
    for (const [type, fields] of Object.entries(m)) {
      for (const name of Object.keys(fields)) {
        if (out[type]?.[name]) throw new Error(`resolver ${type}.${name} is defined twice`);
      }
      out[type] = { ...out[type], ...fields };
    }
  }
  return out;
}

/** The SDL text of `schema.graphql`. */
export function readSchemaSdl(): string {
  return readFileSync(join(packageRoot(), 'schema.graphql'), 'utf8');
}

/** The executable schema of the gateway. */
export function buildGatewaySchema(options: BuildSchemaOptions = {}): GraphQLSchema {
  const resolvers = mergeResolverMaps(
    projectResolvers,
    permissionResolvers,
    releaseResolvers,
    tagResolvers,
    containerResolvers,
    mergeRequestNoteResolvers,
    revocationResolvers,
    adminResolvers,
    jobTokenScopeResolvers,
    jobTokenScopeMutationResolvers,
    jobTokenScopeRolloutResolvers,
    complianceResolvers,
  );
  const schema = makeExecutableSchema({
    typeDefs: readSchemaSdl(),
    resolvers: { ...resolvers, Time: TimeScalar },
    resolverValidationOptions: { requireResolversToMatchSchema: 'error' },
  });
  return options.authorization === false ? schema : requiresJobTokenPermission(schema);
}

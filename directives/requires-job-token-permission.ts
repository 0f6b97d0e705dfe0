/**
 * `@requiresJobTokenPermission(resource, level)`: declares, in the SDL, the permission a field
 * (or every field of a type) needs. The transformer wraps each guarded resolver with a check
 * against the project that owns the data: `parent.ownerProjectId` for nested fields, the
 * `input.projectPath` (or `fullPath`) argument for root fields. Arguments are parsed into
 * typed requirements when the schema is built; a typo in the SDL fails at start-up.
 *
 * Hot path: when the target's decision is already held by the request (always, below a
 * `project` field), the check is a synchronous Map read and the original resolver is called
 * directly, with no promise in between.
 */
import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  type GraphQLSchema,
  isInputObjectType,
  isObjectType,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
} from 'graphql';
import type { TargetDecision } from '../src/cache/request-authorizer.js';
import { forbiddenError, internalError, notFoundError } from '../src/errors/codes.js';
import { denialMessage } from '../src/policy/explain.js';
import {
  LEVEL_RANK,
  LEVELS,
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';

/** The directive's name, as written in `schema.graphql`. */
export const DIRECTIVE_NAME = 'requiresJobTokenPermission';

/** The directive's definition (also declared in `schema.graphql`, where readers see it). */
export const typeDefs = /* GraphQL */ `
  directive @${DIRECTIVE_NAME}(resource: JobTokenResource!, level: JobTokenAccessLevel!) on FIELD_DEFINITION | OBJECT
`;

/** One parsed requirement. */
export interface PermissionRequirement {
  readonly resource: JobTokenResource;
  readonly level: JobTokenAccessLevel;
  readonly rank: number;
}

/** Objects returned by resolvers below a project carry the id of the project that owns them. */
export interface Owned {
  readonly ownerProjectId: number;
}

/** How a guarded field finds its target project. */
type TargetFrom = { kind: 'parent' } | { kind: 'arg'; path: readonly string[] };

function parseRequirement(
  args: Record<string, unknown> | undefined,
  where: string,
): PermissionRequirement {
  const resource = args?.['resource'];
  const level = args?.['level'];
  if (!RESOURCES.includes(resource as JobTokenResource)) {
    throw new Error(`@${DIRECTIVE_NAME} on ${where}: unknown resource ${JSON.stringify(resource)}`);
  }
  if (!LEVELS.includes(level as JobTokenAccessLevel) || level === 'NONE') {
    throw new Error(`@${DIRECTIVE_NAME} on ${where}: level must be READ or WRITE`);
  }
  const l = level as JobTokenAccessLevel;
  return { resource: resource as JobTokenResource, level: l, rank: LEVEL_RANK[l] };
}

/**
 * The directive's uses on a type or field. graphql-js rejects an argument value the enum does
 * not hold (a typo such as `RELEASE`) without saying where; say where.
 */
function usesOn(
  schema: GraphQLSchema,
  node: Parameters<typeof getDirective>[1],
  where: string,
): Record<string, unknown>[] {
  try {
    return getDirective(schema, node, DIRECTIVE_NAME) ?? [];
  } catch (err) {
    throw new Error(`@${DIRECTIVE_NAME} on ${where}: ${(err as Error).message}`);
  }
}

function rootTarget(field: GraphQLFieldConfig<unknown, unknown>, where: string): TargetFrom {
  const input = field.args?.['input'];
  if (input) {
    const t = getNamedType(input.type);
    if (isInputObjectType(t) && t.getFields()['projectPath'])
      return { kind: 'arg', path: ['input', 'projectPath'] };
  }
  if (field.args?.['fullPath']) return { kind: 'arg', path: ['fullPath'] };
  throw new Error(
    `@${DIRECTIVE_NAME} on root field ${where} needs an "input.projectPath" or "fullPath" argument to name its target project`,
  );
}

function argAt(args: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = args;
  for (const k of path)
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** First unmet requirement, or `undefined` when all are met. */
function unmet(
  decision: TargetDecision,
  reqs: readonly PermissionRequirement[],
): PermissionRequirement | undefined {
  for (const r of reqs) if (LEVEL_RANK[decision.set.resources[r.resource].level] < r.rank) return r;
  return undefined;
}

function deny(ctx: GatewayContext, decision: TargetDecision, req: PermissionRequirement): Error {
  // A project the caller may not even see is reported exactly like a missing one.
  if (!decision.visible) return notFoundError('the project was not found');
  const d = decision.set.resources[req.resource];
  ctx.onDenied?.(decision, req);
  return forbiddenError(
    denialMessage(decision.set, req.resource, req.level, ctx.authz.explainContext(decision)),
    {
      resource: req.resource,
      requiredLevel: req.level,
      grantedLevel: d.level,
      reason: d.reason,
    },
  );
}

/**
 * The check of requirements on a project the caller names (a root field's argument, or a
 * resolver's own check in `resolvers/require-permission.ts`): NOT_FOUND for a project that is
 * missing or not visible, FORBIDDEN for an unmet requirement, else the allowed use reported.
 */
export async function requireOnProjectRef(
  ctx: GatewayContext,
  ref: number | string,
  reqs: readonly PermissionRequirement[],
): Promise<void> {
  const decision = await ctx.authz.forProjectRef(ref);
  if (!decision) throw notFoundError('the project was not found');
  const missing = unmet(decision, reqs);
  if (missing) throw deny(ctx, decision, missing);
  ctx.onAllowed?.(decision, reqs);
  ctx.onUsed?.(decision, reqs);
  if (decision.set.auditWouldDeny) ctx.onAuditWouldDeny?.(decision, reqs);
}

function guard(
  resolve: GraphQLFieldResolver<unknown, GatewayContext>,
  reqs: readonly PermissionRequirement[],
  target: TargetFrom,
  bit: number,
): GraphQLFieldResolver<unknown, GatewayContext> {
  if (target.kind === 'arg') {
    return async (source, args, ctx, info) => {
      const ref = argAt(args, target.path);
      if (typeof ref !== 'string' || ref.length === 0)
        throw notFoundError('the project was not found');
      await requireOnProjectRef(ctx, ref, reqs);
      return resolve(source, args, ctx, info);
    };
  }
  // `bit` stands for `reqs` (every field with the same requirements shares it): once a request's
  // decision on a project has met them and their use is reported, its `checked` holds the bit
  // and every later field of that project with the same requirements (the rest of an object
  // list, and the lists' own fields) skips the comparison and the report. A decision belongs to
  // one request, so the next request checks and reports again. `bit` 0 (past 31 distinct lists)
  // checks every time.
  return (source, args, ctx, info) => {
    const owner = (source as Partial<Owned> | null)?.ownerProjectId;
    // Fail closed: an object that does not say which project owns it is never shown.
    if (typeof owner !== 'number') throw internalError();
    const held = ctx.authz.peek(owner);
    if (held) {
      if ((held.checked & bit) === 0) {
        const missing = unmet(held, reqs);
        if (missing) throw deny(ctx, held, missing);
        ctx.onUsed?.(held, reqs);
        held.checked |= bit;
      }
      if (held.set.auditWouldDeny) ctx.onAuditWouldDeny?.(held, reqs);
      return resolve(source, args, ctx, info);
    }
    return ctx.authz.forProjectRef(owner).then((decision) => {
      if (!decision) throw notFoundError('the project was not found');
      const missing = unmet(decision, reqs);
      if (missing) throw deny(ctx, decision, missing);
      ctx.onUsed?.(decision, reqs);
      decision.checked |= bit;
      if (decision.set.auditWouldDeny) ctx.onAuditWouldDeny?.(decision, reqs);
      return resolve(source, args, ctx, info);
    });
  };
}

/** Applies the directive to a schema: every guarded field's resolver is wrapped. */
export function transformer(schema: GraphQLSchema): GraphQLSchema {
  const rootTypes = new Set(
    [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) =>
      t ? [t.name] : [],
    ),
  );
  const typeReqs = new Map<string, PermissionRequirement[]>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const found = usesOn(schema, type, type.name);
    if (found.length > 0) {
      if (rootTypes.has(type.name))
        throw new Error(`@${DIRECTIVE_NAME} cannot guard the root type ${type.name}`);
      typeReqs.set(
        type.name,
        found.map((a) => parseRequirement(a, type.name)),
      );
    }
  }
  // Fields with the same requirements share one frozen array and one bit (the per-request memo
  // in `guard`), so every field of `Release` and `Project.releases` count as one.
  const shared = new Map<string, { reqs: readonly PermissionRequirement[]; bit: number }>();
  const intern = (
    list: PermissionRequirement[],
  ): { reqs: readonly PermissionRequirement[]; bit: number } => {
    const key = list.map((r) => `${r.resource}:${r.level}`).join(',');
    let found = shared.get(key);
    if (!found) {
      const bit = shared.size < 31 ? 1 << shared.size : 0;
      shared.set(key, (found = { reqs: Object.freeze(list), bit }));
    }
    return found;
  };
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
      const where = `${typeName}.${fieldName}`;
      const own = usesOn(schema, field, where).map((a) => parseRequirement(a, where));
      // A type's entry is never empty (set only when the directive is found on it).
      if (own.length === 0 && !typeReqs.has(typeName)) return field;
      const { reqs, bit } = intern([...(typeReqs.get(typeName) ?? []), ...own]);
      const target: TargetFrom = rootTypes.has(typeName)
        ? rootTarget(field, where)
        : { kind: 'parent' };
      const resolve = (field.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<
        unknown,
        GatewayContext
      >;
      return { ...field, resolve: guard(resolve, reqs, target, bit) };
    },
  });
}

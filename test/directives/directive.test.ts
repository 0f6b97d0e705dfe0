/**
 * `@requiresJobTokenPermission` on the schema itself: every write is guarded, every resource is
 * guarded wherever it is reached, SDL typos fail at build time naming the field, objects with
 * no owner fail closed, and a held decision keeps the check synchronous (DESIGN.md section 6).
 * Resolvers are called directly with plain fake contexts; nothing is mocked.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  graphql,
  isObjectType,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import {
  DIRECTIVE_NAME,
  transformer,
  typeDefs as directiveTypeDefs,
} from '../../directives/requires-job-token-permission.js';
import type { RequestAuthorizer, TargetDecision } from '../../src/cache/request-authorizer.js';
import {
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../../src/policy/types.js';
import { buildGatewaySchema, readSchemaSdl } from '../../src/server/schema.js';

/** Management mutations (DESIGN.md section 4): people only, never a job-token resource. */
const MANAGEMENT_MUTATIONS = new Set([
  'jobTokenScopeAddEntry',
  'jobTokenScopeUpdateEntry',
  'jobTokenScopeRemoveEntry',
  'jobTokenScopeSetEnforcement',
  'jobTokenScopeAutopopulate',
  'jobTokenRevoke',
  'jobTokenRolesDrop',
]);

/** The SDL alone, directives readable, no resolvers and no transformer. */
const sdl = makeExecutableSchema({ typeDefs: readSchemaSdl() });

interface Requirement {
  resource: JobTokenResource;
  level: JobTokenAccessLevel;
}

const requirementsOf = (
  node: Parameters<typeof getDirective>[1],
  schema: GraphQLSchema = sdl,
): Requirement[] =>
  (getDirective(schema, node, DIRECTIVE_NAME) ?? []).map((a) => ({
    resource: a['resource'] as JobTokenResource,
    level: a['level'] as JobTokenAccessLevel,
  }));

/** Resource types: object types guarded as a whole, with the resource they belong to. */
const resourceTypes = new Map<string, JobTokenResource>();
for (const type of Object.values(sdl.getTypeMap())) {
  if (!isObjectType(type) || type.name.startsWith('__')) continue;
  const [req] = requirementsOf(type);
  if (req) resourceTypes.set(type.name, req.resource);
}

/** The resource type a field returns directly or through a connection or an edge. */
function resourceTypeOf(field: GraphQLField<unknown, unknown>): string | undefined {
  const base = getNamedType(field.type).name.replace(/(Connection|Edge)$/, '');
  return resourceTypes.has(base) ? base : undefined;
}

describe('the schema guards every write and every resource', () => {
  it('puts @requiresJobTokenPermission with level WRITE on every resource mutation, so no mutation is unguarded', () => {
    const mutation = sdl.getMutationType();
    expect(mutation).toBeDefined();
    for (const field of Object.values(mutation?.getFields() ?? {})) {
      if (MANAGEMENT_MUTATIONS.has(field.name)) continue;
      const reqs = requirementsOf(field);
      expect({ field: field.name, levels: reqs.map((r) => r.level) }).toEqual({
        field: field.name,
        levels: ['WRITE'],
      });
    }
  });

  it('guards each resource type as a whole with READ on its own resource', () => {
    expect(Object.fromEntries(resourceTypes)).toEqual({
      Release: 'RELEASES',
      Tag: 'TAGS',
      ContainerRepository: 'CONTAINERS',
      ContainerRepositoryTag: 'CONTAINERS',
      MergeRequest: 'MERGE_REQUEST_NOTES',
      Note: 'MERGE_REQUEST_NOTES',
    });
    for (const name of resourceTypes.keys()) {
      const type = sdl.getType(name);
      expect(isObjectType(type) && requirementsOf(type).map((r) => r.level)).toEqual(['READ']);
    }
  });

  it('guards every field that returns a resource, by its own directive, its parent resource, or its guarded mutation', () => {
    const mutations = Object.values(sdl.getMutationType()?.getFields() ?? {});
    for (const type of Object.values(sdl.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const base = resourceTypeOf(field);
        if (!base) continue;
        const resource = resourceTypes.get(base);
        const own = requirementsOf(field).some((r) => r.resource === resource);
        const parent = resourceTypes.get(type.name) === resource;
        const wrapper = type.name === `${base}Connection` || type.name === `${base}Edge`;
        const payloadOf = mutations.filter((m) => getNamedType(m.type).name === type.name);
        const payload =
          payloadOf.length > 0 &&
          payloadOf.every((m) =>
            requirementsOf(m).some((r) => r.resource === resource && r.level === 'WRITE'),
          );
        expect({
          field: `${type.name}.${field.name}`,
          guarded: own || parent || wrapper || payload,
        }).toEqual({ field: `${type.name}.${field.name}`, guarded: true });
      }
    }
  });
});

/** A small schema with the directive, for build-time checks. */
function buildSmall(sdlText: string): GraphQLSchema {
  return transformer(
    makeExecutableSchema({
      typeDefs: [
        directiveTypeDefs,
        /* GraphQL */ `
          enum JobTokenResource {
            RELEASES
            TAGS
            CONTAINERS
            MERGE_REQUEST_NOTES
            PACKAGES
          }
          enum JobTokenAccessLevel {
            NONE
            READ
            WRITE
          }
        `,
        sdlText,
      ],
    }),
  );
}

describe('an SDL typo fails the build and names the field', () => {
  it('rejects a resource the permission model does not know', () => {
    expect(() =>
      buildSmall(`
        type Query { ok: String }
        type Thing { name: String @requiresJobTokenPermission(resource: PACKAGES, level: READ) }
        type Mutation { x(input: In!): Thing }
        input In { projectPath: ID! }
      `),
    ).toThrow(/Thing\.name.*unknown resource "PACKAGES"/);
  });

  it('rejects a resource value missing from the enum, naming the field', () => {
    expect(() =>
      transformer(
        makeExecutableSchema({
          typeDefs: [
            directiveTypeDefs,
            `enum JobTokenResource { RELEASES }
             enum JobTokenAccessLevel { NONE READ WRITE }
             type Query { p(fullPath: ID!): String @requiresJobTokenPermission(resource: RELEASE, level: READ) }`,
          ],
        }),
      ),
    ).toThrow(/Query\.p/);
  });

  it('rejects level NONE, which would guard nothing', () => {
    expect(() =>
      buildSmall(`
        type Query { p(fullPath: ID!): String @requiresJobTokenPermission(resource: TAGS, level: NONE) }
      `),
    ).toThrow(/Query\.p.*level must be READ or WRITE/);
  });

  it('rejects a guarded root field that names no target project', () => {
    expect(() =>
      buildSmall(`
        type Query { ok: String }
        type Mutation { tagCreate(name: String!): String @requiresJobTokenPermission(resource: TAGS, level: WRITE) }
      `),
    ).toThrow(/Mutation\.tagCreate.*"input\.projectPath" or "fullPath"/);
  });

  it('rejects a root type guarded as a whole', () => {
    expect(() =>
      buildSmall(`
        type Query @requiresJobTokenPermission(resource: TAGS, level: READ) { ok: String }
      `),
    ).toThrow(/root type Query/);
  });

  it('builds the real schema', () => {
    expect(() => buildGatewaySchema()).not.toThrow();
  });
});

// ---- resolver-level behaviour, with plain fake contexts -------------------------------------

const PROJECT_ID = 42;

function decisionFor(
  levels: Partial<Record<JobTokenResource, JobTokenAccessLevel>>,
  visible = true,
): TargetDecision {
  const resources = Object.fromEntries(
    RESOURCES.map((r) => {
      const level = levels[r] ?? 'NONE';
      return [
        r,
        {
          level,
          reason: level === 'NONE' ? 'NOT_IN_ALLOWLIST' : 'ENTRY_GRANTS',
          auditWouldDeny: false,
        },
      ];
    }),
  ) as TargetDecision['set']['resources'];
  return {
    project: {
      id: PROJECT_ID,
      name: 'b',
      path: 'b',
      path_with_namespace: 'acme/b',
      namespace: { id: 1, full_path: 'acme' },
      visibility: 'private',
    },
    set: { targetProjectId: PROJECT_ID, resources, auditWouldDeny: false, principalKind: 'job' },
    roleAccessLevel: 30,
    visible,
    checked: 0,
  };
}

/** The parts of the context the directive reads, as plain objects. */
interface FakeContext {
  readonly authz: Pick<RequestAuthorizer, 'peek' | 'forProjectRef' | 'explainContext'>;
  readonly loads: (number | string)[];
}

function fakeContext(held: TargetDecision | undefined, loaded = held): FakeContext {
  const loads: (number | string)[] = [];
  return {
    loads,
    authz: {
      peek: (id) => (held && id === held.project.id ? held : undefined),
      forProjectRef: (ref) => {
        loads.push(ref);
        return Promise.resolve(loaded ?? null);
      },
      explainContext: (d) => ({
        targetPath: d.project.path_with_namespace,
        sourcePath: 'acme/app',
        userLabel: 'alice',
        roleAccessLevel: d.roleAccessLevel,
      }),
    },
  };
}

/** What `fn` throws synchronously (`undefined` when it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

const INFO = { fieldName: 'name' } as unknown as GraphQLResolveInfo;

/** The wrapped resolver of `Type.field` in a transformed schema. */
function resolverOf(schema: GraphQLSchema, typeName: string, fieldName: string) {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  const resolve = type.getFields()[fieldName]?.resolve;
  if (!resolve) throw new Error(`${typeName}.${fieldName} has no resolver`);
  return resolve as GraphQLFieldResolver<unknown, FakeContext>;
}

const thingSchema = buildSmall(`
  type Query { thing: Thing }
  type Thing @requiresJobTokenPermission(resource: RELEASES, level: READ) { name: String }
`);
const syncName: GraphQLFieldResolver<{ name: string }, unknown> = (p) => p.name;
const thingSchemaWithResolver = transformer(
  makeExecutableSchema({
    typeDefs: [
      directiveTypeDefs,
      `enum JobTokenResource { RELEASES TAGS CONTAINERS MERGE_REQUEST_NOTES }
       enum JobTokenAccessLevel { NONE READ WRITE }
       type Query { thing: Thing }
       type Thing @requiresJobTokenPermission(resource: RELEASES, level: READ) { name: String }`,
    ],
    resolvers: { Thing: { name: syncName } },
  }),
);

describe('the field check at request time', () => {
  it('fails closed with INTERNAL_SERVER_ERROR and no data when the parent does not say which project owns it', async () => {
    const res = await graphql({
      schema: thingSchema,
      source: '{ thing { name } }',
      rootValue: { thing: { name: 'secret of acme/b' } },
      contextValue: fakeContext(decisionFor({ RELEASES: 'WRITE' })),
    });
    expect(res.data).toEqual({ thing: { name: null } });
    expect(res.errors?.map((e) => e.extensions['code'])).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(JSON.stringify(res)).not.toContain('secret');
  });

  it('returns a plain value, not a promise, from a sync resolver when the decision is held', () => {
    const ctx = fakeContext(decisionFor({ RELEASES: 'READ' }));
    const resolve = resolverOf(thingSchemaWithResolver, 'Thing', 'name');
    const out = resolve({ ownerProjectId: PROJECT_ID, name: 'v1.0.0' }, {}, ctx, INFO);
    expect(out).not.toBeInstanceOf(Promise);
    expect(out).toBe('v1.0.0');
    expect(ctx.loads).toEqual([]);
  });

  it('throws FORBIDDEN synchronously, with the denial details, when the held decision is too low', () => {
    const ctx = fakeContext(decisionFor({ TAGS: 'WRITE' }));
    const resolve = resolverOf(thingSchemaWithResolver, 'Thing', 'name');
    const thrown = thrownBy(() =>
      resolve({ ownerProjectId: PROJECT_ID, name: 'v1.0.0' }, {}, ctx, INFO),
    );
    expect(thrown).toMatchObject({
      extensions: {
        code: 'FORBIDDEN',
        resource: 'RELEASES',
        requiredLevel: 'READ',
        grantedLevel: 'NONE',
        reason: 'NOT_IN_ALLOWLIST',
      },
    });
    expect(ctx.loads).toEqual([]);
  });

  it('checks every decision it is given, after one that met the requirement too', () => {
    // The resolver remembers the last decision that met its requirements (same object, same
    // answer); another decision, of another caller or of the same caller after a policy change,
    // is checked again.
    const resolve = resolverOf(thingSchemaWithResolver, 'Thing', 'name');
    const allowed = fakeContext(decisionFor({ RELEASES: 'READ' }));
    const denied = fakeContext(decisionFor({ TAGS: 'WRITE' }));
    const source = { ownerProjectId: PROJECT_ID, name: 'v1.0.0' };
    for (let i = 0; i < 3; i++) {
      expect(resolve(source, {}, allowed, INFO)).toBe('v1.0.0');
      expect(resolve(source, {}, allowed, INFO)).toBe('v1.0.0');
      expect(thrownBy(() => resolve(source, {}, denied, INFO))).toMatchObject({
        extensions: { code: 'FORBIDDEN', resource: 'RELEASES' },
      });
    }
    const hidden = fakeContext(decisionFor({}, false));
    expect(thrownBy(() => resolve(source, {}, hidden, INFO))).toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
  });

  it('reports a use once per request and decision, and again in the next request', () => {
    const TAG_NAME = { ...INFO, fieldName: 'tagName' };
    const schema = buildGatewaySchema();
    const used: string[] = [];
    // As the authorizer does: every request holds a decision object of its own.
    const request = (requestId: string) => ({
      ...fakeContext(decisionFor({ RELEASES: 'READ' })),
      requestId,
      onUsed: () => void used.push(requestId),
    });
    const release = { ownerProjectId: PROJECT_ID, tagName: 'v1', name: 'v1.0.0' };
    for (const id of ['r1', 'r2', 'r2b']) {
      const ctx = request(id);
      // Two fields with the same requirements, each several times: one report per request.
      for (let i = 0; i < 5; i++) {
        expect(resolverOf(schema, 'Release', 'tagName')(release, {}, ctx, TAG_NAME)).toBe('v1');
        expect(resolverOf(schema, 'Release', 'name')(release, {}, ctx, INFO)).toBe('v1.0.0');
      }
    }
    expect(used).toEqual(['r1', 'r2', 'r2b']);
  });

  it('keeps the memo per requirement list: a decision that met RELEASES READ is still checked, and refused, for TAGS', () => {
    const TAG_NAME = { ...INFO, fieldName: 'tagName' };
    const schema = buildGatewaySchema();
    const ctx = { ...fakeContext(decisionFor({ RELEASES: 'READ' })), onUsed: vi.fn() };
    const release = { ownerProjectId: PROJECT_ID, tagName: 'v1', name: 'v1.0.0' };
    expect(resolverOf(schema, 'Release', 'tagName')(release, {}, ctx, TAG_NAME)).toBe('v1');
    expect(ctx.onUsed).toHaveBeenCalledTimes(1);
    // Tags need TAGS READ, which this decision does not give: the RELEASES memo does not cover it.
    const tag = { ownerProjectId: PROJECT_ID, name: 'v1' };
    expect(thrownBy(() => resolverOf(schema, 'Tag', 'name')(tag, {}, ctx, INFO))).toMatchObject({
      extensions: { code: 'FORBIDDEN', resource: 'TAGS' },
    });
    expect(thrownBy(() => resolverOf(schema, 'Tag', 'name')(tag, {}, ctx, INFO))).toMatchObject({
      extensions: { code: 'FORBIDDEN', resource: 'TAGS' },
    });
    expect(ctx.onUsed).toHaveBeenCalledTimes(1);
  });

  it('loads the decision of a project seen for the first time, then checks it', async () => {
    const ctx = fakeContext(undefined, decisionFor({ RELEASES: 'READ' }));
    const resolve = resolverOf(thingSchemaWithResolver, 'Thing', 'name');
    const out = resolve({ ownerProjectId: PROJECT_ID, name: 'v1.0.0' }, {}, ctx, INFO);
    expect(out).toBeInstanceOf(Promise);
    await expect(out).resolves.toBe('v1.0.0');
    expect(ctx.loads).toEqual([PROJECT_ID]);
  });

  it('checks a Release against the project that owns it wherever it is reached, a releaseCreate payload included', () => {
    const schema = buildGatewaySchema();
    const payload = schema.getMutationType()?.getFields()['releaseCreate']?.type;
    const payloadType = payload && getNamedType(payload);
    expect(
      isObjectType(payloadType) && getNamedType(payloadType.getFields()['release']!.type).name,
    ).toBe('Release');
    const ctx = fakeContext(decisionFor({ TAGS: 'WRITE' }));
    const release = { ownerProjectId: PROJECT_ID, tagName: 'v9', name: 'secret' };
    for (const field of ['tagName', 'name', 'description', 'author']) {
      const thrown = thrownBy(() => resolverOf(schema, 'Release', field)(release, {}, ctx, INFO));
      expect({ field, thrown }).toMatchObject({
        field,
        thrown: { extensions: { code: 'FORBIDDEN', resource: 'RELEASES', requiredLevel: 'READ' } },
      });
    }
    const allowed = fakeContext(decisionFor({ RELEASES: 'READ' }));
    expect(
      resolverOf(schema, 'Release', 'tagName')(release, {}, allowed, {
        ...INFO,
        fieldName: 'tagName',
      }),
    ).toBe('v9');
  });

  it('answers a root check on an invisible project NOT_FOUND, like a missing one', async () => {
    const schema = buildSmall(`
      type Query { ok: String }
      type Mutation { tagCreate(input: In!): String @requiresJobTokenPermission(resource: TAGS, level: WRITE) }
      input In { projectPath: ID! }
    `);
    const resolve = resolverOf(schema, 'Mutation', 'tagCreate');
    const args = { input: { projectPath: 'acme/b' } };
    const hidden = fakeContext(undefined, decisionFor({}, false));
    const missing = fakeContext(undefined, undefined);
    const errorOf = async (ctx: FakeContext) => {
      try {
        await resolve(undefined, args, ctx, INFO);
      } catch (err) {
        return err as { message: string; extensions: Record<string, unknown> };
      }
      throw new Error('expected a denial');
    };
    const [a, b] = await Promise.all([errorOf(hidden), errorOf(missing)]);
    expect(a.extensions['code']).toBe('NOT_FOUND');
    expect(a.message).toBe(b.message);
    expect(a.extensions).toEqual(b.extensions);
  });
});

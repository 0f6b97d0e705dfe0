/**
 * Loads the shared authorization scenarios (`../shared/scenarios/authz-cases.json`) and turns
 * a case into the policy engine's input. Used by the pure engine tests and by the end-to-end
 * tests, so both read the table the same way.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import { DEFAULT_INSTANCE_SETTINGS, type DecisionInput } from '../../src/policy/engine.js';
import { parseJobTokenClaims } from '../../src/auth/claims.js';
import {
  parsePolicyFile,
  toAllowlistEntry,
  type PolicyFile,
} from '../../src/policy/policy-file.js';
import {
  ENFORCEMENT_MODES,
  FEATURE_OF,
  LEVELS,
  RESOURCES,
  type FeatureAccessLevel,
  type InstanceSettings,
  type JobTokenAccessLevel,
  type JobTokenProfile,
  type JobTokenResource,
  type ReasonCode,
  type SourceProject,
  type TargetProject,
} from '../../src/policy/types.js';

/** Absolute path of the shared scenario table (test/helpers → repo root → ../shared/...). */
export const SCENARIOS_PATH: string = fileURLToPath(
  new URL('../../../shared/scenarios/authz-cases.json', import.meta.url),
);

const feature = z.enum(['enabled', 'private', 'disabled']);
const level = z.enum(LEVELS);
const resourceRecord = <T extends z.ZodType>(value: T) =>
  z.object({
    RELEASES: value,
    TAGS: value,
    CONTAINERS: value,
    MERGE_REQUEST_NOTES: value,
  });

const worldSchema = z.object({
  groups: z.array(
    z.object({ id: z.number(), full_path: z.string(), parent_id: z.number().nullable() }),
  ),
  projects: z.array(
    z.object({
      id: z.number(),
      path_with_namespace: z.string(),
      namespace_id: z.number(),
      visibility: z.enum(['public', 'internal', 'private']),
      features: z.record(z.string(), feature).optional(),
    }),
  ),
  defaultFeatures: z.record(z.string(), feature),
  users: z.array(z.object({ id: z.number(), username: z.string() })),
  members: z.record(z.string(), z.record(z.string(), z.number())),
});

/** The scenario world: groups, projects, users and memberships (forge REST field names). */
export type ScenarioWorld = z.infer<typeof worldSchema>;

const reasonCode = z.enum([
  'FEATURE_DISABLED',
  'PUBLIC_FEATURE',
  'SAME_PROJECT',
  'ENFORCEMENT_DISABLED',
  'AUDIT_WOULD_DENY',
  'DEFAULT_PERMISSIONS',
  'ENTRY_GRANTS',
  'PROJECT_IDENTITY',
  'NOT_IN_ALLOWLIST',
  'UNPROTECTED_REF',
  'ENTRY_LEVEL_TOO_LOW',
  'JOB_SCOPE',
  'ROLE_TOO_LOW',
  'USER_ROLE',
  'ANONYMOUS',
] as const satisfies readonly ReasonCode[]);
// A profile stays in the policy file's shape; `parsePolicyFile` validates it with the defaults.
const profileSpec = z.unknown();

const caseSchema = z.object({
  name: z.string(),
  token: z.object({
    project: z.string(),
    user: z.string(),
    refProtected: z.union([z.boolean(), z.enum(['true', 'false'])]),
    jobPermissions: z.record(z.string(), z.string()).optional(),
    userLoginOverride: z.string().optional(),
  }),
  target: z.string(),
  profile: profileSpec,
  otherProfiles: z.record(z.string(), profileSpec).optional(),
  instance: z
    .object({
      enforceAllowlistEverywhere: z.boolean().optional(),
      defaultEnforcement: z.enum(ENFORCEMENT_MODES).optional(),
    })
    .optional(),
  expect: resourceRecord(level),
  auditWouldDeny: z.boolean().optional(),
  reasons: z.partialRecord(z.enum(RESOURCES), reasonCode).optional(),
});

/** One row of the scenario table. */
export interface ScenarioCase {
  readonly name: string;
  readonly token: {
    readonly project: string;
    readonly user: string;
    /** A boolean, or the string form the forge sends (`"true"`/`"false"`). */
    readonly refProtected: boolean | string;
    /** The `job_token_permissions` claim as the token carries it (`{ releases: 'read' }`). */
    readonly jobPermissions?: Readonly<Record<string, string>> | undefined;
    /** A `user_login` claim that differs from the user's name (roles come from `user_id`). */
    readonly userLoginOverride?: string | undefined;
  };
  readonly target: string;
  /** The target's profile in the policy file's shape. */
  readonly profile: unknown;
  /** Other projects' profiles (policy file shape) that must have no effect. */
  readonly otherProfiles?: Readonly<Record<string, unknown>> | undefined;
  readonly instance?: Partial<InstanceSettings> | undefined;
  readonly expect: Readonly<Record<JobTokenResource, JobTokenAccessLevel>>;
  readonly auditWouldDeny?: boolean | undefined;
  readonly reasons?: Readonly<Partial<Record<JobTokenResource, ReasonCode>>> | undefined;
}

const fileSchema = z.object({
  roleCaps: resourceRecord(z.object({ READ: z.number(), WRITE: z.number() })),
  featureOf: resourceRecord(z.string()),
  world: worldSchema,
  cases: z.array(caseSchema),
});

/** The whole table, validated. */
export interface Scenarios {
  readonly world: ScenarioWorld;
  readonly cases: ScenarioCase[];
  /** The table's own copy of the role-cap table, to check against `ROLE_CAPS`. */
  readonly roleCaps: Readonly<Record<JobTokenResource, { READ: number; WRITE: number }>>;
  /** The table's own copy of the feature of each resource, to check against `FEATURE_OF`. */
  readonly featureOf: Readonly<Record<JobTokenResource, string>>;
}

/** Reads and validates the scenario table. */
export function loadScenarios(): Scenarios {
  return fileSchema.parse(JSON.parse(readFileSync(SCENARIOS_PATH, 'utf8')));
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`scenario world has no ${what}`);
  return value;
}

/** A project of the world by path. */
export function worldProject(
  world: ScenarioWorld,
  path: string,
): ScenarioWorld['projects'][number] {
  return must(
    world.projects.find((p) => p.path_with_namespace === path),
    `project ${path}`,
  );
}

/** A user of the world by username. */
export function worldUser(
  world: ScenarioWorld,
  username: string,
): { id: number; username: string } {
  return must(
    world.users.find((u) => u.username === username),
    `user ${username}`,
  );
}

/** The engine's view of a world project (default features plus the project's overrides). */
export function worldTarget(world: ScenarioWorld, path: string): TargetProject {
  const project = worldProject(world, path);
  const featureOf = (resource: JobTokenResource): FeatureAccessLevel => {
    const name = FEATURE_OF[resource];
    return must(project.features?.[name] ?? world.defaultFeatures[name], `feature ${name}`);
  };
  return {
    id: project.id,
    fullPath: project.path_with_namespace,
    visibility: project.visibility,
    features: {
      RELEASES: featureOf('RELEASES'),
      TAGS: featureOf('TAGS'),
      CONTAINERS: featureOf('CONTAINERS'),
      MERGE_REQUEST_NOTES: featureOf('MERGE_REQUEST_NOTES'),
    },
  };
}

/** A world project as a job's source: its ancestor groups, nearest first, from `parent_id`. */
export function worldSource(world: ScenarioWorld, path: string): SourceProject {
  const project = worldProject(world, path);
  const ancestorGroupIds: number[] = [];
  let groupId: number | null = project.namespace_id;
  while (groupId !== null) {
    const id: number = groupId;
    ancestorGroupIds.push(id);
    groupId = must(
      world.groups.find((g) => g.id === id),
      `group ${id}`,
    ).parent_id;
  }
  return { id: project.id, fullPath: project.path_with_namespace, ancestorGroupIds };
}

/** Forge access level of a user (looked up by user id) in a project; 0 when not a member. */
export function worldRole(world: ScenarioWorld, projectPath: string, userId: number): number {
  const members = world.members[projectPath] ?? {};
  const user = world.users.find((u) => u.id === userId);
  return user === undefined ? 0 : (members[user.username] ?? 0);
}

/** A profile in the policy file's shape, resolved against the world (sources by path → id). */
export function worldProfile(
  world: ScenarioWorld,
  targetPath: string,
  spec: unknown,
): JobTokenProfile {
  const file = parsePolicyFile({ version: 1, projects: { [targetPath]: spec } });
  const project = must(file.projects[targetPath], `profile for ${targetPath}`);
  return {
    projectId: worldProject(world, targetPath).id,
    enforcement: project.enforcement,
    version: 1,
    entries: project.entries.map((entry) => {
      const sourceId =
        entry.kind === 'PROJECT'
          ? worldProject(world, entry.source).id
          : must(
              world.groups.find((g) => g.full_path === entry.source),
              `group ${entry.source}`,
            ).id;
      return toAllowlistEntry(entry, sourceId);
    }),
  };
}

/** The job token principal of a case, as the auth layer would build it from verified claims. */
export function scenarioPrincipal(world: ScenarioWorld, c: ScenarioCase): JobTokenPrincipal {
  const source = worldProject(world, c.token.project);
  const namespace = must(
    world.groups.find((g) => g.id === source.namespace_id),
    `group ${source.namespace_id}`,
  );
  const user = worldUser(world, c.token.user);
  const refProtected = c.token.refProtected === true || c.token.refProtected === 'true';
  // Built by the auth layer's own claims parser, exactly as a verified token would be.
  return parseJobTokenClaims(
    {
      jti: `scenario-${c.name}`,
      sub: `project_path:${source.path_with_namespace}`,
      exp: 4_102_444_800,
      project_id: String(source.id),
      project_path: source.path_with_namespace,
      namespace_id: String(namespace.id),
      namespace_path: namespace.full_path,
      user_id: String(user.id),
      user_login: c.token.userLoginOverride ?? user.username,
      job_id: '1000',
      pipeline_id: '100',
      ref: refProtected ? 'main' : 'feature',
      ref_type: 'branch',
      ref_protected:
        typeof c.token.refProtected === 'string' ? c.token.refProtected : String(refProtected),
      ...(c.token.jobPermissions !== undefined
        ? { job_token_permissions: c.token.jobPermissions }
        : {}),
    },
    'https://forge.scenario.test',
  );
}

/** The instance settings of a case (defaults where it names none). */
export function scenarioInstance(c: ScenarioCase): InstanceSettings {
  return { ...DEFAULT_INSTANCE_SETTINGS, ...c.instance };
}

/** The engine input for a case: principal, target, profile, role by user id, source, instance. */
export function scenarioDecisionInput(world: ScenarioWorld, c: ScenarioCase): DecisionInput {
  const principal = scenarioPrincipal(world, c);
  return {
    principal,
    target: worldTarget(world, c.target),
    profile: worldProfile(world, c.target, c.profile),
    roleAccessLevel: worldRole(world, c.target, principal.userId),
    source: worldSource(world, c.token.project),
    instance: scenarioInstance(c),
  };
}

/**
 * The case's profiles (the target's and `otherProfiles`) as a policy file, e.g. for
 * `serve --policy` in end-to-end tests. Sources stay paths; the gateway resolves them.
 */
export function scenarioPolicyFile(c: ScenarioCase): PolicyFile {
  return parsePolicyFile({
    version: 1,
    projects: { ...c.otherProfiles, [c.target]: c.profile },
  });
}

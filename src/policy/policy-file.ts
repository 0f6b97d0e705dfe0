/**
 * The versioned policy file (DESIGN.md section 7): what `--policy`, `policy export` and
 * `policy import` read and write, in the same shape as the scenario tables' profiles.
 *
 * Sources are named by path here; resolving them to forge ids (which the engine matches on)
 * needs the upstream and happens in the caller, through {@link toAllowlistEntry}.
 */
import { z } from 'zod';
import { isLevel, isResource } from './levels.js';
import {
  ENFORCEMENT_MODES,
  LEVELS,
  RESOURCES,
  type AllowlistEntry,
  type JobTokenAccessLevel,
  type JobTokenEnforcement,
  type JobTokenResource,
  type PermissionMap,
  type SourceKind,
} from './types.js';

/** One allowlist entry of a policy file, all defaults applied. */
export interface PolicyFileEntry {
  /** Full path of the source project or group. */
  readonly source: string;
  readonly kind: SourceKind;
  /** Default `false`. */
  readonly defaultPermissions: boolean;
  /** Default `{}`. */
  readonly permissions: PermissionMap;
  /** Default `false`. */
  readonly protectedRefsOnly: boolean;
  /** Default `true`. */
  readonly boundToUserRole: boolean;
}

/** One target project's profile in a policy file. */
export interface PolicyFileProject {
  /** Default `ENFORCED`. */
  readonly enforcement: JobTokenEnforcement;
  /** Default `[]`. */
  readonly entries: readonly PolicyFileEntry[];
}

/** A parsed policy file: profiles by target project path. */
export interface PolicyFile {
  readonly version: 1;
  readonly projects: Readonly<Record<string, PolicyFileProject>>;
}

/** The only policy file version this build reads and writes. */
export const POLICY_FILE_VERSION = 1;

/** A policy file that cannot be used; the message names the path of every problem. */
export class PolicyFileError extends Error {
  /** One line per problem, each `path: what is wrong`. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid policy file: ${issues.join('; ')}`);
    this.name = 'PolicyFileError';
    this.issues = issues;
  }
}

const permissionsSchema = z.record(z.string(), z.unknown()).transform((raw, ctx): PermissionMap => {
  const out: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!isResource(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'unknown resource' });
    } else if (!isLevel(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `unknown level (expected ${LEVELS.join(', ')})`,
      });
    } else {
      out[key] = value;
    }
  }
  return out;
});

const entrySchema = z.strictObject({
  source: z.string().min(1),
  kind: z.enum(['PROJECT', 'GROUP']),
  defaultPermissions: z.boolean().default(false),
  permissions: permissionsSchema.default({}),
  protectedRefsOnly: z.boolean().default(false),
  boundToUserRole: z.boolean().default(true),
});

const projectSchema = z.strictObject({
  enforcement: z.enum(ENFORCEMENT_MODES).default('ENFORCED'),
  entries: z.array(entrySchema).default([]),
});

const fileSchema = z.strictObject({
  version: z.literal(POLICY_FILE_VERSION),
  projects: z.record(z.string().min(1), projectSchema),
});

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Formats a path like `projects["acme/b"].entries[0].permissions.RELEASE`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(file)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Per-parse messages: short, naming what was expected, never echoing whole values. */
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `expected ${issue.expected}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'unrecognized_keys':
      return `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'too_small':
      return 'must not be empty';
    default:
      return undefined;
  }
}

function crossChecks(file: PolicyFile): string[] {
  const problems: string[] = [];
  for (const [target, project] of Object.entries(file.projects)) {
    const seen = new Set<string>();
    project.entries.forEach((entry, i) => {
      const at = (field: string): string => formatPath(['projects', target, 'entries', i, field]);
      const key = entry.source.toLowerCase();
      if (seen.has(key)) problems.push(`${at('source')}: duplicate source "${entry.source}"`);
      seen.add(key);
      if (key === target.toLowerCase()) {
        problems.push(`${at('source')}: a project cannot list itself`);
      }
      if (entry.defaultPermissions && Object.keys(entry.permissions).length > 0) {
        problems.push(`${at('permissions')}: cannot be combined with defaultPermissions: true`);
      }
      if (entry.defaultPermissions && !entry.boundToUserRole) {
        problems.push(
          `${at('boundToUserRole')}: false cannot be combined with defaultPermissions: true (there is no role to default to)`,
        );
      }
    });
  }
  return problems;
}

/**
 * Validates a policy file (already parsed from JSON) and applies the defaults.
 * @throws PolicyFileError naming the path of every problem found.
 */
export function parsePolicyFile(json: unknown): PolicyFile {
  // The version decides how to read the rest, so an unknown version is the only problem reported.
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const version = (json as { version?: unknown }).version;
    if (version !== POLICY_FILE_VERSION) {
      const shown =
        version === undefined ? 'missing' : `unsupported version ${JSON.stringify(version)}`;
      throw new PolicyFileError([`version: ${shown} (expected ${POLICY_FILE_VERSION})`]);
    }
  }
  const result = fileSchema.safeParse(json, { error: issueMessage });
  if (!result.success) {
    throw new PolicyFileError(
      result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
    );
  }
  const file: PolicyFile = result.data;
  const problems = crossChecks(file);
  if (problems.length > 0) throw new PolicyFileError(problems);
  return file;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Writes a policy file as JSON with a stable order (projects by path, entries by source,
 * fields and resources in a fixed order, every default spelled out), so exports diff cleanly.
 */
export function serializePolicyFile(file: PolicyFile): string {
  const projects: Record<string, unknown> = {};
  for (const target of Object.keys(file.projects).sort(compareStrings)) {
    const project = file.projects[target];
    if (project === undefined) continue;
    projects[target] = {
      enforcement: project.enforcement,
      entries: [...project.entries]
        .sort((a, b) => compareStrings(a.source, b.source))
        .map((entry) => ({
          source: entry.source,
          kind: entry.kind,
          defaultPermissions: entry.defaultPermissions,
          permissions: Object.fromEntries(
            RESOURCES.filter((r) => entry.permissions[r] !== undefined).map((r) => [
              r,
              entry.permissions[r],
            ]),
          ),
          protectedRefsOnly: entry.protectedRefsOnly,
          boundToUserRole: entry.boundToUserRole,
        })),
    };
  }
  return `${JSON.stringify({ version: file.version, projects }, null, 2)}\n`;
}

/** The engine's form of a policy file entry, once its source path is resolved to a forge id. */
export function toAllowlistEntry(entry: PolicyFileEntry, sourceId: number): AllowlistEntry {
  return {
    sourceId,
    sourceKind: entry.kind,
    sourcePath: entry.source,
    defaultPermissions: entry.defaultPermissions,
    permissions: entry.permissions,
    protectedRefsOnly: entry.protectedRefsOnly,
    boundToUserRole: entry.boundToUserRole,
  };
}

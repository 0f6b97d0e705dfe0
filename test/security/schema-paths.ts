/**
 * Generates, from `schema.graphql`, every selection path from `Query.project` to each field a
 * job-token permission guards (the field carries `@requiresJobTokenPermission`, or its type
 * does), down to every leaf below it, and renders each path as a document in several shapes
 * (plain, aliased, inline fragments, named fragments, several root fields). Also renders every
 * guarded mutation with a payload selecting every leaf.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildSchema,
  getNamedType,
  isLeafType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/** Absolute path of the repository's `schema.graphql`. */
export const SCHEMA_PATH: string = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

/** The parsed schema (directives kept as AST, nothing executable). */
export function loadSchema(): GraphQLSchema {
  return buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));
}

const DIRECTIVE = 'requiresJobTokenPermission';

/** The resource a field or a type requires, when it is guarded. */
export function guardOf(
  node: GraphQLField<unknown, unknown> | GraphQLNamedType,
): string | undefined {
  const directive = node.astNode?.directives?.find((d) => d.name.value === DIRECTIVE);
  const arg = directive?.arguments?.find((a) => a.name.value === 'resource');
  return arg?.value.kind === 'EnumValue' ? arg.value.value : undefined;
}

/** One field of a path, with the parent type it is selected on. */
export interface PathStep {
  readonly parent: string;
  readonly field: string;
  /** Rendered arguments, e.g. `(iid: "1")`, or the empty string. */
  readonly args: string;
}

/** A path from a `Project` to a leaf, passing through a guarded field or type. */
export interface GuardedPath {
  readonly steps: readonly PathStep[];
  /** The resources the path passes through (the data at its end belongs to them). */
  readonly resources: readonly string[];
  /** `releases.nodes.name`, for test titles. */
  readonly label: string;
}

/** Values for required arguments, by name: ones that exist in every generated project. */
const REQUIRED_ARGS: Readonly<Record<string, string>> = {
  iid: '"1"',
  tagName: '"v1.0.0"',
};

/**
 * Optional arguments worth setting when present. Pagination windows are left at their
 * defaults: `first` multiplies the estimated cost, and three roots of the deepest path with
 * `first` at two levels would exceed the cost limit (a 400 that proves nothing).
 */
const OPTIONAL_ARGS: Readonly<Record<string, string>> = { search: '"v"' };

function renderArgs(field: GraphQLField<unknown, unknown>): string {
  const parts: string[] = [];
  for (const a of field.args) {
    const value = REQUIRED_ARGS[a.name] ?? OPTIONAL_ARGS[a.name];
    if (isNonNullType(a.type) && value === undefined)
      throw new Error(`no value for required argument ${field.name}(${a.name})`);
    if (value !== undefined) parts.push(`${a.name}: ${value}`);
  }
  return parts.length > 0 ? `(${parts.join(', ')})` : '';
}

/**
 * Every path from `Project` through a guarded field to a leaf. At the `Project` level only
 * guarded fields are followed (the others are the project's own identity and management
 * fields); below them every field is followed, to `maxDepth` steps.
 */
export function guardedPaths(schema: GraphQLSchema, maxDepth = 8): GuardedPath[] {
  const project = schema.getType('Project');
  if (!isObjectType(project)) throw new Error('schema has no Project type');
  const out: GuardedPath[] = [];
  const walk = (
    type: GraphQLObjectType,
    steps: PathStep[],
    resources: string[],
    seen: ReadonlySet<string>,
  ): void => {
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      const guards = [guardOf(field), guardOf(named)].filter((g): g is string => g !== undefined);
      if (steps.length === 0 && guards.length === 0) continue;
      const step: PathStep = { parent: type.name, field: field.name, args: renderArgs(field) };
      const nextSteps = [...steps, step];
      const nextResources = [...new Set([...resources, ...guards])];
      if (isLeafType(named)) {
        out.push({
          steps: nextSteps,
          resources: nextResources,
          label: nextSteps.map((s) => s.field).join('.'),
        });
      } else if (isObjectType(named) && !seen.has(named.name) && nextSteps.length < maxDepth) {
        walk(named, nextSteps, nextResources, new Set([...seen, named.name]));
      }
    }
  };
  walk(project, [], [], new Set(['Project']));
  return out;
}

/** The shapes a path is rendered in. */
export const SHAPES = ['plain', 'aliases', 'inline fragments', 'named fragments'] as const;
/** One of {@link SHAPES}. */
export type Shape = (typeof SHAPES)[number];

/** The selection below `project(...)` for `steps`, in `shape`; named fragments are appended. */
function renderSelection(
  steps: readonly PathStep[],
  shape: Shape,
  fragments: string[],
  prefix: string,
): string {
  const [head, ...rest] = steps;
  if (!head) return '';
  const inner = rest.length > 0 ? ` { ${renderSelection(rest, shape, fragments, prefix)} }` : '';
  const field = `${head.field}${head.args}${inner}`;
  switch (shape) {
    case 'plain':
      return field;
    case 'aliases':
      return `${prefix}${steps.length}: ${field} __typename`;
    case 'inline fragments':
      return `... on ${head.parent} { ${field} }`;
    case 'named fragments': {
      const name = `${prefix}F${steps.length}`;
      fragments.push(`fragment ${name} on ${head.parent} { ${field} }`);
      return `...${name}`;
    }
    default: {
      const unreachable: never = shape;
      throw new Error(`unknown shape ${String(unreachable)}`);
    }
  }
}

/**
 * A query reading `path` from each of `roots` (alias → variable name), all in `shape`. Each
 * root gets its own fragments, so the roots do not share a definition.
 */
export function renderQuery(
  path: GuardedPath,
  shape: Shape,
  roots: readonly (readonly [alias: string, variable: string])[],
): string {
  const fragments: string[] = [];
  const variables = [...new Set(roots.map(([, v]) => v))].map((v) => `$${v}: ID!`).join(', ');
  const fields = roots
    .map(
      ([alias, v]) =>
        `${alias}: project(fullPath: $${v}) { ${renderSelection(path.steps, shape, fragments, alias)} }`,
    )
    .join('\n  ');
  return `query(${variables}) {\n  ${fields}\n}\n${fragments.join('\n')}`;
}

/** Every leaf below `type`, rendered as a selection (objects followed to `depth`). */
export function allLeaves(type: GraphQLNamedType, depth = 3): string {
  if (!isObjectType(type)) return '';
  const parts: string[] = [];
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    if (isLeafType(named)) parts.push(field.name);
    else if (depth > 0 && isObjectType(named) && field.args.every((a) => !isNonNullType(a.type)))
      parts.push(`${field.name} { ${allLeaves(named, depth - 1)} }`);
  }
  return parts.join(' ');
}

/** A guarded mutation and a document calling it on `$input`, selecting every payload leaf. */
export interface GuardedMutation {
  readonly name: string;
  readonly resource: string;
  readonly inputType: string;
  readonly document: string;
}

/** Every mutation guarded by `@requiresJobTokenPermission`. */
export function guardedMutations(schema: GraphQLSchema): GuardedMutation[] {
  const mutation = schema.getMutationType();
  if (!mutation) return [];
  return Object.values(mutation.getFields()).flatMap((field) => {
    const resource = guardOf(field);
    const input = field.args.find((a) => a.name === 'input');
    if (!resource || !input) return [];
    const inputType = getNamedType(input.type).name;
    const document = `mutation($input: ${inputType}!) { ${field.name}(input: $input) { ${allLeaves(getNamedType(field.type))} } }`;
    return [{ name: field.name, resource, inputType, document }];
  });
}

/**
 * Request protection for `/graphql`: limits on a document's depth, aliases, tokens and cost
 * (graphql-armor's rules, run by Apollo's validation), and introspection refused to anonymous
 * callers outside the demo. Every rejection is a 400 before anything executes, so a
 * pathological query costs no upstream call and no authorization work.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  BREAK,
  getNamedType,
  getVariableValues,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../upstream/pagination.js';
import type { GatewayContext } from './context.js';

/** Limits on one GraphQL document. */
export interface RequestLimitOptions {
  /** Deepest field nesting (`{ a { b } }` is 2). Default 12. */
  readonly maxDepth?: number;
  /** Most aliased fields in one operation, fragments included. Default 30. */
  readonly maxAliases?: number;
  /** Most lexical tokens in the document; parsing stops past it. Default 2 000. */
  readonly maxTokens?: number;
  /**
   * Highest estimated cost (graphql-armor's model: an object field 2, a scalar 1, each level
   * ×1.5, a list field × its `first`). Default 5 000.
   */
  readonly maxCost?: number;
  /**
   * Most list pages one operation may ask for: each paginated field (one taking `first`) is a
   * page, two with `after`, times the items of the lists around it; an omitted `first` counts
   * the 20 items the resolver serves. Default 100.
   */
  readonly maxPages?: number;
}

/** The normalised form of {@link RequestLimitOptions}. */
export type ResolvedRequestLimits = Required<RequestLimitOptions>;

/** Default limits: generous for every query the schema's clients need, far below abuse. */
export const DEFAULT_REQUEST_LIMITS: ResolvedRequestLimits = Object.freeze({
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 2_000,
  maxCost: 5_000,
  maxPages: 100,
});

/** Fills in defaults; throws at start-up on a limit that is not a positive integer. */
export function resolveRequestLimits(options: RequestLimitOptions = {}): ResolvedRequestLimits {
  const resolved = { ...DEFAULT_REQUEST_LIMITS };
  for (const key of Object.keys(DEFAULT_REQUEST_LIMITS) as (keyof ResolvedRequestLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`"${key}" must be a positive integer`);
    resolved[key] = value;
  }
  return Object.freeze(resolved);
}

/**
 * graphql-armor's rules throw out of `validate()` by default, which Apollo would answer with a
 * 500; reporting through the context instead makes each a `GRAPHQL_VALIDATION_FAILED` (400).
 * Their messages start with "Syntax Error: ", which these are not.
 */
function reportTo(ctx: ValidationContext | null, err: GraphQLError): void {
  ctx?.reportError(
    new GraphQLError(err.message.replace(/^Syntax Error: /, ''), {
      extensions: { limit: true },
    }),
  );
}

const armorCallbacks = { onReject: [reportTo], propagateOnRejection: false };

// Depth and cost are about fields: an inline fragment or a named fragment spread is not a
// level. graphql-armor counts each as one (and multiplies the cost by 1.5 again) unless told to
// flatten them, which rejected the same selection written with one fragment per level (as
// codegen and Relay clients write it) while the plain form passed.
const flatten = { flattenFragments: true };

// graphql-armor's defaults, named so the rule and `operationLimitsPlugin` price fields the same.
const COST_MODEL = { objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 } as const;

/** Validation rules enforcing the depth, alias and cost limits. */
export function limitValidationRules(limits: ResolvedRequestLimits): ValidationRule[] {
  return [
    maxDepthRule({
      n: limits.maxDepth,
      ...flatten,
      ...armorCallbacks,
    }) as unknown as ValidationRule,
    maxAliasesRule({ n: limits.maxAliases, ...armorCallbacks }) as unknown as ValidationRule,
    costLimitRule({
      maxCost: limits.maxCost,
      ...COST_MODEL,
      ...flatten,
      ...armorCallbacks,
    }) as unknown as ValidationRule,
  ];
}

/**
 * Parser options enforcing the token limit. graphql-js counts tokens while lexing and aborts
 * past `maxTokens` (the same technique as graphql-armor's max-tokens, which needs envelop), so
 * a huge document is never fully parsed; Apollo answers `GRAPHQL_PARSE_FAILED` (400).
 */
export function limitParseOptions(limits: ResolvedRequestLimits): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** Whether a document selects `__schema` or `__type` anywhere (fragments included). */
export function selectsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value !== '__schema' && node.name.value !== '__type') return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

/**
 * Refuses `__schema` and `__type` to anonymous callers (the principal is only known per
 * request, so this is a plugin, not a validation rule). `__typename` stays allowed.
 */
export function anonymousIntrospectionPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document }) {
          if (contextValue.principal.kind !== 'anonymous' || !selectsIntrospection(document))
            return;
          throw new GraphQLError('introspection needs a signed-in caller', {
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
          });
        },
      };
    },
  };
}

/** What one cost computation reads: the schema, the document's fragments, the variables. */
interface CostWalk {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly variables: Readonly<Record<string, unknown>>;
  /** Costs of fragments already priced; -1 while one is being priced (as graphql-armor). */
  readonly fragmentCosts: Map<string, number>;
}

/**
 * A list field's multiplier: its `first` (or `last`) argument at least 1, as graphql-armor,
 * except that a variable counts with its value. A variable the request did not send (and whose
 * definition has no default) makes graphql-js execute the field as if the argument were
 * omitted, so it counts as the omitted argument: the schema's default, or 1.
 */
function listMultiplier(
  node: FieldNode,
  field: GraphQLField<unknown, unknown> | undefined,
  w: CostWalk,
): number {
  for (const arg of node.arguments ?? []) {
    const name = arg.name.value;
    if (name !== 'first' && name !== 'last') continue;
    let value: unknown;
    if (arg.value.kind === Kind.INT) value = parseInt(arg.value.value, 10);
    else if (arg.value.kind === Kind.VARIABLE) {
      const variable = arg.value.name.value;
      value = Object.hasOwn(w.variables, variable)
        ? w.variables[variable]
        : field?.args.find((a) => a.name === name)?.defaultValue;
    }
    return typeof value === 'number' ? Math.max(value, 1) : 1;
  }
  return 1;
}

/**
 * graphql-armor's cost of one node with `flattenFragments` (its `computeComplexity`, same
 * arithmetic in the same order, so a document without variables gets the very same figure).
 * `parent` is the type the node is selected on; it is only needed for argument defaults.
 */
function nodeCost(
  node: FieldNode | InlineFragmentNode | FragmentSpreadNode | FragmentDefinitionNode,
  parent: GraphQLNamedType | undefined,
  w: CostWalk,
): number {
  if (node.kind === Kind.FRAGMENT_SPREAD) return spreadCost(node, w);
  if (node.kind === Kind.FIELD && node.name.value === '__schema') return 0;
  if (!node.selectionSet) return COST_MODEL.scalarCost;
  let field: GraphQLField<unknown, unknown> | undefined;
  let type = parent;
  if (node.kind === Kind.FIELD) {
    field =
      isObjectType(parent) || isInterfaceType(parent)
        ? parent.getFields()[node.name.value]
        : undefined;
    type = field && getNamedType(field.type);
  } else if (node.typeCondition) {
    type = w.schema.getType(node.typeCondition.name.value) ?? undefined;
  }
  let cost: number = COST_MODEL.objectCost;
  for (const child of node.selectionSet.selections) {
    cost +=
      child.kind === Kind.FIELD
        ? COST_MODEL.depthCostFactor * nodeCost(child, type, w)
        : nodeCost(child, type, w);
  }
  return node.kind === Kind.FIELD ? cost * listMultiplier(node, field, w) : cost;
}

function spreadCost(node: FragmentSpreadNode, w: CostWalk): number {
  const name = node.name.value;
  const seen = w.fragmentCosts.get(name);
  if (seen !== undefined) return COST_MODEL.scalarCost + COST_MODEL.depthCostFactor * seen;
  w.fragmentCosts.set(name, -1);
  const fragment = w.fragments.get(name);
  if (!fragment) return COST_MODEL.scalarCost;
  const cost = nodeCost(fragment, undefined, w);
  if (w.fragmentCosts.get(name) === -1) w.fragmentCosts.set(name, cost);
  return COST_MODEL.scalarCost + cost;
}

/** A document's fragment definitions by name. */
function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  return fragments;
}

/** The estimated cost of `operation` with `variables` (already coerced, defaults applied). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
): number {
  const fragments = fragmentsOf(document);
  const w: CostWalk = { schema, fragments, variables, fragmentCosts: new Map() };
  const root = schema.getRootType(operation.operation) ?? undefined;
  return operation.selectionSet.selections.reduce((sum, s) => sum + nodeCost(s, root, w), 0);
}

/** What one page count reads: the document's fragments, the variables, fragments' counts. */
interface PageWalk {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly variables: Readonly<Record<string, unknown>>;
  readonly fragmentPages: Map<string, number>;
}

/** A literal or variable argument's value; `undefined` when omitted, `null` or not sent. */
function argumentValue(node: FieldNode, name: string, w: PageWalk): unknown {
  const arg = node.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  if (arg.value.kind === Kind.VARIABLE) {
    const variable = arg.value.name.value;
    return Object.hasOwn(w.variables, variable) ? (w.variables[variable] ?? undefined) : undefined;
  }
  if (arg.value.kind === Kind.INT) return parseInt(arg.value.value, 10);
  if (arg.value.kind === Kind.STRING) return arg.value.value;
  return arg.value.kind === Kind.NULL ? undefined : arg.value;
}

/**
 * The list pages a selection set asks for, once (its parent's items multiply it). A paginated
 * field is what `paginate` does: `first` items (20 when omitted), no call for 0 or a `first`
 * it refuses, and a second page when `after` starts part-way through one. Other fields cost
 * what their children cost. Fragments are counted once each, so a document reusing fragments
 * costs linear time however often it spreads them (validation has refused fragment cycles).
 */
function selectionPages(
  selections: SelectionSetNode | undefined,
  parent: GraphQLNamedType | undefined,
  w: PageWalk,
): number {
  let pages = 0;
  for (const node of selections?.selections ?? []) {
    if (node.kind === Kind.FRAGMENT_SPREAD) {
      const name = node.name.value;
      let counted = w.fragmentPages.get(name);
      if (counted === undefined) {
        const fragment = w.fragments.get(name);
        const type = fragment && w.schema.getType(fragment.typeCondition.name.value);
        counted = fragment ? selectionPages(fragment.selectionSet, type ?? undefined, w) : 0;
        w.fragmentPages.set(name, counted);
      }
      pages += counted;
    } else if (node.kind === Kind.INLINE_FRAGMENT) {
      const type = node.typeCondition && w.schema.getType(node.typeCondition.name.value);
      pages += selectionPages(node.selectionSet, type ?? parent, w);
    } else if (node.selectionSet) {
      const field =
        isObjectType(parent) || isInterfaceType(parent)
          ? parent.getFields()[node.name.value]
          : undefined;
      const type = field && getNamedType(field.type);
      const inner = selectionPages(node.selectionSet, type, w);
      if (!field?.args.some((a) => a.name === 'first')) {
        pages += inner;
        continue;
      }
      const first = argumentValue(node, 'first', w) ?? DEFAULT_PAGE_SIZE;
      if (typeof first !== 'number' || !Number.isInteger(first)) continue;
      if (first < 1 || first > MAX_PAGE_SIZE) continue; // refused or empty: no call
      const after = argumentValue(node, 'after', w);
      const own = after === undefined || after === '' ? 1 : 2; // `paginate`: "" is no cursor
      pages += own + first * inner;
    }
  }
  return pages;
}

/** The list pages `operation` asks for with `variables` (already coerced, defaults applied). */
export function operationPages(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
): number {
  const fragments = fragmentsOf(document);
  const w: PageWalk = { schema, fragments, variables, fragmentPages: new Map() };
  return selectionPages(
    operation.selectionSet,
    schema.getRootType(operation.operation) ?? undefined,
    w,
  );
}

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: true, http: { status: 400 } },
  });
}

/**
 * The limits that need the variables, checked before anything executes.
 *
 * Cost: graphql-armor's rule runs in validation, before variables exist, so `tags(first: $n)`
 * counted as a list of 1 whatever `$n` was: two nested lists of 100 passed as variables, and
 * with aliases made hundreds of forge calls on the service credential. This prices the
 * operation again with the coerced variable values (the defaults of variable definitions
 * included) and refuses as the rule does: 400 `GRAPHQL_VALIDATION_FAILED`, "Query Cost limit of
 * N exceeded, found M.".
 *
 * Pages: graphql-armor's model also prices an omitted `first` as a list of 1, while the
 * resolver serves 20; `containerRepositories { nodes { tags { … } } }` is 21 forge calls for
 * the price of one, 609 with 29 aliases. The page count (`operationPages`) bounds the forge
 * calls themselves, omitted `first` included. An operation without variables always counts the
 * same, so its count is kept with the parsed operation (Apollo keeps the parsed document of a
 * query text it has seen).
 *
 * A `first` above the page maximum is refused by the resolver with `BAD_USER_INPUT`, literal or
 * variable alike.
 */
export function operationLimitsPlugin(
  limits: ResolvedRequestLimits,
): ApolloServerPlugin<GatewayContext> {
  const fixedPages = new WeakMap<OperationDefinitionNode, number>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return; // Apollo has refused the request already
          let pages: number;
          if (!operation.variableDefinitions?.length) {
            // Without variables the validation rule's cost is exact: only the pages to count.
            const known = fixedPages.get(operation);
            pages = known ?? operationPages(schema, document, operation, {});
            if (known === undefined) fixedPages.set(operation, pages);
          } else {
            const coerced = getVariableValues(
              schema,
              operation.variableDefinitions,
              request.variables ?? {},
            );
            // Variables that do not coerce: execution refuses them before any resolver runs.
            if (coerced.errors) return;
            const cost = operationCost(schema, document, operation, coerced.coerced);
            if (cost > limits.maxCost)
              throw limitError(`Query Cost limit of ${limits.maxCost} exceeded, found ${cost}.`);
            pages = operationPages(schema, document, operation, coerced.coerced);
          }
          if (pages <= limits.maxPages) return;
          throw limitError(
            `Query asks for up to ${pages} list pages, over the limit of ${limits.maxPages}.`,
          );
        },
      };
    },
  };
}

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
  getVariableValues,
  GraphQLError,
  visit,
  type DocumentNode,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { GatewayContext } from './context.js';
import {
  COST_MODEL,
  mergedOperationPages,
  operationCost,
  operationPages,
} from './operation-cost.js';

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
   * ×1.5, a list field × its `first`). Default 10 000: a full page of 100 with `nodes`, `edges`
   * and `pageInfo` (about 6 000) passes, two nested lists of 100 (about 245 000) do not.
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
  maxCost: 10_000,
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
          // The fast count is an upper bound (a field repeated through fragments counts each
          // time it is written); over the limit, the merged count (what execution does) decides.
          const count = (variables: Readonly<Record<string, unknown>>): number => {
            const bound = operationPages(schema, document, operation, variables);
            if (bound <= limits.maxPages) return bound;
            return mergedOperationPages(schema, document, operation, variables) ?? bound;
          };
          let pages: number;
          if (!operation.variableDefinitions?.length) {
            // Without variables the validation rule's cost is exact: only the pages to count.
            const known = fixedPages.get(operation);
            pages = known ?? count({});
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
            pages = count(coerced.coerced);
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

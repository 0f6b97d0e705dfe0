/**
 * What an operation costs before it runs, for the limits in `limits.ts`: graphql-armor's cost
 * estimate (`operationCost`, the same arithmetic as its rule, with variable values) and the
 * list pages it asks for (`operationPages`). Pure walks over a parsed, validated document.
 */
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../upstream/pagination.js';

/** graphql-armor's cost-limit defaults, named so its rule and `operationCost` price alike. */
export const COST_MODEL = { objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 } as const;

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

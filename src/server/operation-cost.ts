/**
 * What an operation costs before it runs, for the limits in `limits.ts`: graphql-armor's cost
 * estimate (`operationCost`, the same arithmetic as its rule, with variable values) and the
 * list pages it asks for (`operationPages`, an upper bound, and `mergedOperationPages`, fields
 * merged as execution merges them). Pure walks over a parsed, validated document.
 */
import {
  getNamedType,
  isAbstractType,
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
/** The field `name` of `parent`, when `parent` is a type with fields. */
function fieldOf(
  parent: GraphQLNamedType | undefined,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

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
    field = fieldOf(parent, node.name.value);
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
function argumentValue(node: FieldNode, name: string, w: Pick<PageWalk, 'variables'>): unknown {
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
      const field = fieldOf(parent, node.name.value);
      const type = field && getNamedType(field.type);
      const inner = selectionPages(node.selectionSet, type, w);
      if (!field?.args.some((a) => a.name === 'first')) {
        pages += inner;
        continue;
      }
      pages += listPages(node, inner, w);
    }
  }
  return pages;
}

/**
 * The pages of one list field (one with a `first` argument) whose items each ask for `inner`
 * pages: what `paginate` does with its `first` (20 when omitted) and `after`.
 */
function listPages(node: FieldNode, inner: number, w: Pick<PageWalk, 'variables'>): number {
  const first = argumentValue(node, 'first', w) ?? DEFAULT_PAGE_SIZE;
  if (typeof first !== 'number' || !Number.isInteger(first)) return 0;
  if (first < 1 || first > MAX_PAGE_SIZE) return 0; // refused or empty: no call
  const after = argumentValue(node, 'after', w);
  const own = after === undefined || after === '' ? 1 : 2; // `paginate`: "" is no cursor
  return own + first * inner;
}

/**
 * The list pages `operation` asks for with `variables` (already coerced, defaults applied),
 * each field taken as written: an upper bound, in time linear in the document. A field that
 * execution merges with another of the same response key counts twice here; see
 * {@link mergedOperationPages}.
 */
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

/** What one merged page count reads, and the selections it may still visit. */
interface MergeWalk extends Omit<PageWalk, 'fragmentPages'> {
  budget: number;
}

/** Selections the merged count visits before it gives up (the upper bound stands). */
export const MERGED_PAGES_BUDGET = 20_000;

/**
 * Collects a selection set's fields by response key as execution does (graphql-js
 * `collectFields`): fragments expanded once per selection set, skipped when their type condition
 * cannot apply to an object of `parent`. `false` when the budget ran out.
 */
function collectFields(
  selections: SelectionSetNode,
  parent: GraphQLNamedType | undefined,
  w: MergeWalk,
  out: Map<string, FieldNode[]>,
  visited: Set<string>,
): boolean {
  for (const node of selections.selections) {
    if ((w.budget -= 1) < 0) return false;
    if (node.kind === Kind.FIELD) {
      const key = node.alias?.value ?? node.name.value;
      const list = out.get(key);
      if (list) list.push(node);
      else out.set(key, [node]);
      continue;
    }
    let body: SelectionSetNode | undefined;
    let condition: string | undefined;
    if (node.kind === Kind.INLINE_FRAGMENT) {
      body = node.selectionSet;
      condition = node.typeCondition?.name.value;
    } else {
      const name = node.name.value;
      if (visited.has(name)) continue;
      visited.add(name);
      const fragment = w.fragments.get(name);
      body = fragment?.selectionSet;
      condition = fragment?.typeCondition.name.value;
    }
    if (!body || !applies(condition, parent, w)) continue;
    if (!collectFields(body, parent, w, out, visited)) return false;
  }
  return true;
}

/** Whether a fragment on `condition` applies to an object of `parent` (unknown: it may). */
function applies(
  condition: string | undefined,
  parent: GraphQLNamedType | undefined,
  w: Pick<PageWalk, 'schema'>,
): boolean {
  if (condition === undefined || !isObjectType(parent)) return true;
  if (condition === parent.name) return true;
  const type = w.schema.getType(condition);
  return type === undefined || (isAbstractType(type) && w.schema.isSubType(type, parent));
}

/** The pages of the fields merged under one response key; `undefined`: out of budget. */
function mergedFieldPages(
  nodes: readonly FieldNode[],
  parent: GraphQLNamedType | undefined,
  w: MergeWalk,
): number | undefined {
  const node = nodes[0];
  if (!node) return 0;
  const field = fieldOf(parent, node.name.value);
  const type = field && getNamedType(field.type);
  const children = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  for (const n of nodes)
    if (n.selectionSet && !collectFields(n.selectionSet, type, w, children, visited))
      return undefined;
  let inner = 0;
  for (const group of children.values()) {
    const pages = mergedFieldPages(group, type, w);
    if (pages === undefined) return undefined;
    inner += pages;
  }
  // Validation has made fields merged under one key the same field with the same arguments.
  if (!field?.args.some((a) => a.name === 'first')) return inner;
  return listPages(node, inner, w);
}

/**
 * The list pages `operation` asks for once fields repeated under the same response key are
 * merged, as execution merges them (`{ ...A ...B }` with both fragments selecting
 * `releases(first: 60)` is one list of 60, not two). Exact where {@link operationPages} is an
 * upper bound, and dearer (no fragment is counted once for all its uses), so it runs only on an
 * operation the bound refuses; `undefined` when it visited {@link MERGED_PAGES_BUDGET}
 * selections without finishing (the bound stands).
 */
export function mergedOperationPages(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  budget = MERGED_PAGES_BUDGET,
): number | undefined {
  const w: MergeWalk = {
    schema,
    fragments: fragmentsOf(document),
    variables,
    budget,
  };
  const root = schema.getRootType(operation.operation) ?? undefined;
  const fields = new Map<string, FieldNode[]>();
  if (!collectFields(operation.selectionSet, root, w, fields, new Set())) return undefined;
  let pages = 0;
  for (const group of fields.values()) {
    const p = mergedFieldPages(group, root, w);
    if (p === undefined) return undefined;
    pages += p;
  }
  return pages;
}

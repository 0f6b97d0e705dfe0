/**
 * Baseline (B): the same rules written with graphql-shield, the alternative a team would pick.
 *
 * The schema is scopegate's, built without the directive transformer (`authorization: false`),
 * then `applyMiddleware(schema, shield(rules))`. The rules are derived from the SDL's
 * `@requiresJobTokenPermission` uses (so they are exactly the same rules), and each is an async
 * graphql-shield `rule` that asks the same per-request authorizer and decision cache. The HTTP
 * path mirrors `startGateway`'s: authentication before Apollo, the same Apollo options, limits,
 * error masking and plugins, so the only difference from scopegate is how fields are checked.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { getDirective } from '@graphql-tools/utils';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, rule, shield } from 'graphql-shield';
import type { Authenticator } from '../src/auth/authenticate.js';
import type { RevocationList } from '../src/auth/revocation.js';
import type { DecisionCache } from '../src/cache/decision-cache.js';
import { createRequestAuthorizer } from '../src/cache/request-authorizer.js';
import { forbiddenError, GatewayError, notFoundError } from '../src/errors/codes.js';
import {
  LEVEL_RANK,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../src/policy/types.js';
import type { InstanceSettings } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import { readBody, requestIdOf, sendGraphQLError, UNCACHEABLE } from '../src/server/http-utils.js';
import {
  limitParseOptions,
  limitValidationRules,
  resolveRequestLimits,
  operationLimitsPlugin,
} from '../src/server/limits.js';
import { maskError } from '../src/server/mask-errors.js';
import { createGatewayMetrics } from '../src/server/metrics.js';
import { policyStatusPlugin } from '../src/server/policy-status-plugin.js';
import { buildGatewaySchema } from '../src/server/schema.js';
import type { ProfileStore } from '../src/store/profile-store.js';
import { createUpstreamClient, type UpstreamClientOptions } from '../src/upstream/client.js';
import { createUpstreamLoaders } from '../src/upstream/loaders.js';
import { createProjectCache, PROJECT_CACHE_DEFAULTS } from '../src/upstream/project-cache.js';
import { arrivalTicket } from '../src/upstream/shared-reads.js';

/** What the shield gateway needs (the fleet pieces of `startGateway`). */
export interface ShieldGatewayOptions {
  readonly upstream: UpstreamClientOptions;
  readonly authenticator: Authenticator;
  readonly revocations: RevocationList;
  readonly store: ProfileStore;
  readonly decisions: DecisionCache;
  readonly instance: InstanceSettings;
  /** The project cache (default `PROJECT_CACHE_DEFAULTS`, as `startGateway`). */
  readonly projectCache?: { readonly size: number; readonly ttlMs: number };
}

/** A running shield gateway. */
export interface ShieldGateway {
  readonly url: string;
  close(): Promise<void>;
}

interface Requirement {
  readonly resource: JobTokenResource;
  readonly rank: number;
}

type ShieldRule = ReturnType<ReturnType<typeof rule>>;
type RuleTree = Record<string, Record<string, ShieldRule>>;

function requirementsOf(args: Record<string, unknown>[] | undefined): Requirement[] {
  return (args ?? []).map((a) => ({
    resource: a['resource'] as JobTokenResource,
    rank: LEVEL_RANK[a['level'] as JobTokenAccessLevel],
  }));
}

/** One async rule per distinct requirement set, as a team would write `canReadReleases`. */
function permissionRule(reqs: readonly Requirement[], root: boolean): ShieldRule {
  return rule({ cache: 'no_cache' })(
    async (parent: unknown, args: Record<string, unknown>, ctx: GatewayContext) => {
      const input = args['input'] as { projectPath?: unknown } | undefined;
      const ref = root
        ? (input?.projectPath ?? args['fullPath'])
        : (parent as { ownerProjectId?: unknown } | null)?.ownerProjectId;
      if (typeof ref !== 'number' && typeof ref !== 'string')
        return notFoundError('the project was not found');
      const decision = await ctx.authz.forProjectRef(ref);
      if (!decision || !decision.visible) return notFoundError('the project was not found');
      for (const r of reqs) {
        if (LEVEL_RANK[decision.set.resources[r.resource].level] < r.rank)
          return forbiddenError(`the job token may not access ${r.resource}`);
      }
      return true;
    },
  );
}

/** The rule tree equivalent to the schema's `@requiresJobTokenPermission` uses. */
export function shieldRules(schema: GraphQLSchema): RuleTree {
  const roots = new Set(
    [schema.getQueryType(), schema.getMutationType()].flatMap((t) => (t ? [t.name] : [])),
  );
  const byKey = new Map<string, ShieldRule>();
  const tree: RuleTree = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeReqs = requirementsOf(getDirective(schema, type, 'requiresJobTokenPermission'));
    for (const [name, field] of Object.entries(type.getFields())) {
      const reqs = [
        ...typeReqs,
        ...requirementsOf(getDirective(schema, field, 'requiresJobTokenPermission')),
      ];
      if (reqs.length === 0) continue;
      const root = roots.has(type.name);
      const key = `${root ? 'root' : 'owned'}:${reqs.map((r) => `${r.resource}${r.rank}`).join(',')}`;
      let r = byKey.get(key);
      if (!r) {
        r = permissionRule(reqs, root);
        byKey.set(key, r);
      }
      (tree[type.name] ??= {})[name] = r;
    }
  }
  return tree;
}

/** Starts baseline (B) on a free port. */
export async function startShieldGateway(options: ShieldGatewayOptions): Promise<ShieldGateway> {
  const base = buildGatewaySchema({ authorization: false });
  const schema = applyMiddleware(
    base,
    shield(shieldRules(base), { allowExternalErrors: true, fallbackRule: allow, debug: false }),
  );
  const metrics = createGatewayMetrics();
  const upstream = createUpstreamClient(options.upstream);
  // The same process-wide project records as `startGateway` (its default settings).
  const projects = createProjectCache(options.projectCache ?? PROJECT_CACHE_DEFAULTS);
  const limits = resolveRequestLimits();
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    hideSchemaDetailsFromClientErrors: true,
    parseOptions: limitParseOptions(limits),
    validationRules: limitValidationRules(limits),
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      policyStatusPlugin({ debugExtensions: true }),
      metrics.plugin(),
      operationLimitsPlugin(limits),
      ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  async function graphql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // As `startGateway`'s route: reads may join identical forge calls made since arrival.
    const arrival = arrivalTicket();
    const requestId = requestIdOf(req);
    let principal;
    try {
      principal = await options.authenticator.authenticate(req.headers);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      return sendGraphQLError(res, 401, err.message, { code: 'UNAUTHENTICATED' });
    }
    const text = await readBody(req, 1024 * 1024);
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const callOptions = { requestId, arrival };
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers,
        search: '',
        body: JSON.parse(text) as unknown,
      },
      context: () => {
        const loaders = createUpstreamLoaders(upstream, callOptions, projects);
        return Promise.resolve({
          requestId,
          principal,
          loaders,
          upstream,
          callOptions,
          revocations: options.revocations,
          maxTokenLifetimeSeconds: 86_400,
          authz: createRequestAuthorizer(principal, loaders, {
            store: options.store,
            instance: options.instance,
            decisions: options.decisions,
          }),
        });
      },
    });
    const out: Record<string, string> = { 'x-request-id': requestId, ...UNCACHEABLE };
    for (const [k, v] of result.headers) out[k] = v;
    res.writeHead(result.status ?? 200, out);
    if (result.body.kind === 'complete') return void res.end(result.body.string);
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  }

  const server = createServer((req, res) => {
    graphql(req, res).catch(() => {
      if (!res.headersSent) sendGraphQLError(res, 500, 'internal server error', {});
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await apollo.stop();
    },
  };
}

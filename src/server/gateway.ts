/**
 * The gateway's HTTP server: `/graphql` through Apollo Server, `/healthz`, `/readyz` and
 * `/hooks/job-events`. Authentication happens before Apollo, so a bad token is a clean 401 with
 * `WWW-Authenticate`, and a request never reaches execution without a principal.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { createDecisionHooks } from '../audit/decision-log.js';
import { silentLogger } from '../audit/logger.js';
import { createRequestAuthorizer } from '../cache/request-authorizer.js';
import { GatewayError } from '../errors/codes.js';
import { DEFAULT_INSTANCE_SETTINGS } from '../policy/engine.js';
import { createUpstreamClient } from '../upstream/client.js';
import { createUpstreamLoaders } from '../upstream/loaders.js';
import { createCursorCodec } from '../upstream/pagination.js';
import { createProjectCache, PROJECT_CACHE_DEFAULTS } from '../upstream/project-cache.js';
import type { BreakerState } from '../upstream/resilience.js';
import { arrivalTicket } from '../upstream/shared-reads.js';
import type { GatewayContext } from './context.js';
import {
  BodyTooLargeError,
  readBody,
  requestIdOf,
  sendGraphQLError,
  sendJson,
  UNCACHEABLE,
} from './http-utils.js';
import {
  anonymousIntrospectionPlugin,
  limitParseOptions,
  limitValidationRules,
  resolveRequestLimits,
  operationLimitsPlugin,
} from './limits.js';
import {
  combineDecisionHooks,
  createGatewayMetrics,
  instrumentUpstream,
  routeLabel,
} from './metrics.js';
import { sendRateLimited } from './rate-limit.js';
import { logUpstream } from './upstream-log.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, closeGracefully } from './shutdown.js';
import { maskError } from './mask-errors.js';
import { policyStatusPlugin } from './policy-status-plugin.js';
import { buildGatewaySchema } from './schema.js';
import { createManagement } from './management.js';
import { serveJobEvents, serveMetrics } from './ops-routes.js';
import type { Gateway, GatewayOptions } from './gateway-types.js';

export type { Gateway, GatewayOptions, RouteHandler } from './gateway-types.js';

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function isJsonContentType(value: string | undefined): boolean {
  return !!value && /^application\/(json|graphql-response\+json)\b/i.test(value.trim());
}

/** Starts the gateway and resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const metrics = options.metrics ?? createGatewayMetrics();
  metrics.watchTokenCache(() => options.authenticator.tokenCacheStats());
  const projects = createProjectCache(options.projectCache ?? PROJECT_CACHE_DEFAULTS);
  metrics.watchProjectCache(() => projects?.stats());
  // Open circuit: the forge is failing, and `/readyz` says so (half-open still serves).
  let upstreamCircuit: BreakerState = 'closed';
  const logger = options.logger ?? silentLogger();
  const upstream = createUpstreamClient(
    instrumentUpstream(
      logUpstream(options.upstream, logger),
      metrics,
      (state) => (upstreamCircuit = state),
    ),
  );
  const instance = options.instance ?? DEFAULT_INSTANCE_SETTINGS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const management = createManagement(options.management, {
    store: options.store,
    instance,
    logger,
    upstream,
    onAuditDrop: (count) => metrics.observeAuditDrop(count),
  });
  const maxTokenLifetimeSeconds = options.maxTokenLifetimeSeconds ?? 86_400;
  // Every instance of a fleet shares the cursor key (`SCOPEGATE_CURSOR_SECRET`, else the
  // upstream credential), so a client may page on through any of them (pagination.ts).
  const [cursorSecret, ...previousCursorSecrets] = options.cursorSecrets ?? [];
  const cursors = createCursorCodec(cursorSecret ?? options.upstream.token, previousCursorSecrets);
  const limits = resolveRequestLimits(options.limits);
  const apollo = new ApolloServer<GatewayContext>({
    schema: buildGatewaySchema({ authorization: options.authorization ?? true }),
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    introspection: options.introspection ?? true,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // No "Did you mean ...?" suggestions: they would disclose the schema piece by piece.
    hideSchemaDetailsFromClientErrors: true,
    parseOptions: limitParseOptions(limits),
    validationRules: limitValidationRules(limits),
    plugins: [
      // No field has a cache hint: the plugin's per-field bookkeeping would only ever conclude
      // "no-store", which the response below says itself.
      ApolloServerPluginCacheControlDisabled(),
      policyStatusPlugin({ debugExtensions: options.debugExtensions ?? false }),
      metrics.plugin(),
      operationLimitsPlugin(limits),
      ...(options.anonymousIntrospection ? [] : [anonymousIntrospectionPlugin()]),
      options.landingPage === false
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    ],
  });
  await apollo.start();

  async function graphql(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    arrival: number,
  ): Promise<void> {
    let principal;
    try {
      principal = await options.authenticator.authenticate(req.headers);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      const { http, ...ext } = err.extensions as {
        http?: { status: number; headers?: Map<string, string> };
      };
      sendGraphQLError(
        res,
        http?.status ?? 401,
        err.message,
        ext,
        Object.fromEntries(http?.headers ?? []),
      );
      return;
    }
    // Counted before the body is read: a limited caller costs one Redis round trip, no parse.
    const limited = await options.rateLimiter?.check(principal);
    if (limited && !limited.allowed) {
      metrics.observeRateLimit(limited.limit);
      return sendRateLimited(res, limited.retryAfterSeconds, requestId);
    }
    if (limited?.failedOpen) metrics.observeRateLimit('failed_open');
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes);
      if (isJsonContentType(req.headers['content-type'])) {
        try {
          body = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          sendGraphQLError(res, 400, 'the request body is not valid JSON', { code: 'BAD_REQUEST' });
          return;
        }
      } else {
        body = text;
      }
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    // The arrival ticket lets this request's reads join identical calls made since it arrived.
    const callOptions = { requestId, arrival };
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => {
        const loaders = createUpstreamLoaders(upstream, callOptions, projects);
        return {
          requestId,
          principal,
          loaders,
          upstream,
          callOptions,
          cursors,
          revocations: options.revocations,
          maxTokenLifetimeSeconds,
          authz: createRequestAuthorizer(principal, loaders, {
            store: options.store,
            instance,
            decisions: options.decisions,
            onPolicyError: (err) =>
              logger.warn({ requestId, err: String(err) }, 'policy check failed closed'),
            onCacheLookup: metrics.observeCacheLookup,
          }),
          decisions: options.decisions,
          management: management.services,
          ...management.hooks(
            combineDecisionHooks(
              createDecisionHooks(logger, requestId, principal),
              metrics.decisionHooks,
            ),
            principal,
          ),
        };
      },
    });
    // `route` has set X-Request-Id and no-store already; Apollo's own headers are added to them.
    res.writeHead(result.status ?? 200, Object.fromEntries(result.headers));
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // First: a forge call made after this may answer this request's reads (shared-reads.ts).
    const arrival = arrivalTicket();
    const requestId = requestIdOf(req);
    // Set before any branch runs, so every answer carries both whoever writes it (Apollo, an
    // extra route, `/metrics`, an error below): `writeHead` merges these headers in.
    res.setHeader('x-request-id', requestId);
    for (const [name, value] of Object.entries(UNCACHEABLE)) res.setHeader(name, value);
    const started = performance.now();
    res.once('finish', () => {
      metrics.observeHttp(
        routeLabel(req.url),
        res.statusCode,
        (performance.now() - started) / 1000,
      );
      // The path only: a query string may carry a GraphQL document, never worth logging.
      logger.info(
        {
          event: 'http.request',
          requestId,
          method: req.method,
          path: (req.url ?? '/').split('?')[0],
          status: res.statusCode,
          durationMs: Math.round(performance.now() - started),
        },
        'request',
      );
    });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      if (path === '/graphql' && (req.method === 'GET' || req.method === 'POST'))
        return await graphql(req, res, requestId, arrival);
      if (path === '/healthz' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
      if (path === '/metrics' && req.method === 'GET') {
        // Folds the usage checks appended since the last batch, so the drop counter is current
        // (only for a scraper that holds the metrics token, when one is set).
        return await serveMetrics(req, res, metrics, options.metricsToken, () =>
          management.services.authLog.stats(),
        );
      }
      if (path === '/readyz' && req.method === 'GET') {
        const ready = options.readiness ? await options.readiness() : true;
        if (ready && upstreamCircuit === 'open')
          return sendJson(res, 503, { status: 'upstream unavailable' });
        return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'policy store down' });
      }
      if (path === '/hooks/job-events' && req.method === 'POST') {
        return await serveJobEvents(req, res, {
          secret: options.webhookSecret,
          revocations: options.revocations,
          maxLifetimeSeconds: maxTokenLifetimeSeconds,
          changeLog: management.services.changeLog,
        });
      }
      const extra = req.method === 'GET' ? options.extraRoutes?.[path] : undefined;
      if (extra) return extra(req, res);
      if (path === '/graphql')
        return sendJson(
          res,
          405,
          { error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' },
          { allow: 'GET, POST' },
        );
      return sendJson(res, 404, { error: 'not found', code: 'NOT_FOUND' });
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (!(err instanceof BodyTooLargeError)) {
        // The error's name only: a message from a library could quote input.
        logger.error(
          { event: 'http.error', requestId, error: err instanceof Error ? err.name : typeof err },
          'request failed',
        );
      }
      if (err instanceof BodyTooLargeError) {
        // The rest of the body is never read, so the connection cannot carry another request:
        // close it, or a keep-alive client would send its next request into the unread bytes.
        return sendGraphQLError(
          res,
          413,
          'the request body is too large',
          { code: 'BAD_REQUEST' },
          { connection: 'close' },
        );
      }
      return sendGraphQLError(res, 500, 'internal server error', { code: 'INTERNAL_SERVER_ERROR' });
    }
  }

  const server = createServer((req, res) => {
    // Closing: answer what is still arriving on open connections, then let them go.
    if (!server.listening) res.shouldKeepAlive = false;
    void route(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    server,
    async close(closeOptions = {}) {
      const graceMs = closeOptions.graceMs ?? options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
      const { forced } = await closeGracefully(server, graceMs);
      if (forced) logger.warn({ event: 'shutdown.forced', graceMs }, 'in-flight requests cut');
      await apollo.stop();
      await management.close();
      await upstream.close();
    },
  };
}

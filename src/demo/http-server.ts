/**
 * The embedded demo upstream: a real HTTP server on loopback that speaks the subset of the
 * forge's REST API v4 the gateway uses (DESIGN.md section 5), backed by a {@link DemoStore}.
 * Pointing the gateway at a real forge instead is a URL change.
 *
 * Tests drive it through {@link DemoUpstream}: every request is logged (with the
 * `PRIVATE-TOKEN` value redacted) so a test can assert that nothing was written upstream,
 * and faults can be injected per path.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultSet, sleep, streamHugeBody, type FaultRule } from './faults.js';
import { paginate, parseBody, readBody, sendJson, type Params } from './http-io.js';
import { DemoApiError } from './model.js';
import { matchRoute, type Route, type RouteContext } from './router.js';
import { projectRoutes } from './routes-projects.js';
import { mergeRequestRoutes, registryRoutes } from './routes-registry.js';
import { repositoryRoutes } from './routes-repository.js';
import type { DemoSeed } from './seed.js';
import { DemoStore } from './store.js';

export type { FaultRule } from './faults.js';

/** The `PRIVATE-TOKEN` the demo upstream expects unless told otherwise. */
export const DEFAULT_DEMO_UPSTREAM_TOKEN = 'demo-upstream-token';

/** Where the forge's API lives below the origin. */
const API_PREFIX = '/api/v4';

/** Options of {@link startDemoUpstream}. */
export interface StartDemoUpstreamOptions {
  /** The world to serve. */
  seed: DemoSeed;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to bind; default `127.0.0.1` (loopback only). */
  host?: string;
  /** The `PRIVATE-TOKEN` every request must carry; default {@link DEFAULT_DEMO_UPSTREAM_TOKEN}. */
  token?: string;
  /**
   * Every answer is made when its request arrives and sent this many milliseconds later, as a
   * forge across a network would answer (the bench). Default 0.
   */
  latencyMs?: number;
}

/** One request as the demo upstream received it. */
export interface UpstreamRequestLogEntry {
  /** Upper-case method. */
  method: string;
  /** Pathname and query string exactly as received (still URL-encoded). */
  path: string;
  /** Status answered; 0 while pending or when the connection was reset by a fault. */
  status: number;
  /** Whether the request carried the expected `PRIVATE-TOKEN`. */
  privateTokenOk: boolean;
  /**
   * Request headers with lower-case names; the `private-token` value is `[redacted]`. Other
   * headers are kept verbatim on purpose, so a test can prove that a caller's token was
   * never forwarded upstream.
   */
  headers: Record<string, string>;
}

/** A running demo upstream. */
export interface DemoUpstream {
  /** Base URL including `/api/v4`, e.g. `http://127.0.0.1:PORT/api/v4`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The `PRIVATE-TOKEN` it expects. */
  readonly token: string;
  /** Every request, in order of arrival (cleared by {@link DemoUpstream.clearRequests}). */
  readonly requests: UpstreamRequestLogEntry[];
  /** Only the POST, PUT, PATCH and DELETE requests. */
  writes(): UpstreamRequestLogEntry[];
  /** Empties {@link DemoUpstream.requests} (in place). */
  clearRequests(): void;
  /** Injects a fault; returns a function that removes it. */
  injectFault(rule: FaultRule): () => void;
  /** Removes every injected fault. */
  clearFaults(): void;
  /** The in-memory data, for test assertions. */
  readonly store: DemoStore;
  /** Stops listening and drops open connections (pending delays end at once). */
  close(): Promise<void>;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function redactHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] =
      name === 'private-token' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function tokenMatches(req: IncomingMessage, expected: Buffer): boolean {
  const given = req.headers['private-token'];
  if (typeof given !== 'string') return false;
  const buf = Buffer.from(given);
  return buf.length === expected.length && timingSafeEqual(buf, expected);
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Starts a demo upstream serving `opts.seed`; resolves once it is listening. */
export async function startDemoUpstream(opts: StartDemoUpstreamOptions): Promise<DemoUpstream> {
  const store = new DemoStore(opts.seed);
  const token = opts.token ?? DEFAULT_DEMO_UPSTREAM_TOKEN;
  const expectedToken = Buffer.from(token);
  const host = opts.host ?? '127.0.0.1';
  const requests: UpstreamRequestLogEntry[] = [];
  const faults = new FaultSet();
  const closing = new AbortController();
  const routes: readonly Route[] = [
    ...projectRoutes,
    ...repositoryRoutes,
    ...registryRoutes,
    ...mergeRequestRoutes,
  ];
  let origin = '';

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    entry: UpstreamRequestLogEntry,
  ): Promise<void> {
    /** Set by `latencyMs` or a `late` fault: the answer is made now and sent this many ms later. */
    let holdMs: number | undefined = opts.latencyMs ? opts.latencyMs : undefined;
    const send = (status: number, body: unknown, headers?: Record<string, string>): void => {
      if (holdMs === undefined) {
        entry.status = status;
        return sendJson(res, status, body, headers);
      }
      // Copied now, so a later change to the store cannot reach this answer (204: no body).
      const made = body === undefined ? undefined : (JSON.parse(JSON.stringify(body)) as unknown);
      void sleep(holdMs, closing.signal).then(() => {
        if (res.destroyed || res.headersSent) return;
        entry.status = status;
        sendJson(res, status, made, headers);
      });
    };
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPathname = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    if (!rawPathname.startsWith(`${API_PREFIX}/`)) return send(404, { error: '404 Not Found' });
    const rawPath = rawPathname.slice(API_PREFIX.length);

    const fault = faults.take(entry.method, safeDecode(rawPath), rawPath);
    if (fault) {
      switch (fault.kind) {
        case 'status': {
          const status = fault.status ?? 500;
          const body = fault.body ?? { message: `${status} ${STATUS_CODES[status] ?? 'Error'}` };
          entry.status = status;
          if (typeof body === 'string') {
            res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
          } else sendJson(res, status, body);
          return;
        }
        case 'delay':
          await sleep(fault.delayMs ?? 1000, closing.signal);
          if (res.destroyed) return;
          break;
        case 'late':
          holdMs = fault.delayMs ?? 1000;
          break;
        case 'reset':
          req.socket.destroy();
          return;
        case 'garbage':
          entry.status = 200;
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end('<html><body>502 Bad Gateway (not JSON)');
          return;
        case 'huge':
          entry.status = 200;
          return streamHugeBody(res, closing.signal);
        default: {
          const unreachable: never = fault.kind;
          throw new Error(`unknown fault kind ${String(unreachable)}`);
        }
      }
    }

    try {
      await route(req, rawUrl, rawPath, entry, send);
    } catch (err) {
      // The forge's own refusals (404, 400, 409, 422) go out like any answer, held or not.
      if (!(err instanceof DemoApiError)) throw err;
      send(err.status, err.body);
    }
  }

  /** Answers one request from the store (after any fault). */
  async function route(
    req: IncomingMessage,
    rawUrl: string,
    rawPath: string,
    entry: UpstreamRequestLogEntry,
    send: (status: number, body: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    if (!entry.privateTokenOk) return send(401, { message: '401 Unauthorized' });
    const match = matchRoute(routes, entry.method, rawPath);
    if (!match) return send(404, { error: '404 Not Found' });

    const rawBody = await readBody(req);
    if (rawBody === undefined) {
      return send(413, { message: '413 Request Entity Too Large' }, { connection: 'close' });
    }
    const selfUrl = new URL(rawUrl, origin);
    const params: Params = {
      ...Object.fromEntries(selfUrl.searchParams),
      ...parseBody(req.headers['content-type'], rawBody),
    };

    // `Sudo` (header or parameter) attributes writes to a user, as an admin token can.
    const sudoHeader = req.headers.sudo;
    const sudo =
      typeof sudoHeader === 'string'
        ? sudoHeader
        : typeof params.sudo === 'string'
          ? params.sudo
          : undefined;
    const actor = sudo === undefined ? store.serviceUser : store.findUser(sudo);
    if (!actor)
      return send(404, { message: `404 User with ID or username '${sudo ?? ''}' Not Found` });

    const ctx: RouteContext = {
      req,
      store,
      render: { store, web: origin },
      path: match.path,
      query: selfUrl.searchParams,
      params,
      actorId: actor.id,
      selfUrl,
      send,
      sendPage: (items, toJson) => {
        const page = paginate(items, selfUrl.searchParams, selfUrl);
        send(200, page.items.map(toJson), page.headers);
      },
    };
    match.route.handler(ctx);
  }

  const server = createServer((req, res) => {
    const entry: UpstreamRequestLogEntry = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: req.url ?? '/',
      status: 0,
      privateTokenOk: tokenMatches(req, expectedToken),
      headers: redactHeaders(req),
    };
    requests.push(entry);
    handle(req, res, entry).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof DemoApiError) {
        entry.status = err.status;
        sendJson(res, err.status, err.body);
        return;
      }
      // A bug in the demo itself: answer like the forge would and say why on stderr.
      console.error('demo upstream: unexpected error', err);
      entry.status = 500;
      sendJson(res, 500, { message: '500 Internal Server Error' });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url: `${origin}${API_PREFIX}`,
    port,
    token,
    requests,
    writes: () => requests.filter((r) => WRITE_METHODS.has(r.method)),
    clearRequests: () => {
      requests.length = 0;
    },
    injectFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    store,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

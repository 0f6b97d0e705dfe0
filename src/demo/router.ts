/**
 * A minimal router for the demo upstream: routes are method + path segments, where `:name`
 * captures one segment. Matching runs on the raw segments and decodes each one afterwards,
 * so a URL-encoded project path (`acme%2Fapps%2Fweb`) or tag name (`release%2F1`) stays one
 * parameter, exactly as the forge reads them.
 */
import type { IncomingMessage } from 'node:http';
import type { Params } from './http-io.js';
import type { RenderContext } from './render.js';
import type { DemoStore } from './store.js';

/** Everything a route handler needs to answer one request. */
export interface RouteContext {
  req: IncomingMessage;
  store: DemoStore;
  render: RenderContext;
  /** Decoded path parameters by name. */
  path: Record<string, string>;
  /** The query string. */
  query: URLSearchParams;
  /** Query string merged with the decoded body (body wins). */
  params: Params;
  /** User id writes are attributed to: the `Sudo` user, else the service account. */
  actorId: number;
  /** The absolute request URL (for pagination links). */
  selfUrl: URL;
  /** Answers with JSON (no body when `body` is undefined). */
  send(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Answers 200 with one page of `items`, mapped to JSON, plus the pagination headers. */
  sendPage<T>(items: readonly T[], toJson: (item: T) => unknown): void;
}

/** One route: method, pattern segments (`['projects', ':id']`) and its handler. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  pattern: string;
  handler: (ctx: RouteContext) => void;
}

/** A matched route with its decoded parameters. */
export interface RouteMatch {
  route: Route;
  path: Record<string, string>;
}

/** Decodes a path segment; `undefined` when its percent-encoding is broken. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Finds the route for a method and a raw pathname relative to `/api/v4` (e.g.
 * `/projects/acme%2Fweb/releases`); `undefined` when none matches.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  rawPath: string,
): RouteMatch | undefined {
  const segments = rawPath.split('/').slice(1);
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.pattern.split('/').slice(1);
    if (pattern.length !== segments.length) continue;
    const path: Record<string, string> = {};
    const ok = pattern.every((part, i) => {
      const raw = segments[i] ?? '';
      if (!part.startsWith(':')) return part === raw;
      const decoded = decodeSegment(raw);
      if (decoded === undefined || decoded === '') return false;
      path[part.slice(1)] = decoded;
      return true;
    });
    if (ok) return { route, path };
  }
  return undefined;
}

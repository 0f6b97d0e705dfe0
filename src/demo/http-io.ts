/**
 * Request and response plumbing of the demo upstream: body reading with a size cap, the two
 * body encodings the forge accepts, typed parameter access, JSON answers and the forge's
 * offset pagination headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DemoApiError } from './model.js';

/** Largest request body accepted (1 MiB); larger bodies get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Request parameters: query string merged with the body (body wins), as the forge does. */
export type Params = Record<string, unknown>;

/**
 * Reads the request body. Resolves `undefined` when it exceeds {@link MAX_BODY_BYTES}
 * (the rest is drained and discarded so the client can read the 413).
 */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Decodes a body by its content type: JSON (an object; malformed → 400 `400 Bad request`)
 * or `application/x-www-form-urlencoded`. Other types carry no parameters.
 */
export function parseBody(contentType: string | undefined, body: Buffer): Params {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const text = body.toString('utf8');
  if (type === 'application/json' || type.endsWith('+json')) {
    if (text.trim() === '') return {};
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DemoApiError(400, { message: '400 Bad request' });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new DemoApiError(400, { message: '400 Bad request' });
    }
    return json as Params;
  }
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return {};
}

/** An optional string parameter; numbers and booleans are taken as their text. */
export function optionalString(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new DemoApiError(400, { error: `${name} is invalid` });
}

/** A required, non-empty string parameter; missing → 400 `{ error: "<name> is missing" }`. */
export function requiredString(params: Params, name: string): string {
  const value = optionalString(params, name);
  if (value === undefined || value === '')
    throw new DemoApiError(400, { error: `${name} is missing` });
  return value;
}

/** An optional ISO 8601 timestamp parameter, normalised; invalid → 400. */
export function optionalTimestamp(params: Params, name: string): string | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new DemoApiError(400, { error: `${name} is invalid` });
  return new Date(ms).toISOString();
}

/** A boolean query flag (`true`/`1`). */
export function flag(params: Params, name: string): boolean {
  const value = params[name];
  return value === true || value === 'true' || value === '1';
}

/** Sends a JSON answer. `body === undefined` sends no body (e.g. 204). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** One page of a list and the headers that describe it. */
export interface Page<T> {
  items: T[];
  headers: Record<string, string>;
}

function positiveInt(value: unknown, fallback: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/**
 * The forge's offset pagination: `page` (default 1) and `per_page` (default 20, at most
 * 100); headers `x-page`, `x-per-page`, `x-next-page` and `x-prev-page` (empty when none),
 * `x-total`, `x-total-pages` (at least 1) and a `link` header with first/prev/next/last.
 * `selfUrl` is the request's absolute URL, used for the `link` header.
 */
export function paginate<T>(items: readonly T[], query: URLSearchParams, selfUrl: URL): Page<T> {
  const perPage = Math.min(100, positiveInt(query.get('per_page'), 20));
  const page = positiveInt(query.get('page'), 1);
  const total = items.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const next = page < totalPages ? page + 1 : undefined;
  const prev = page > 1 ? Math.min(page - 1, totalPages) : undefined;
  const linkTo = (p: number, rel: string): string => {
    const url = new URL(selfUrl);
    url.searchParams.set('page', String(p));
    url.searchParams.set('per_page', String(perPage));
    return `<${url.href}>; rel="${rel}"`;
  };
  const links = [
    ...(prev === undefined ? [] : [linkTo(prev, 'prev')]),
    ...(next === undefined ? [] : [linkTo(next, 'next')]),
    linkTo(1, 'first'),
    linkTo(totalPages, 'last'),
  ];
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    headers: {
      'x-page': String(page),
      'x-per-page': String(perPage),
      'x-next-page': next === undefined ? '' : String(next),
      'x-prev-page': prev === undefined ? '' : String(prev),
      'x-total': String(total),
      'x-total-pages': String(totalPages),
      link: links.join(', '),
    },
  };
}

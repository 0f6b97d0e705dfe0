/**
 * Shared helpers of the demo upstream tests: where the seeds live and a small fetch wrapper
 * that sends the service credential and decodes the answer.
 */
import { fileURLToPath } from 'node:url';
import type { DemoUpstream } from '../../src/demo/http-server.js';

/** The seed that ships with the project. */
export const DEMO_SEED_PATH: string = fileURLToPath(
  new URL('../../demo/seed.json', import.meta.url),
);

/** The shared scenario tables (their `world` key is a seed). */
export const SCENARIOS_PATH: string = fileURLToPath(
  new URL('../../../shared/scenarios/authz-cases.json', import.meta.url),
);

/** A JSON object as received. */
export type JsonObject = Record<string, unknown>;

/** A decoded answer. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (`undefined` when empty). */
  json: unknown;
}

/** Options of {@link call}. */
export interface CallOptions {
  method?: string;
  /** JSON-encoded unless it is a `URLSearchParams` (sent form-encoded) or a string (sent as is). */
  body?: unknown;
  /** `PRIVATE-TOKEN` to send; the upstream's own by default, `null` for none. */
  token?: string | null;
  headers?: Record<string, string>;
}

/** Calls `path` (relative to `/api/v4`) on the demo upstream. */
export async function call(
  upstream: DemoUpstream,
  path: string,
  opts: CallOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? upstream.token : opts.token;
  if (token !== null) headers['PRIVATE-TOKEN'] = token;
  let body: string | undefined;
  if (opts.body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = opts.body.toString();
  } else if (typeof opts.body === 'string') {
    headers['content-type'] ??= 'application/json';
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(`${upstream.url}${path}`, {
    method: opts.method ?? 'GET',
    headers,
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The body as a JSON object (fails the test when it is not one). */
export function asObject(res: ApiResponse): JsonObject {
  if (typeof res.json !== 'object' || res.json === null || Array.isArray(res.json)) {
    throw new Error(`expected a JSON object, got ${res.status} ${res.text.slice(0, 200)}`);
  }
  return res.json as JsonObject;
}

/** The body as a JSON array of objects (fails the test when it is not one). */
export function asList(res: ApiResponse): JsonObject[] {
  if (!Array.isArray(res.json))
    throw new Error(`expected a JSON array, got ${res.status} ${res.text.slice(0, 200)}`);
  return res.json as JsonObject[];
}

/** `encodeURIComponent`, for project paths and tag names in URLs. */
export const enc = encodeURIComponent;

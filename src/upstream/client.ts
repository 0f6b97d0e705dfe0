/**
 * Typed client for the forge's REST API v4 on the built-in `fetch`.
 *
 * Calls carry the gateway's own service credential (`PRIVATE-TOKEN`), never the caller's
 * token. Every failure becomes a `GatewayError` with a code; no message ever contains the
 * upstream URL or the credential (DESIGN.md section 5, CONVENTIONS.md "Errors").
 */
import {
  badUserInputError,
  notFoundError,
  upstreamError,
  upstreamUnavailableError,
} from '../errors/codes.js';
import {
  backoffMs,
  countsAsFailure,
  createCircuitBreaker,
  isRetryable,
  resolveResilience,
  type AttemptOutcome,
  type ResilienceOptions,
} from './resilience.js';

/** Options of {@link createUpstreamClient}. */
export interface UpstreamClientOptions {
  /** Base URL of the REST API including `/api/v4`, e.g. `http://forge.internal/api/v4`. */
  readonly baseUrl: string;
  /** The gateway's service credential, sent as `PRIVATE-TOKEN`. */
  readonly token: string;
  /** Per-call timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 10 MiB. */
  readonly maxResponseBytes?: number;
  /** Observer for each call (metrics); must not throw. */
  readonly onCall?: (call: UpstreamCallInfo) => void;
  /** Retries of idempotent reads and a circuit breaker; absent: one attempt, no breaker. */
  readonly resilience?: ResilienceOptions;
}

/** What {@link UpstreamClientOptions.onCall} receives: no URL beyond the route shape, no credential. */
export interface UpstreamCallInfo {
  readonly method: string;
  /** `circuit_open`: refused without a call while the breaker is open. */
  readonly status: number | 'network_error' | 'timeout' | 'circuit_open';
  readonly durationMs: number;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt?: number;
}

/** One page of a list endpoint. */
export interface UpstreamPage<T> {
  readonly items: T[];
  /** The `X-Next-Page` header as a number, or `undefined` on the last page. */
  readonly nextPage: number | undefined;
}

/** Per-call options. */
export interface CallOptions {
  /** Sent as `X-Request-Id` so the forge's logs can be correlated. */
  readonly requestId?: string;
  /** What the caller was looking for, for the NOT_FOUND message (e.g. `release "v1.0"`). */
  readonly what?: string;
}

/** The REST client. Paths are relative to the base URL and must already be encoded. */
export interface UpstreamClient {
  get<T>(
    path: string,
    query?: Record<string, string | number | undefined>,
    opts?: CallOptions,
  ): Promise<T>;
  /** Like `get`, but `undefined` for a 404 instead of a NOT_FOUND error. */
  find<T>(path: string, opts?: CallOptions): Promise<T | undefined>;
  list<T>(
    path: string,
    query: Record<string, string | number | undefined>,
    opts?: CallOptions,
  ): Promise<UpstreamPage<T>>;
  send<T>(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    opts?: CallOptions,
  ): Promise<T | undefined>;
}

/** Encodes a project or group id or full path for use as `:id` in a REST path. */
export function encodeId(idOrPath: number | string): string {
  return encodeURIComponent(String(idOrPath));
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** Creates the client; throws at start-up when the base URL is not an http(s) URL. */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  let base: URL;
  try {
    base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
  } catch {
    throw new Error('"SCOPEGATE_UPSTREAM_URL" must be an http or https URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error('"SCOPEGATE_UPSTREAM_URL" must be an http or https URL');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const resilience = options.resilience ? resolveResilience(options.resilience) : undefined;
  const breaker = options.resilience ? createCircuitBreaker(options.resilience) : undefined;

  /** One attempt; `seen.outcome` tells the retry loop and the breaker how it ended. */
  async function callOnce(
    method: string,
    path: string,
    query: Record<string, string | number | undefined> | undefined,
    body: unknown,
    opts: CallOptions | undefined,
    seen: { outcome: AttemptOutcome; attempt: number },
  ): Promise<{ status: number; headers: Headers; json: unknown }> {
    const report = (info: UpstreamCallInfo): void => {
      if (info.status !== 'circuit_open') seen.outcome = info.status;
      options.onCall?.({ ...info, attempt: seen.attempt });
    };
    const relative = path.replace(/^\/+/, '');
    // Defence in depth behind the resolvers' `seg()`: a `.` or `..` segment (also as `%2e`)
    // would be resolved away by `new URL`, sending the service credential to a parent
    // resource (`projects/1/releases/..` is `projects/1/`). Never expected: a programmer error.
    if (/(^|\/)(\.|%2e){1,2}(\/|\?|$)/i.test(relative))
      throw new Error('refusing an upstream path with a dot segment');
    const url = new URL(relative, base);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      'private-token': options.token,
      accept: 'application/json',
    };
    if (opts?.requestId) headers['x-request-id'] = opts.requestId;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        // Never follow a redirect (the credential would go wherever it points); 'manual'
        // hands back the 3xx itself, which maps to UPSTREAM_ERROR (a misconfigured URL),
        // not to UPSTREAM_UNAVAILABLE ("try again later" would not help).
        redirect: 'manual',
      });
    } catch (err) {
      const timedOut =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      report({
        method,
        status: timedOut ? 'timeout' : 'network_error',
        durationMs: performance.now() - started,
      });
      throw upstreamUnavailableError(
        timedOut
          ? 'the forge API did not answer in time'
          : 'the forge API is unavailable; try again later',
      );
    }
    let text: string;
    try {
      text = await readLimited(res, maxBytes);
    } catch (err) {
      report({ method, status: res.status, durationMs: performance.now() - started });
      if (err instanceof ResponseTooLarge)
        throw upstreamError('the forge API returned a response that is too large');
      seen.outcome = 'network_error';
      throw upstreamUnavailableError('the forge API connection failed while reading the response');
    }
    report({ method, status: res.status, durationMs: performance.now() - started });
    let json: unknown = undefined;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        if (res.ok) throw upstreamError('the forge API returned a malformed response');
      }
    }
    if (res.ok) return { status: res.status, headers: res.headers, json };
    throw mapStatus(res.status, json, opts?.what);
  }

  /**
   * An upstream call with the breaker and retries around it: a GET is tried again after a
   * connection error or 502/503/504 (see `resilience.ts`); a write is tried exactly once.
   */
  async function call(
    method: string,
    path: string,
    query: Record<string, string | number | undefined> | undefined,
    body: unknown,
    opts: CallOptions | undefined,
  ): Promise<{ status: number; headers: Headers; json: unknown }> {
    const attempts = method === 'GET' ? 1 + (resilience?.retries ?? 0) : 1;
    for (let attempt = 1; ; attempt++) {
      if (breaker && !breaker.tryAcquire()) {
        options.onCall?.({ method, status: 'circuit_open', durationMs: 0, attempt });
        throw upstreamUnavailableError('the forge API is unavailable; try again later');
      }
      const seen: { outcome: AttemptOutcome; attempt: number } = { outcome: 'ok', attempt };
      try {
        const result = await callOnce(method, path, query, body, opts, seen);
        breaker?.onSuccess();
        return result;
      } catch (err) {
        if (countsAsFailure(seen.outcome)) breaker?.onFailure();
        else breaker?.onSuccess();
        if (attempt >= attempts || !isRetryable(seen.outcome) || !resilience) throw err;
        await new Promise((r) => setTimeout(r, backoffMs(attempt, resilience.retryBaseDelayMs)));
      }
    }
  }

  return {
    async get<T>(
      path: string,
      query?: Record<string, string | number | undefined>,
      opts?: CallOptions,
    ) {
      const r = await call('GET', path, query, undefined, opts);
      return expectJson<T>(r.json);
    },
    async find<T>(path: string, opts?: CallOptions) {
      try {
        const r = await call('GET', path, undefined, undefined, opts);
        return expectJson<T>(r.json);
      } catch (err) {
        if (
          err instanceof Error &&
          'extensions' in err &&
          (err as { extensions: { code?: unknown } }).extensions.code === 'NOT_FOUND'
        ) {
          return undefined;
        }
        throw err;
      }
    },
    async list<T>(
      path: string,
      query: Record<string, string | number | undefined>,
      opts?: CallOptions,
    ) {
      const r = await call('GET', path, query, undefined, opts);
      if (!Array.isArray(r.json))
        throw upstreamError('the forge API returned a malformed response');
      const next = r.headers.get('x-next-page');
      const nextPage = next && /^\d+$/.test(next) ? Number(next) : undefined;
      return { items: r.json as T[], nextPage };
    },
    async send<T>(
      method: 'POST' | 'PUT' | 'DELETE',
      path: string,
      body?: unknown,
      opts?: CallOptions,
    ) {
      const r = await call(method, path, undefined, body, opts);
      // A write's answer may carry no representation: 204 with no body, or a bare JSON
      // scalar (the forge's container tag DELETE answers 200 with the number 200). The write
      // happened either way, so that is "no object", not a malformed response.
      return r.json !== null && typeof r.json === 'object' ? (r.json as T) : undefined;
    },
  };
}

function expectJson<T>(json: unknown): T {
  if (json === null || typeof json !== 'object')
    throw upstreamError('the forge API returned a malformed response');
  return json as T;
}

class ResponseTooLarge extends Error {}

async function readLimited(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new ResponseTooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ResponseTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The upstream's own validation message: `message` or `error`, flattened, bounded, single line. */
function upstreamMessage(json: unknown): string | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const raw =
    (json as { message?: unknown; error?: unknown }).message ?? (json as { error?: unknown }).error;
  let text: string | undefined;
  if (typeof raw === 'string') text = raw;
  else if (raw && typeof raw === 'object') {
    text = Object.entries(raw as Record<string, unknown>)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`)
      .join('; ');
  }
  return text?.replace(/\s+/g, ' ').slice(0, 300);
}

function mapStatus(status: number, json: unknown, what: string | undefined): Error {
  if (status === 404) return notFoundError(`${what ?? 'the resource'} was not found`);
  if (status === 400 || status === 409 || status === 422) {
    return badUserInputError(upstreamMessage(json) ?? 'the forge rejected the input');
  }
  if (status === 401 || status === 403)
    return upstreamError("the forge refused the gateway's service credential");
  if (status === 429 || status === 502 || status === 503 || status === 504)
    return upstreamUnavailableError();
  return upstreamError();
}

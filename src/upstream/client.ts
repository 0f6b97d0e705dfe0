/**
 * Typed client for the forge's REST API v4 on undici's `request` (the HTTP client behind
 * Node's `fetch`, without the WHATWG streams, `Request`/`Response` objects and
 * `AbortSignal.timeout` around it: measured at about a third of `fetch`'s CPU per call, which
 * was the largest item of the gateway's profile; see bench/NOTES.md). One connection pool per
 * client, keep-alive, redirects never followed.
 *
 * Calls carry the gateway's own service credential (`PRIVATE-TOKEN`), never the caller's
 * token. Every failure becomes a `GatewayError` with a code; no message ever contains the
 * upstream URL or the credential (DESIGN.md section 5, CONVENTIONS.md "Errors").
 */
import { Agent, request, type Dispatcher } from 'undici';
import { upstreamError, upstreamUnavailableError } from '../errors/codes.js';
import {
  backoffMs,
  countsAsFailure,
  createCircuitBreaker,
  isRetryable,
  resolveResilience,
  type AttemptOutcome,
  type ResilienceOptions,
} from './resilience.js';
import { expectJson, headerValue, mapStatus, readLimited, ResponseTooLarge } from './responses.js';
import { createReadSharing, deepFreeze } from './shared-reads.js';

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
  /**
   * Identical reads of concurrent requests share one call (`shared-reads.ts`). Default true;
   * only reads whose `CallOptions.arrival` is set ever join one.
   */
  readonly shareReads?: boolean;
  /** Told when a read joined an identical call instead of making its own (metrics); must not throw. */
  readonly onSharedRead?: () => void;
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
  /**
   * The {@link arrivalTicket} of the request the call is made for, taken when it arrived. A
   * read with one may join an identical call made after it (`shared-reads.ts`); without one it
   * never joins.
   */
  readonly arrival?: number;
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
  /** Drops the pooled connections; a call still in flight fails as UPSTREAM_UNAVAILABLE. */
  close(): Promise<void>;
}

/** An attempt's answer. */
interface CallResult {
  readonly status: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly json: unknown;
}

/** undici's codes for a connect, headers or body timeout. */
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isTimeout(err: unknown, deadline: AbortSignal): boolean {
  if (deadline.aborted) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TIMEOUT_CODES.has(code);
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
  // Idle pooled sockets are unref'd by undici, so an unclosed client never holds a process open.
  // Its own timeouts tick at about one second, too coarse for `timeoutMs`: each call has its
  // own timer and abort signal instead.
  const agent = new Agent();

  /** The URL of `path` (relative to the base URL, already encoded) with `query`. */
  function urlFor(path: string, query?: Record<string, string | number | undefined>): URL {
    const relative = path.replace(/^\/+/, '');
    // Defence in depth behind the resolvers' `seg()`: a `.` or `..` segment (also as `%2e`)
    // would be resolved away by `new URL`, sending the service credential to a parent
    // resource (`projects/1/releases/..` is `projects/1/`). Never expected: a programmer error.
    if (/(^|\/)(\.|%2e){1,2}(\/|\?|$)/i.test(relative))
      throw new Error('refusing an upstream path with a dot segment');
    const url = new URL(relative, base);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** One attempt; `seen.outcome` tells the retry loop and the breaker how it ended. */
  async function callOnce(
    method: string,
    url: URL,
    body: unknown,
    opts: CallOptions | undefined,
    seen: { outcome: AttemptOutcome; attempt: number },
  ): Promise<CallResult> {
    const report = (info: UpstreamCallInfo): void => {
      if (info.status !== 'circuit_open') seen.outcome = info.status;
      options.onCall?.({ ...info, attempt: seen.attempt });
    };
    const headers: Record<string, string> = {
      'private-token': options.token,
      accept: 'application/json',
    };
    if (opts?.requestId) headers['x-request-id'] = opts.requestId;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    // One deadline for the whole call, the body included.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const failed = (err: unknown, while_: 'connecting' | 'reading'): Error => {
      const timedOut = isTimeout(err, deadline.signal);
      report({
        method,
        status: timedOut ? 'timeout' : 'network_error',
        durationMs: performance.now() - started,
      });
      if (timedOut) return upstreamUnavailableError('the forge API did not answer in time');
      return upstreamUnavailableError(
        while_ === 'connecting'
          ? 'the forge API is unavailable; try again later'
          : 'the forge API connection failed while reading the response',
      );
    };
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      try {
        // undici never follows a redirect here (the credential would go wherever it points):
        // the 3xx itself maps to UPSTREAM_ERROR (a misconfigured URL), not to
        // UPSTREAM_UNAVAILABLE ("try again later" would not help).
        res = await request(url, {
          dispatcher: agent,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          signal: deadline.signal,
        });
      } catch (err) {
        throw failed(err, 'connecting');
      }
      try {
        text = await readLimited(res, maxBytes);
      } catch (err) {
        if (!(err instanceof ResponseTooLarge)) throw failed(err, 'reading');
        report({ method, status: res.statusCode, durationMs: performance.now() - started });
        throw upstreamError('the forge API returned a response that is too large');
      }
    } finally {
      clearTimeout(timer);
    }
    const status = res.statusCode;
    report({ method, status, durationMs: performance.now() - started });
    let json: unknown = undefined;
    const ok = status >= 200 && status < 300;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        if (ok) throw upstreamError('the forge API returned a malformed response');
      }
    }
    if (ok) return { status, headers: res.headers, json };
    throw mapStatus(status, json, opts?.what);
  }

  const sharing =
    options.shareReads === false
      ? undefined
      : createReadSharing<CallResult>((r) => deepFreeze(r.json), {
          // Outside production every read's answer is frozen, shared or not, so that code
          // changing one in place fails every test that runs it, not only those where reads
          // coincide.
          sealAll: process.env['NODE_ENV'] !== 'production',
        });

  /** A GET, joining an identical one on its way when `opts.arrival` allows it. */
  function read(
    path: string,
    query: Record<string, string | number | undefined> | undefined,
    opts: CallOptions | undefined,
  ): Promise<CallResult> {
    const url = urlFor(path, query);
    const fresh = () => call('GET', url, undefined, opts);
    if (!sharing) return fresh();
    // What is asked: the URL itself, and what the caller looked for (the NOT_FOUND message
    // names it).
    const key = `${url.href}\n${JSON.stringify(opts?.what ?? null)}`;
    return sharing.run(key, opts?.arrival, fresh, options.onSharedRead);
  }

  /**
   * An upstream call with the breaker and retries around it: a GET is tried again after a
   * connection error or 502/503/504 (see `resilience.ts`); a write is tried exactly once.
   */
  async function call(
    method: string,
    url: URL,
    body: unknown,
    opts: CallOptions | undefined,
  ): Promise<CallResult> {
    const attempts = method === 'GET' ? 1 + (resilience?.retries ?? 0) : 1;
    for (let attempt = 1; ; attempt++) {
      if (breaker && !breaker.tryAcquire()) {
        options.onCall?.({ method, status: 'circuit_open', durationMs: 0, attempt });
        throw upstreamUnavailableError('the forge API is unavailable; try again later');
      }
      const seen: { outcome: AttemptOutcome; attempt: number } = { outcome: 'ok', attempt };
      try {
        const result = await callOnce(method, url, body, opts, seen);
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
      const r = await read(path, query, opts);
      return expectJson<T>(r.json);
    },
    async find<T>(path: string, opts?: CallOptions) {
      try {
        const r = await read(path, undefined, opts);
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
      const r = await read(path, query, opts);
      if (!Array.isArray(r.json))
        throw upstreamError('the forge API returned a malformed response');
      const next = headerValue(r.headers, 'x-next-page');
      const nextPage = next && /^\d+$/.test(next) ? Number(next) : undefined;
      return { items: r.json as T[], nextPage };
    },
    async send<T>(
      method: 'POST' | 'PUT' | 'DELETE',
      path: string,
      body?: unknown,
      opts?: CallOptions,
    ) {
      // Whatever its outcome, a read that joins a call from now on must not get an answer from
      // before this write (a later field of the same request reads after it).
      let r: CallResult;
      try {
        r = await call(method, urlFor(path), body, opts);
      } finally {
        sharing?.fence();
      }
      // A write's answer may carry no representation: 204 with no body, or a bare JSON
      // scalar (the forge's container tag DELETE answers 200 with the number 200). The write
      // happened either way, so that is "no object", not a malformed response.
      return r.json !== null && typeof r.json === 'object' ? (r.json as T) : undefined;
    },
    close: () => agent.destroy(),
  };
}

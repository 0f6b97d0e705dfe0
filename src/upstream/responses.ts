/**
 * Reading the forge's answers: the body within a byte limit, a header, and a failed status
 * mapped to the gateway's error codes. No message carries the upstream URL or the credential
 * (CONVENTIONS.md "Errors").
 */
import type { Dispatcher } from 'undici';
import {
  badUserInputError,
  notFoundError,
  upstreamError,
  upstreamUnavailableError,
} from '../errors/codes.js';

/** One response header (`name` in lower case), repeated values joined. */
export function headerValue(
  headers: Dispatcher.ResponseData['headers'],
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The parsed body as an object, or UPSTREAM_ERROR (a scalar or `null` is malformed). */
export function expectJson<T>(json: unknown): T {
  if (json === null || typeof json !== 'object')
    throw upstreamError('the forge API returned a malformed response');
  return json as T;
}

/** A body over the byte limit (thrown by {@link readLimited}). */
export class ResponseTooLarge extends Error {}

/** Reads the body as text, at most `maxBytes` of it; the socket is dropped otherwise. */
export async function readLimited(res: Dispatcher.ResponseData, maxBytes: number): Promise<string> {
  const { body } = res;
  const declared = Number(headerValue(res.headers, 'content-length') ?? '0');
  if (declared > maxBytes) {
    body.destroy();
    throw new ResponseTooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy();
      throw new ResponseTooLarge();
    }
    chunks.push(chunk);
  }
  return chunks.length === 1
    ? (chunks[0] as Buffer).toString('utf8')
    : Buffer.concat(chunks).toString('utf8');
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

/** The gateway error for a failed forge status; `what` names the missing thing in NOT_FOUND. */
export function mapStatus(status: number, json: unknown, what: string | undefined): Error {
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

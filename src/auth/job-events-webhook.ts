/**
 * The forge's job-event webhook (`POST /hooks/job-events`, DESIGN.md section 3): when a job
 * finishes, every token of that job is revoked, so a job token stops working when its job ends.
 *
 * The HTTP layer passes the `X-Gitlab-Token` header and a way to read the body; this module holds
 * the rules and returns the status and body to send. The secret is compared in constant time
 * and never echoed, and the body is read and parsed only after it matched: an unconfigured hook
 * is 404 and a wrong secret 401 whatever the body, and no unauthenticated caller makes the
 * gateway buffer or parse anything.
 */
import { secretMatches } from './secret-match.js';
import { z } from 'zod';
import { REVOCATION_GRACE_SECONDS, type RevocationList } from './revocation.js';
import { GatewayError } from '../errors/codes.js';

/** What the HTTP layer sends back. */
export interface JobEventResult {
  /** 200 handled, 400 malformed body or payload, 401 bad or missing secret, 404 hook not configured. */
  status: number;
  body: { ok: boolean; action?: 'revoked' | 'ignored'; error?: string };
}

/** The request as the HTTP layer received it. */
export interface JobEventInput {
  /** The `X-Gitlab-Token` header. */
  secretHeader: string | undefined;
  /**
   * Reads the raw request body (bounded by the caller; it may reject, e.g. when the body is too
   * large). Called at most once, and only when the hook is configured and the secret matched.
   */
  readBody: () => Promise<string>;
}

/** What the handler needs. */
export interface JobEventDeps {
  /** The configured shared secret; `undefined` or empty turns the hook off (404). */
  secret: string | undefined;
  revocations: RevocationList;
  /** Longest token lifetime (the verifier's `maxLifetimeSeconds`): how long a job stays revoked. */
  maxLifetimeSeconds: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Told of each revocation made (the audit event); must not throw. */
  onRevoked?: (jobId: number, untilSeconds: number) => Promise<void>;
}

/** Job statuses after which no token of the job may be used again. */
export const FINAL_JOB_STATUSES: ReadonlySet<string> = new Set([
  'success',
  'failed',
  'canceled',
  'skipped',
]);

const jobEvent = z.object({
  object_kind: z.string(),
  build_id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  build_status: z.string().optional(),
});

/**
 * Handles one job event. A `build` event whose `build_status` is final
 * ({@link FINAL_JOB_STATUSES}) revokes `build_id` until `now + maxLifetimeSeconds` (plus {@link REVOCATION_GRACE_SECONDS}), which
 * outlives every token the job can have been issued. Other statuses, and other event kinds (a
 * hook may be subscribed to more than job events), are acknowledged and ignored so the forge
 * does not disable the hook. A coded rejection of the revocation store (POLICY_UNAVAILABLE when
 * Redis cannot be written) is a 503 carrying its message; any other rejection propagates.
 */
export async function handleJobEvent(
  input: JobEventInput,
  deps: JobEventDeps,
): Promise<JobEventResult> {
  if (deps.secret === undefined || deps.secret.length === 0) {
    return { status: 404, body: { ok: false, error: 'not found' } };
  }
  const given = input.secretHeader;
  if (typeof given !== 'string' || !secretMatches(given, deps.secret)) {
    return { status: 401, body: { ok: false, error: 'invalid or missing webhook secret' } };
  }
  const text = await input.readBody();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status: 400, body: { ok: false, error: 'the body is not valid JSON' } };
  }
  const parsed = jobEvent.safeParse(body);
  if (!parsed.success) {
    return { status: 400, body: { ok: false, error: 'malformed job event' } };
  }
  const event = parsed.data;
  if (event.object_kind !== 'build') {
    return { status: 200, body: { ok: true, action: 'ignored' } };
  }
  if (event.build_id === undefined || event.build_status === undefined) {
    return {
      status: 400,
      body: { ok: false, error: 'a build event needs a numeric build_id and a build_status' },
    };
  }
  if (!FINAL_JOB_STATUSES.has(event.build_status)) {
    return { status: 200, body: { ok: true, action: 'ignored' } };
  }
  const nowSeconds = Math.ceil((deps.now ?? Date.now)() / 1000);
  const until = nowSeconds + deps.maxLifetimeSeconds + REVOCATION_GRACE_SECONDS;
  try {
    await deps.revocations.revokeJob(event.build_id, until);
    await deps.onRevoked?.(event.build_id, until);
  } catch (err) {
    // The store's own coded answer (e.g. revoked on this instance only, Redis unreachable):
    // a 503 the forge's hook log shows with that message. Anything else propagates (500).
    if (!(err instanceof GatewayError)) throw err;
    return { status: 503, body: { ok: false, error: err.message } };
  }
  return { status: 200, body: { ok: true, action: 'revoked' } };
}

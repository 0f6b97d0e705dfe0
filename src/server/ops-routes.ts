/**
 * The gateway's routes besides `/graphql` that carry a secret: `GET /metrics` (with a metrics
 * token) and `POST /hooks/job-events` (the forge's job webhook, whose revocations are audited).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminActionEvent, type ChangeLog } from '../audit/change-events.js';
import { handleJobEvent } from '../auth/job-events-webhook.js';
import type { RevocationList } from '../auth/revocation.js';
import { secretMatches } from '../auth/secret-match.js';
import { readBody, sendJson } from './http-utils.js';
import type { GatewayMetrics } from './metrics.js';

/** Largest job-event body read, bytes. */
const JOB_EVENT_MAX_BYTES = 64 * 1024;

/** Whether the request carries `Authorization: Bearer <expected>` (constant time). */
function bearerMatches(req: IncomingMessage, expected: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1] !== undefined && secretMatches(m[1], expected);
}

/**
 * `GET /metrics`: 401 without the metrics token when one is configured. `beforeServe` runs only
 * for a scraper that may read them (the gateway brings its counters up to date there).
 */
export async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: GatewayMetrics,
  token: string | undefined,
  beforeServe?: () => void,
): Promise<void> {
  if (token !== undefined && !bearerMatches(req, token)) {
    return sendJson(
      res,
      401,
      { error: 'a metrics token is required', code: 'UNAUTHENTICATED' },
      { 'www-authenticate': 'Bearer realm="metrics"' },
    );
  }
  beforeServe?.();
  await metrics.serve(res);
}

/** What the job-events route needs from the gateway. */
export interface JobEventsRoute {
  readonly secret: string | undefined;
  readonly revocations: RevocationList;
  readonly maxLifetimeSeconds: number;
  readonly changeLog: ChangeLog;
}

/** `POST /hooks/job-events`: a finished job's tokens are revoked, and the revocation audited. */
export async function serveJobEvents(
  req: IncomingMessage,
  res: ServerResponse,
  route: JobEventsRoute,
): Promise<void> {
  const secretHeader = req.headers['x-gitlab-token'];
  const result = await handleJobEvent(
    {
      secretHeader: typeof secretHeader === 'string' ? secretHeader : undefined,
      // Read only once the hook is configured and the secret matched.
      readBody: () => readBody(req, JOB_EVENT_MAX_BYTES),
    },
    {
      secret: route.secret,
      revocations: route.revocations,
      maxLifetimeSeconds: route.maxLifetimeSeconds,
      onRevoked: (jobId, until) =>
        route.changeLog.recordAdmin(
          adminActionEvent(
            'JOB_REVOKED',
            { kind: 'webhook' },
            {
              jobId,
              until: new Date(until * 1000).toISOString(),
            },
          ),
        ),
    },
  );
  sendJson(res, result.status, result.body);
}

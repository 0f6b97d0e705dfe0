/**
 * Audit events of every change to a job token profile (DESIGN.md section 1: "who used which
 * token ... security and compliance people need to see it"): who (user id and username), when,
 * which target and source, the state before and after, and the request id.
 *
 * Each event is written as one JSON log line and, when a Redis connection is given, appended
 * to a bounded Redis Stream (`XADD ... MAXLEN ~ N`), so a fleet keeps one ordered trail.
 * Events are built from ids, paths, levels and flags only: never a token, a claim set, a
 * secret or the upstream credential.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AllowlistEntry,
  JobTokenEnforcement,
  JobTokenResource,
  JobTokenAccessLevel,
  SourceKind,
} from '../policy/types.js';
import type { RedisConnection } from '../store/redis-client.js';

/** What a change did. */
export type ChangeAction =
  'ENTRY_ADDED' | 'ENTRY_UPDATED' | 'ENTRY_REMOVED' | 'ENFORCEMENT_SET' | 'ENTRIES_AUTOPOPULATED';

/** An allowlist entry as an audit event shows it (no display-only or volatile fields). */
export interface AuditedEntry {
  readonly sourceKind: SourceKind;
  readonly sourceId: number;
  readonly sourcePath: string;
  readonly defaultPermissions: boolean;
  readonly permissions: Partial<Record<JobTokenResource, JobTokenAccessLevel>>;
  readonly protectedRefsOnly: boolean;
  readonly boundToUserRole: boolean;
  readonly autopopulated: boolean;
}

/** One side (before or after) of a change. */
export type AuditedState =
  { readonly entry: AuditedEntry | null } | { readonly enforcement: JobTokenEnforcement | null };

/** One change of a profile. */
export interface ChangeEvent {
  readonly event: 'jobTokenScope.changed';
  readonly action: ChangeAction;
  /** ISO timestamp. */
  readonly at: string;
  readonly requestId: string;
  readonly actor: {
    readonly userId: number;
    readonly username: string | null;
    readonly admin: boolean;
  };
  readonly target: { readonly projectId: number; readonly fullPath: string };
  /** The source of the entry changed; absent for enforcement changes. */
  readonly source?: { readonly id: number; readonly kind: SourceKind; readonly fullPath: string };
  readonly before: AuditedState;
  readonly after: AuditedState;
  /** The profile version the change produced. */
  readonly version: number;
}

/** How a whole policy file was written over the stored profiles. */
export type PolicyImportVia = 'serve --policy' | 'policy import';

/** Most change lines one import event carries; `changeCount` is always the whole count. */
export const MAX_IMPORT_CHANGE_LINES = 500;

/**
 * A policy import that changed the stored profiles (`serve --policy` at an instance's start,
 * `scopegate policy import --apply`): no person is behind it, so instead of an actor it names
 * the way it ran and the file (its SHA-256), and lists the changes as `policy import` prints
 * them (`<project>: + <entry>`, `- <entry>`, `~ <from> -> <to>`, `enforcement A -> B`).
 */
export interface PolicyImportEvent {
  readonly event: 'jobTokenScope.imported';
  /** ISO timestamp. */
  readonly at: string;
  readonly via: PolicyImportVia;
  /** SHA-256 (hex) of the policy file's bytes. */
  readonly fileSha256: string;
  /** Profiles in the file. */
  readonly projects: number;
  /** `null`: the stored profiles could not be read, so what changed is not known. */
  readonly changeCount: number | null;
  /** The first {@link MAX_IMPORT_CHANGE_LINES} changes. */
  readonly changes: readonly string[];
}

/** What an admin action (or the job-events webhook) did to the fleet's revocations or caches. */
export type AdminAction = 'TOKEN_REVOKED' | 'JOB_REVOKED' | 'ROLES_DROPPED';

/**
 * A revocation (`jobTokenRevoke`, or a finished job reported to `POST /hooks/job-events`) or an
 * admin's `jobTokenRolesDrop`: who, what and until when. A revoked token is named by the
 * SHA-256 of its `jti`, never by the token.
 */
export interface AdminActionEvent {
  readonly event: 'jobToken.admin';
  readonly action: AdminAction;
  /** ISO timestamp. */
  readonly at: string;
  /** Absent for the webhook (the forge's delivery is not a gateway request of a person). */
  readonly requestId?: string;
  readonly actor:
    | { readonly kind: 'user'; readonly userId: number; readonly username: string | null }
    | { readonly kind: 'webhook' };
  /** `JOB_REVOKED`: the job whose tokens stop working. */
  readonly jobId?: number;
  /** `TOKEN_REVOKED`: SHA-256 (hex) of the token's `jti`. */
  readonly jtiSha256?: string;
  /** Revocations: until when (ISO) they are kept. */
  readonly until?: string;
  /** `ROLES_DROPPED`: the project, and the one user when not all. */
  readonly target?: { readonly projectId: number; readonly fullPath: string };
  readonly userId?: number;
}

/** SHA-256 (hex), as events name what they must not carry: a policy file's bytes, a `jti`. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An {@link AdminActionEvent}, stamped now. */
export function adminActionEvent(
  action: AdminAction,
  actor: AdminActionEvent['actor'],
  fields: Omit<AdminActionEvent, 'event' | 'action' | 'at' | 'actor'>,
): AdminActionEvent {
  return { event: 'jobToken.admin', action, at: new Date().toISOString(), actor, ...fields };
}

/** Any event of the change stream. */
export type AuditStreamEvent = ChangeEvent | PolicyImportEvent | AdminActionEvent;

/** Where change events go. */
export interface ChangeLog {
  /** Records one event; never throws (a failed stream write is logged and counted). */
  record(event: ChangeEvent): Promise<void>;
  /** Records a policy import the same way. */
  recordImport(event: PolicyImportEvent): Promise<void>;
  /** Records a revocation or another admin action the same way. */
  recordAdmin(event: AdminActionEvent): Promise<void>;
  /** Stream writes that failed since start (the JSON log line was still written). */
  failedWrites(): number;
}

/** Default stream key; its hash tag keeps it in one slot on a Cluster. */
export const CHANGE_STREAM_KEY = 'sg:{audit}:changes';
/** Default approximate length bound of the stream. */
export const DEFAULT_CHANGE_STREAM_MAXLEN = 100_000;

/** Options of {@link createChangeLog}. */
export interface ChangeLogOptions {
  readonly logger: Logger;
  /** Absent: JSON log only (the demo). */
  readonly redis?: RedisConnection | undefined;
  /** Stream key. Default {@link CHANGE_STREAM_KEY}. */
  readonly streamKey?: string;
  /** `MAXLEN ~` of the stream. Default {@link DEFAULT_CHANGE_STREAM_MAXLEN}. */
  readonly maxLen?: number;
  /** Called for each event the stream could not take (metrics); must not throw. */
  readonly onDrop?: (() => void) | undefined;
}

/** The audited form of an entry. */
export function auditedEntry(e: AllowlistEntry): AuditedEntry {
  return {
    sourceKind: e.sourceKind,
    sourceId: e.sourceId,
    sourcePath: e.sourcePath,
    defaultPermissions: e.defaultPermissions,
    permissions: { ...e.permissions },
    protectedRefsOnly: e.protectedRefsOnly,
    boundToUserRole: e.boundToUserRole,
    autopopulated: e.autopopulated === true,
  };
}

/** Creates the change log. */
export function createChangeLog(options: ChangeLogOptions): ChangeLog {
  const { logger, redis } = options;
  const streamKey = options.streamKey ?? CHANGE_STREAM_KEY;
  const maxLen = options.maxLen ?? DEFAULT_CHANGE_STREAM_MAXLEN;
  let failed = 0;
  async function append(event: AuditStreamEvent, requestId: string | undefined): Promise<void> {
    if (!redis) return;
    try {
      await redis.xadd(
        streamKey,
        'MAXLEN',
        '~',
        String(maxLen),
        '*',
        'event',
        JSON.stringify(event),
      );
    } catch (err) {
      failed += 1;
      options.onDrop?.();
      logger.warn(
        {
          event: 'audit.stream_write_failed',
          ...(requestId === undefined ? {} : { requestId }),
          error: err instanceof Error ? err.name : 'unknown',
        },
        'change event not written to the Redis stream',
      );
    }
  }
  return {
    async record(event) {
      logger.info(event, 'job token scope changed');
      await append(event, event.requestId);
    },
    async recordImport(event) {
      logger.info(event, 'job token scope policy imported');
      await append(event, undefined);
    },
    async recordAdmin(event) {
      logger.info(event, 'job token admin action');
      await append(event, event.requestId);
    },
    failedWrites: () => failed,
  };
}

/** Reads the newest `count` events of a stream (newest last), for tests and tools. */
export async function readAuditStream(
  redis: RedisConnection,
  count = 1000,
  streamKey = CHANGE_STREAM_KEY,
): Promise<AuditStreamEvent[]> {
  const rows = await redis.xrevrange(streamKey, '+', '-', 'COUNT', count);
  return rows
    .map(([, fields]) => {
      const i = fields.indexOf('event');
      return JSON.parse(fields[i + 1] ?? 'null') as AuditStreamEvent;
    })
    .reverse();
}

/** The profile changes among the newest `count` events of a stream (newest last). */
export async function readChangeEvents(
  redis: RedisConnection,
  count = 1000,
  streamKey = CHANGE_STREAM_KEY,
): Promise<ChangeEvent[]> {
  const events = await readAuditStream(redis, count, streamKey);
  return events.filter((e): e is ChangeEvent => e.event === 'jobTokenScope.changed');
}

/**
 * The per-request context every resolver and the directive receive.
 */
import type { AuthLog } from '../audit/auth-log.js';
import type { ChangeLog } from '../audit/change-events.js';
import type { Principal } from '../auth/principal.js';
import type { RevocationList } from '../auth/revocation.js';
import type { DecisionCache } from '../cache/decision-cache.js';
import type { RequestAuthorizer, TargetDecision } from '../cache/request-authorizer.js';
import type { InstanceSettings } from '../policy/types.js';
import type { ProfileStore } from '../store/profile-store.js';
import type { CallOptions, UpstreamClient } from '../upstream/client.js';
import type { UpstreamLoaders } from '../upstream/loaders.js';
import type { CursorCodec } from '../upstream/pagination.js';

/** A requirement as the directive reports it to observers. */
export interface CheckedRequirement {
  readonly resource: string;
  readonly level: string;
}

/** What the permission management API (issue 6) works with. */
export interface ManagementServices {
  readonly store: ProfileStore;
  readonly instance: InstanceSettings;
  /** Audit events of profile changes. */
  readonly changeLog: ChangeLog;
  /** Usage of job tokens per target and source. */
  readonly authLog: AuthLog;
}

/** Context of one GraphQL request. */
export interface GatewayContext {
  /** Correlates logs, audit events and upstream calls (`X-Request-Id`). */
  readonly requestId: string;
  readonly principal: Principal;
  readonly authz: RequestAuthorizer;
  readonly loaders: UpstreamLoaders;
  readonly upstream: UpstreamClient;
  /** Options passed on every upstream call of this request (request id). */
  readonly callOptions: CallOptions;
  /** Seals connection cursors (the gateway's key, shared by a fleet). Default: the process's. */
  readonly cursors?: CursorCodec;
  /** The shared revocation list (`jobTokenRevoke` writes to it). */
  readonly revocations: RevocationList;
  /** Longest accepted token lifetime, seconds: how long a revoked job stays revoked. */
  readonly maxTokenLifetimeSeconds: number;
  /** Observer of denials (authorization log, metrics); must not throw. */
  readonly onDenied?: (decision: TargetDecision, requirement: CheckedRequirement) => void;
  /** Observer of checks allowed only because the target is in AUDIT mode; must not throw. */
  readonly onAuditWouldDeny?: (
    decision: TargetDecision,
    requirements: readonly CheckedRequirement[],
  ) => void;
  /** Observer of allowed root-field checks (writes); must not throw. */
  readonly onAllowed?: (
    decision: TargetDecision,
    requirements: readonly CheckedRequirement[],
  ) => void;
  /** The fleet's decision cache (Redis); absent in the in-memory demo. */
  readonly decisions?: DecisionCache | undefined;
  /** The management API's services; absent where a context is built without them. */
  readonly management?: ManagementServices;
  /** Observer of every allowed check (authorization log); cheap, must not throw. */
  readonly onUsed?: (decision: TargetDecision, requirements: readonly CheckedRequirement[]) => void;
}

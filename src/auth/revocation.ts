/**
 * Token revocation (DESIGN.md section 3): by `jti`, or by job id for every token of a finished
 * job, each kept until the token(s) would have expired anyway.
 *
 * The check is on the hot path of every request, so it is synchronous and local: a
 * {@link LocalRevocationSet} in process memory. The Redis implementation
 * (`revocation-redis.ts`) keeps that set in step with every other instance.
 */
import type { JobTokenPrincipal, UserPrincipal } from './principal.js';

/** Revoked tokens and jobs, shared by every gateway instance. */
export interface RevocationList {
  /** Synchronous: consults the local set only (no round trip). */
  isRevoked(principal: JobTokenPrincipal | UserPrincipal): boolean;
  /** Revokes one token until `expiresAtSeconds` (its `exp`, seconds since the epoch). */
  revokeJti(jti: string, expiresAtSeconds: number): Promise<void>;
  /** Revokes every token of job `jobId` until `untilSeconds` (seconds since the epoch). */
  revokeJob(jobId: number, untilSeconds: number): Promise<void>;
  /** Loads the current set and starts following changes (Redis: load, then subscribe). */
  start(): Promise<void>;
  /** Stops timers and subscriptions. Does not close connections it was given. */
  close(): Promise<void>;
}

/**
 * Added to every revocation's end, in seconds. The verifier accepts a token until
 * `exp + clockTolerance`, and may have accepted an `iat` up to the tolerance in the future, so a
 * revocation that ended exactly at `exp` (or at now + max lifetime) would leave a window where
 * the token works again. 600 s is twice the largest tolerance the configuration allows
 * (`SCOPEGATE_CLOCK_TOLERANCE_SECONDS` ≤ 300), so no configuration reopens that window.
 */
export const REVOCATION_GRACE_SECONDS = 600;

/** How often expired entries are dropped from the local set, in ms. */
export const PRUNE_INTERVAL_MS = 60_000;

/** Validates revocation arguments; a bad one is a programmer error, not a request failure. */
export function checkRevocationArgs(
  kind: 'jti' | 'job',
  id: string | number,
  untilSeconds: number,
): void {
  if (kind === 'jti' && (typeof id !== 'string' || id.length === 0)) {
    throw new TypeError('jti must be a non-empty string');
  }
  if (kind === 'job' && (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)) {
    throw new TypeError('jobId must be a non-negative integer');
  }
  if (typeof untilSeconds !== 'number' || !Number.isFinite(untilSeconds)) {
    throw new TypeError('the expiry must be a finite number of seconds since the epoch');
  }
}

/**
 * The in-process set of revocations: jti → expiry and job id → expiry, in ms since the epoch.
 * Adding keeps the later expiry, so a late or duplicated message never shortens a revocation.
 * Expired entries are ignored at lookup and dropped by {@link prune}.
 */
export class LocalRevocationSet {
  private readonly jtis = new Map<string, number>();
  private readonly jobs = new Map<number, number>();

  /** `now` returns ms since the epoch. */
  constructor(private readonly now: () => number) {}

  /** Records a revoked jti until `untilMs`. */
  addJti(jti: string, untilMs: number): void {
    if ((this.jtis.get(jti) ?? -Infinity) < untilMs) this.jtis.set(jti, untilMs);
  }

  /** Records a revoked job until `untilMs`. */
  addJob(jobId: number, untilMs: number): void {
    if ((this.jobs.get(jobId) ?? -Infinity) < untilMs) this.jobs.set(jobId, untilMs);
  }

  /** Whether the principal's jti, or (for a job token) its job, is revoked right now. */
  has(principal: JobTokenPrincipal | UserPrincipal): boolean {
    const now = this.now();
    if (principal.jti !== undefined && (this.jtis.get(principal.jti) ?? -Infinity) > now) {
      return true;
    }
    return principal.kind === 'job' && (this.jobs.get(principal.jobId) ?? -Infinity) > now;
  }

  /** The entries that have not expired: jtis and job ids with their expiry (ms). */
  live(): { jtis: [string, number][]; jobs: [number, number][] } {
    const now = this.now();
    return {
      jtis: [...this.jtis].filter(([, until]) => until > now),
      jobs: [...this.jobs].filter(([, until]) => until > now),
    };
  }

  /** Drops every entry that has expired. */
  prune(): void {
    const now = this.now();
    for (const [jti, until] of this.jtis) if (until <= now) this.jtis.delete(jti);
    for (const [job, until] of this.jobs) if (until <= now) this.jobs.delete(job);
  }

  /** Number of entries held (expired ones included until pruned); for tests and metrics. */
  get size(): number {
    return this.jtis.size + this.jobs.size;
  }
}

/** Starts an unref'd timer that prunes `set`; returns its stopper. */
export function startPruning(set: LocalRevocationSet, intervalMs = PRUNE_INTERVAL_MS): () => void {
  const timer = setInterval(() => set.prune(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A revocation list for one process (the `--demo` mode without Redis). `now` returns ms since
 * the epoch (default `Date.now`).
 */
export function createMemoryRevocationList(opts: { now?: () => number } = {}): RevocationList {
  const set = new LocalRevocationSet(opts.now ?? Date.now);
  let stopPruning: (() => void) | undefined;
  return {
    isRevoked: (principal) => set.has(principal),
    async revokeJti(jti, expiresAtSeconds) {
      checkRevocationArgs('jti', jti, expiresAtSeconds);
      set.addJti(jti, expiresAtSeconds * 1000);
    },
    async revokeJob(jobId, untilSeconds) {
      checkRevocationArgs('job', jobId, untilSeconds);
      set.addJob(jobId, untilSeconds * 1000);
    },
    start() {
      stopPruning ??= startPruning(set);
      return Promise.resolve();
    },
    close() {
      stopPruning?.();
      stopPruning = undefined;
      return Promise.resolve();
    },
  };
}

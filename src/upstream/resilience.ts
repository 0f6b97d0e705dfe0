/**
 * Upstream resilience: bounded retries of idempotent reads, and a circuit breaker per upstream
 * that fails fast while the forge is down instead of holding every request for its timeout.
 *
 * Only GETs are retried, and only after a failure that says nothing reached the forge's
 * application or it answered "try again" (connection error, 502, 503, 504). A timeout is not
 * retried: the call has already waited its whole budget. A write is never retried: the forge
 * may have done it before the connection broke, and a second POST would do it twice.
 */

/** Options of the upstream client's resilience (`UpstreamClientOptions.resilience`). */
export interface ResilienceOptions {
  /** Extra attempts of a GET after a retryable failure. Default 2. */
  readonly retries?: number;
  /** First backoff, ms; doubled each retry, with jitter (50–100 % of it). Default 100. */
  readonly retryBaseDelayMs?: number;
  /** Consecutive failures that open the circuit; 0 turns the breaker off. Default 5. */
  readonly breakerThreshold?: number;
  /** How long the circuit stays open before one trial call, ms. Default 10 000. */
  readonly breakerCooldownMs?: number;
  /** Told when the circuit changes state (metrics, logs); must not throw. */
  readonly onBreakerStateChange?: (state: BreakerState) => void;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/** The normalised form of {@link ResilienceOptions}. */
export interface ResolvedResilienceOptions {
  readonly retries: number;
  readonly retryBaseDelayMs: number;
  readonly breakerThreshold: number;
  readonly breakerCooldownMs: number;
}

/** Defaults of {@link ResilienceOptions}. */
export const RESILIENCE_DEFAULTS: ResolvedResilienceOptions = Object.freeze({
  retries: 2,
  retryBaseDelayMs: 100,
  breakerThreshold: 5,
  breakerCooldownMs: 10_000,
});

/** `closed`: calls go through; `open`: calls fail fast; `half_open`: one trial call is out. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** A circuit breaker over consecutive failures. */
export interface CircuitBreaker {
  readonly state: BreakerState;
  /** Whether a call may go out now; in `half_open` only the one trial call may. */
  tryAcquire(): boolean;
  /** The call reached a healthy forge. */
  onSuccess(): void;
  /** The call failed in a way that says the forge is unhealthy. */
  onFailure(): void;
}

/** Creates a breaker; `threshold` 0 gives one that never opens. */
export function createCircuitBreaker(options: ResilienceOptions = {}): CircuitBreaker {
  const threshold = options.breakerThreshold ?? RESILIENCE_DEFAULTS.breakerThreshold;
  const cooldownMs = options.breakerCooldownMs ?? RESILIENCE_DEFAULTS.breakerCooldownMs;
  const now = options.now ?? Date.now;
  let state: BreakerState = 'closed';
  let failures = 0;
  let openedAt = 0;
  const set = (next: BreakerState): void => {
    if (next === state) return;
    state = next;
    options.onBreakerStateChange?.(next);
  };
  return {
    get state() {
      return state;
    },
    tryAcquire() {
      if (state === 'closed') return true;
      if (state === 'open' && now() - openedAt >= cooldownMs) {
        set('half_open');
        return true;
      }
      return false;
    },
    onSuccess() {
      failures = 0;
      set('closed');
    },
    onFailure() {
      failures += 1;
      if (threshold > 0 && (state === 'half_open' || failures >= threshold)) {
        openedAt = now();
        set('open');
      }
    },
  };
}

/** What one attempt ended with, as far as resilience cares. */
export type AttemptOutcome = number | 'network_error' | 'timeout' | 'ok';

/** Whether an attempt's failure tells the breaker the forge is unhealthy. */
export function countsAsFailure(outcome: AttemptOutcome): boolean {
  return (
    outcome === 'network_error' ||
    outcome === 'timeout' ||
    (typeof outcome === 'number' && outcome >= 500)
  );
}

/** Whether a GET that ended this way may be tried again. */
export function isRetryable(outcome: AttemptOutcome): boolean {
  return outcome === 'network_error' || outcome === 502 || outcome === 503 || outcome === 504;
}

/** The wait before retry number `retry` (1-based): exponential, with jitter. */
export function backoffMs(
  retry: number,
  baseMs: number,
  random: () => number = Math.random,
): number {
  const full = baseMs * 2 ** (retry - 1);
  return Math.round(full * (0.5 + random() / 2));
}

/** Fills in defaults; throws at start-up on a negative or non-integer setting. */
export function resolveResilience(options: ResilienceOptions = {}): ResolvedResilienceOptions {
  const out = { ...RESILIENCE_DEFAULTS };
  for (const key of Object.keys(RESILIENCE_DEFAULTS) as (keyof ResolvedResilienceOptions)[]) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) throw new Error(`"${key}" must be an integer >= 0`);
    out[key] = v;
  }
  return Object.freeze(out);
}

/**
 * A failing forge in the log, not only in the metrics: each failed upstream call (5xx, timeout,
 * no connection; the breaker bounds how many) and each change of the circuit breaker. Method
 * and outcome only: never a URL, path or credential.
 */
import type { Logger } from 'pino';
import type { UpstreamClientOptions } from '../upstream/client.js';
import type { BreakerState } from '../upstream/resilience.js';

const CIRCUIT_MESSAGES: Record<BreakerState, string> = {
  open: 'forge API circuit opened: calls are refused until the cool-down ends',
  half_open: 'forge API circuit half-open: one trial call goes through',
  closed: 'forge API circuit closed: calls go through again',
};

/** `options` with its call and breaker observers also writing to `logger`. */
export function logUpstream(options: UpstreamClientOptions, logger: Logger): UpstreamClientOptions {
  const { onCall, resilience } = options;
  return {
    ...options,
    onCall: (call) => {
      onCall?.(call);
      if (call.status === 'circuit_open') return;
      if (typeof call.status === 'number' && call.status < 500) return;
      logger.warn(
        {
          event: 'upstream.call_failed',
          method: call.method,
          status: call.status,
          durationMs: call.durationMs,
          attempt: call.attempt,
        },
        'forge API call failed',
      );
    },
    ...(resilience
      ? {
          resilience: {
            ...resilience,
            // The breaker reports changes only, so each is one line.
            onBreakerStateChange: (state: BreakerState) => {
              resilience.onBreakerStateChange?.(state);
              logger[state === 'closed' ? 'info' : 'warn'](
                { event: 'upstream.circuit', state },
                CIRCUIT_MESSAGES[state],
              );
            },
          },
        }
      : {}),
  };
}

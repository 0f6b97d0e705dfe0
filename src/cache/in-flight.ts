/**
 * Decisions a request of this process is reading or computing right now, by target. Under
 * steady traffic a target's decision and role expire together for every request in flight, and
 * each used to read Redis, ask the forge for the role and decide on its own; a request that
 * finds its target here waits for the one deciding it instead (`request-authorizer.ts`).
 */
import type { LocalDecision } from './decision-cache.js';

/** What {@link DecisionFlights.claim} hands a request: the decision to wait for, or its own. */
export type FlightClaim =
  | { readonly joined: Promise<LocalDecision | undefined>; readonly settle?: undefined }
  | { readonly joined?: undefined; readonly settle: (decided: LocalDecision | undefined) => void };

/** The registry of one process, held by its {@link DecisionCache}. */
export interface DecisionFlights {
  /**
   * The decision another request is working out for this target (and invalidation generation)
   * right now, if any. Resolves `undefined` when that request failed: the caller then decides
   * on its own.
   */
  join(
    projectId: number,
    principalKey: string,
    generation: number,
  ): Promise<LocalDecision | undefined> | undefined;
  /**
   * Registers the caller as the one deciding a target. Call the returned function when done:
   * with the decision, or `undefined` on failure (later calls are ignored). Until then, requests
   * that join wait.
   */
  lead(
    projectId: number,
    principalKey: string,
    generation: number,
  ): (decided: LocalDecision | undefined) => void;
  /** {@link join} when another request leads this target, {@link lead} otherwise: one look-up. */
  claim(projectId: number, principalKey: string, generation: number): FlightClaim;
}

/** A target being decided; its promise is made only when a second request joins. */
interface Flight {
  waiting?: Promise<LocalDecision | undefined>;
  resolve?: (decided: LocalDecision | undefined) => void;
  done: boolean;
}

export function createDecisionFlights(): DecisionFlights {
  // An entry lives only until its leader settles it.
  const flights = new Map<string, Flight>();
  const keyOf = (projectId: number, principalKey: string, gen: number): string =>
    `${projectId}|${gen}|${principalKey}`;
  const joinFlight = (f: Flight): Promise<LocalDecision | undefined> =>
    (f.waiting ??= new Promise((resolve) => (f.resolve = resolve)));
  const leadFlight = (key: string): ((decided: LocalDecision | undefined) => void) => {
    const f: Flight = { done: false };
    flights.set(key, f);
    return (d) => {
      if (f.done) return;
      f.done = true;
      if (flights.get(key) === f) flights.delete(key);
      f.resolve?.(d);
    };
  };
  return {
    join(projectId, principalKey, gen) {
      const f = flights.get(keyOf(projectId, principalKey, gen));
      return f && joinFlight(f);
    },
    lead: (projectId, principalKey, gen) => leadFlight(keyOf(projectId, principalKey, gen)),
    claim(projectId, principalKey, gen) {
      const key = keyOf(projectId, principalKey, gen);
      const f = flights.get(key);
      return f ? { joined: joinFlight(f) } : { settle: leadFlight(key) };
    },
  };
}

/**
 * Decisions a request of this process is reading or computing right now, by target. Under
 * steady traffic a target's decision and role expire together for every request in flight, and
 * each used to read Redis, ask the forge for the role and decide on its own; a request that
 * finds its target here waits for the one deciding it instead (`request-authorizer.ts`).
 */
import type { LocalDecision } from './decision-cache.js';

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
}

export function createDecisionFlights(): DecisionFlights {
  // An entry lives only until its leader settles it.
  const flights = new Map<string, Promise<LocalDecision | undefined>>();
  const keyOf = (projectId: number, principalKey: string, gen: number): string =>
    `${projectId}|${gen}|${principalKey}`;
  return {
    join: (projectId, principalKey, gen) => flights.get(keyOf(projectId, principalKey, gen)),
    lead(projectId, principalKey, gen) {
      const key = keyOf(projectId, principalKey, gen);
      let settle!: (decided: LocalDecision | undefined) => void;
      const decided = new Promise<LocalDecision | undefined>((resolve) => (settle = resolve));
      flights.set(key, decided);
      let done = false;
      return (d) => {
        if (done) return;
        done = true;
        if (flights.get(key) === decided) flights.delete(key);
        settle(d);
      };
    },
  };
}

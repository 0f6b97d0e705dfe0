/**
 * Identical forge reads of concurrent requests share one call.
 *
 * Under load many requests ask the forge the same thing at once (every job of a pipeline
 * listing the same project's releases). Each such read costs a forge request and, in the
 * gateway, the parse of its whole answer: for a page of 100 releases that parse is the largest
 * single item of a request's CPU (bench/NOTES.md, round 5). A read may join an identical call
 * already on its way instead of making its own.
 *
 * Joining never answers older data than calling would have: a read joins a call only when that
 * call was made after the read's own request arrived at the gateway (an {@link arrivalTicket}
 * taken when the request came in, compared with one taken when the call was made). Whatever
 * the client saw completed before it sent its request, its own writes through the gateway
 * included, had completed before that call left, so the forge's answer includes it. A read
 * without an arrival ticket (the CLI, the gateway's own background work) never joins.
 *
 * An answer that more than one request received is deep-frozen before any of them sees it, so
 * no request can change what another one reads.
 */

let lastTicket = 0;

/**
 * A number larger than every ticket handed out before it, in this process. Take one when a
 * request arrives (`CallOptions.arrival`); a call takes one when it is made.
 */
export function arrivalTicket(): number {
  return ++lastTicket;
}

interface Flight<R> {
  /** The ticket taken when the call was made. */
  readonly made: number;
  /** How many reads joined it. */
  joined: number;
  promise: Promise<R>;
}

/** Calls on their way, by what they ask. */
export interface ReadSharing<R> {
  /**
   * `call()`'s answer, or that of an identical call (same `key`) made after `arrival`. `onJoin`
   * is told when the read joined one.
   */
  run(
    key: string,
    arrival: number | undefined,
    call: () => Promise<R>,
    onJoin?: () => void,
  ): Promise<R>;
  /** Calls on their way that a read could still join. */
  readonly size: number;
}

/**
 * Creates the table of calls on their way. `seal` is applied to an answer that more than one
 * read received, before any of them sees it.
 */
export function createReadSharing<R>(seal: (answer: R) => void): ReadSharing<R> {
  const flights = new Map<string, Flight<R>>();
  const land = (key: string, flight: Flight<R>): void => {
    if (flights.get(key) === flight) flights.delete(key);
  };
  return {
    run(key, arrival, call, onJoin) {
      const current = flights.get(key);
      if (current && arrival !== undefined && current.made > arrival) {
        current.joined++;
        onJoin?.();
        return current.promise;
      }
      const flight: Flight<R> = {
        made: arrivalTicket(),
        joined: 0,
        promise: Promise.resolve() as Promise<R>,
      };
      flight.promise = call().then(
        (answer) => {
          land(key, flight);
          if (flight.joined > 0) seal(answer);
          return answer;
        },
        (err: unknown) => {
          land(key, flight);
          throw err;
        },
      );
      // A newer call replaces an older one: later reads may join the newer, never the older.
      flights.set(key, flight);
      return flight.promise;
    },
    get size() {
      return flights.size;
    },
  };
}

/** Freezes a parsed JSON value and everything in it. */
export function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const v of value) deepFreeze(v);
  } else {
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  }
}

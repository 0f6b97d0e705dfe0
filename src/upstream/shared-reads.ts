/**
 * Identical forge reads of concurrent requests share one call.
 *
 * Under load many requests ask the forge the same thing at once (every job of a pipeline
 * listing the same project's releases). Each such read costs a forge request and, in the
 * gateway, the parse of its whole answer: for a page of 100 releases that parse is the largest
 * single item of a request's CPU (bench/NOTES.md, round 5). A read may join an identical call
 * already on its way instead of making its own.
 *
 * A joined answer is never older than the forge's state when the read's request arrived: a
 * read joins a call only when that call was made after the request arrived at the gateway (an
 * {@link arrivalTicket} taken when the request came in, compared with one taken when the call
 * was made), and after the last write this client made had settled ({@link ReadSharing.fence}).
 * Whatever the client saw completed before it sent its request, and every write of its own
 * request before the read, had therefore completed before that call left, so the forge's
 * answer includes it. A read without an arrival ticket (the CLI, the gateway's own background
 * work) never joins.
 *
 * An answer that more than one read received is deep-frozen before any of them sees it, so no
 * request can change what another one reads.
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
  /**
   * A write has settled: from now on a read joins only calls made after this moment, whatever
   * its arrival (a later field of the request that wrote must read what it wrote).
   */
  fence(): void;
  /** Calls on their way that a read could still join. */
  readonly size: number;
}

/** Options of {@link createReadSharing}. */
export interface ReadSharingOptions {
  /** Seal every answer, not only the shared ones (tests: mutation of an answer always fails). */
  readonly sealAll?: boolean;
}

/**
 * Creates the table of calls on their way. `seal` is applied to an answer that more than one
 * read received, before any of them sees it.
 */
export function createReadSharing<R>(
  seal: (answer: R) => void,
  options: ReadSharingOptions = {},
): ReadSharing<R> {
  const flights = new Map<string, Flight<R>>();
  const sealAll = options.sealAll ?? false;
  /** Calls made before this ticket are joined by no read (the last write settled after them). */
  let floor = 0;
  const land = (key: string, flight: Flight<R>): void => {
    if (flights.get(key) === flight) flights.delete(key);
  };
  return {
    run(key, arrival, call, onJoin) {
      const current = flights.get(key);
      if (current && arrival !== undefined && current.made > Math.max(arrival, floor)) {
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
          if (sealAll || flight.joined > 0) seal(answer);
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
    fence() {
      floor = arrivalTicket();
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

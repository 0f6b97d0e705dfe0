/**
 * Graceful close of a node:http server: stop accepting at once, let in-flight requests finish,
 * and cut whatever is still open when the deadline passes. Keep-alive connections are closed
 * as soon as they fall idle, so a drained server does not wait for their idle timeout.
 */
import type { Server } from 'node:http';

/** Default drain deadline, milliseconds (`SCOPEGATE_SHUTDOWN_GRACE_MS`). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** How {@link closeGracefully} ended. */
export interface CloseOutcome {
  /** Connections were still open at the deadline and were destroyed. */
  readonly forced: boolean;
}

/**
 * Closes `server`: no new connection is accepted from the first moment; in-flight requests
 * complete unless `graceMs` passes first, when every remaining connection is destroyed.
 */
export async function closeGracefully(server: Server, graceMs: number): Promise<CloseOutcome> {
  if (!server.listening) return { forced: false };
  let forced = false;
  await new Promise<void>((resolve) => {
    // A connection whose response just finished is idle until its keep-alive timeout; closing
    // idle ones every few ms lets the drain end as soon as the last request does.
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
  return { forced };
}

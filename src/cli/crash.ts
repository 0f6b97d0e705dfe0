/**
 * Last-resort handlers: an unhandled rejection or uncaught exception is a bug that leaves the
 * process in an unknown state, so it is logged as one JSON line and the process exits non-zero
 * (a supervisor restarts it) instead of serving on half-broken.
 */

/** The log line for a crash: the error's name and stack frames, never its message. */
export function crashLine(event: string, err: unknown): string {
  // A library's message can quote its input (a header, a token); the frames say where it was.
  const frames =
    err instanceof Error && typeof err.stack === 'string'
      ? err.stack
          .split('\n')
          .slice(1, 8)
          .map((l) => l.trim())
      : [];
  return JSON.stringify({
    level: 60,
    time: new Date().toISOString(),
    service: 'scopegate',
    event,
    error: err instanceof Error ? err.name : typeof err,
    frames,
    msg: 'crashed',
  });
}

/** Installs the handlers once; `exit` is replaceable for tests. */
export function installCrashHandlers(exit: (code: number) => void = (c) => process.exit(c)): void {
  const crash = (event: string) => (err: unknown) => {
    process.stderr.write(`${crashLine(event, err)}\n`);
    exit(70);
  };
  process.on('unhandledRejection', crash('process.unhandled_rejection'));
  process.on('uncaughtException', crash('process.uncaught_exception'));
}

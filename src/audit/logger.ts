/**
 * The structured JSON logger (pino). Redaction is a second line of defence: no code path logs
 * a token, a claim set, a secret or the upstream credential on purpose, and these paths are
 * censored anyway should a header object ever reach a log call.
 */
import { pino, type Logger } from 'pino';

/** Field paths censored in every log line. */
export const REDACTED_PATHS: readonly string[] = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'job-token',
  '*["job-token"]',
  'private-token',
  '*["private-token"]',
  'x-gitlab-token',
  '*["x-gitlab-token"]',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level; default `info`. */
  readonly level?: string;
  /** Where lines go; default stdout. Tests pass a stream to capture and scan them. */
  readonly destination?: NodeJS.WritableStream;
}

/** A JSON logger with redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'scopegate' },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

/** A logger that drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

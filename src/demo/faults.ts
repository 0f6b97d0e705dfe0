/**
 * Injected upstream failures, for tests of how the gateway copes with a misbehaving forge:
 * an error status, a slow answer, a reset connection, a body that is not JSON, or a body far
 * too large to buffer.
 */
import type { ServerResponse } from 'node:http';

/** A failure to inject into matching requests. */
export interface FaultRule {
  /** Only requests with this method (any method when absent). */
  method?: string;
  /**
   * Matched against the decoded pathname after `/api/v4` (e.g. `/projects/acme/web/releases`):
   * a string must equal it (the raw, still-encoded pathname is accepted too), a RegExp must
   * match it.
   */
  path: string | RegExp;
  /**
   * `status`: answer `status` with `body`; `delay`: wait `delayMs`, then answer normally;
   * `late`: answer normally at once, but send that answer only after `delayMs` (what the forge
   * said when the request arrived, arriving late);
   * `reset`: destroy the connection; `garbage`: 200 with non-JSON text labelled JSON;
   * `huge`: 200 with a 20 MB JSON array, streamed.
   */
  kind: 'status' | 'delay' | 'late' | 'reset' | 'garbage' | 'huge';
  /** Status for `status` faults (default 500). */
  status?: number;
  /** Body for `status` faults: a string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Milliseconds to wait for `delay` and `late` faults (default 1000). */
  delayMs?: number;
  /** How many requests the rule applies to before it removes itself (default: unlimited). */
  times?: number;
}

/** Size of the body a `huge` fault streams. */
export const HUGE_BODY_BYTES = 20 * 1024 * 1024;

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** The active fault rules of one server, first match wins. */
export class FaultSet {
  private rules: ActiveRule[] = [];

  /** Adds a rule; the returned function removes it. */
  add(rule: FaultRule): () => void {
    const active: ActiveRule = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(active);
    return () => {
      this.rules = this.rules.filter((r) => r !== active);
    };
  }

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
  }

  /** The first rule matching the request, counting it against the rule's `times`. */
  take(method: string, decodedPath: string, rawPath: string): FaultRule | undefined {
    const active = this.rules.find(({ rule }) => {
      if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
      if (typeof rule.path === 'string') return rule.path === decodedPath || rule.path === rawPath;
      rule.path.lastIndex = 0;
      return rule.path.test(decodedPath);
    });
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
    return active.rule;
  }
}

/** Waits `ms`, or less when `signal` aborts (the server is closing). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** Streams a JSON array of at least {@link HUGE_BODY_BYTES}, respecting back-pressure. */
export async function streamHugeBody(res: ServerResponse, signal: AbortSignal): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  const filler = 'x'.repeat(200);
  let written = 0;
  let n = 0;
  res.write('[');
  while (written < HUGE_BODY_BYTES) {
    if (res.destroyed || signal.aborted) return;
    const items: string[] = [];
    for (let i = 0; i < 256; i += 1, n += 1)
      items.push(`${n === 0 ? '' : ','}{"id":${n},"name":"${filler}"}`);
    const chunk = items.join('');
    written += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const resume = (): void => {
          res.off('drain', resume);
          res.off('close', resume);
          resolve();
        };
        res.on('drain', resume);
        res.on('close', resume);
      });
    }
  }
  res.end(']');
}

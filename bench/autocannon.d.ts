/**
 * The part of autocannon 9's API the load worker uses (the package ships no types).
 */
declare module 'autocannon' {
  /** A request as `setupRequest` sees and returns it. */
  export interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }

  /** Options of one run. */
  export interface AutocannonOptions {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Total requests (overrides `duration`). */
    amount?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    timeout?: number;
    /** Sampling interval, ms (a run with `amount` ends on a sample tick). Default 1000. */
    sampleInt?: number;
    requests?: {
      setupRequest?: (
        req: AutocannonRequest,
        context: Record<string, unknown>,
      ) => AutocannonRequest;
    }[];
  }

  /** Latency or throughput histogram summary. */
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
  }

  /** What a run reports. */
  export interface AutocannonResult {
    latency: Histogram;
    requests: Histogram;
    throughput: Histogram;
    /** Seconds. */
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }

  /** A running load: resolves to its result, and emits `response` for every answer. */
  export interface AutocannonRun extends Promise<AutocannonResult> {
    on(
      event: 'response',
      listener: (
        client: unknown,
        statusCode: number,
        resBytes: number,
        responseTimeMs: number,
      ) => void,
    ): void;
  }

  function autocannon(opts: AutocannonOptions): AutocannonRun;
  export default autocannon;
}

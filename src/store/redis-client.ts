/**
 * ioredis connections from configuration, with every timeout bounded on purpose: no offline
 * queue (a command while Redis is away fails at once instead of piling up), one retry per
 * command, a command timeout, and reconnect delays capped so the gateway notices Redis coming
 * back within about a second (DESIGN.md section 6: fail closed, recover by itself).
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** Where Redis is and how patient to be with it. */
export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL of a single node. Exclusive with `clusterNodes`. */
  readonly url?: string | undefined;
  /** Seed nodes of a Redis Cluster. */
  readonly clusterNodes?: readonly { host: string; port: number }[] | undefined;
  /** Longest wait for one command, ms. Default 1000. */
  readonly commandTimeoutMs?: number;
  /** Longest wait for a TCP connection, ms. Default 2000. */
  readonly connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts, ms. Default 500. */
  readonly maxReconnectDelayMs?: number;
  /**
   * A pub/sub subscriber: keeps the offline queue, so `SUBSCRIBE` issued before the first
   * connect waits for it (a subscriber sends a handful of commands, never a growing stream).
   * ioredis does not subscribe again after a reconnect: its own re-subscription is sent without
   * a rejection handler (fixed upstream in redis/ioredis#2187, in no release yet), so a
   * connection that closed again before Redis answered it (Redis flapping, or the gateway
   * shutting down) was an unhandled rejection, which ends the process. Every subscriber of the
   * gateway subscribes again on 'ready' itself, with the failure handled, and drops or reloads
   * what it may have missed meanwhile.
   */
  readonly subscriber?: boolean;
}

/** Defaults of {@link RedisConnectionOptions}. */
export const REDIS_CONNECTION_DEFAULTS = Object.freeze({
  commandTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  maxReconnectDelayMs: 500,
});

/** A connection: a single node or a Cluster (both speak the same commands). */
export type RedisConnection = Redis | Cluster;

function nodeOptions(opts: RedisConnectionOptions): RedisOptions {
  const maxDelay = opts.maxReconnectDelayMs ?? REDIS_CONNECTION_DEFAULTS.maxReconnectDelayMs;
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: opts.subscriber === true,
    autoResubscribe: opts.subscriber !== true,
    commandTimeout: opts.commandTimeoutMs ?? REDIS_CONNECTION_DEFAULTS.commandTimeoutMs,
    connectTimeout: opts.connectTimeoutMs ?? REDIS_CONNECTION_DEFAULTS.connectTimeoutMs,
    // Never give up (null would stop reconnecting for good); the cap bounds recovery time.
    retryStrategy: (times: number) => Math.min(50 * times, maxDelay),
  };
}

/**
 * Opens a connection. Errors are reported through `onError` (ioredis emits them as events; an
 * unhandled 'error' event would crash the process).
 * @throws TypeError when neither or both of `url` and `clusterNodes` are given.
 */
export function createRedisConnection(
  opts: RedisConnectionOptions,
  onError: (err: Error) => void = () => undefined,
): RedisConnection {
  const nodes = opts.clusterNodes ?? [];
  if ((opts.url === undefined) === (nodes.length === 0))
    throw new TypeError('exactly one of "url" and "clusterNodes" must be given');
  let conn: RedisConnection;
  if (opts.url !== undefined) {
    conn = new Redis(opts.url, nodeOptions(opts));
  } else {
    const maxDelay = opts.maxReconnectDelayMs ?? REDIS_CONNECTION_DEFAULTS.maxReconnectDelayMs;
    const clusterOpts: ClusterOptions = {
      enableOfflineQueue: opts.subscriber === true,
      redisOptions: nodeOptions(opts),
      clusterRetryStrategy: (times: number) => Math.min(50 * times, maxDelay),
      slotsRefreshTimeout: opts.connectTimeoutMs ?? REDIS_CONNECTION_DEFAULTS.connectTimeoutMs,
    };
    conn = new Cluster(
      nodes.map((n) => ({ host: n.host, port: n.port })),
      clusterOpts,
    );
  }
  conn.on('error', onError);
  return conn;
}

/** Where a connection goes, for messages: host and port only (never a password). */
function describeTarget(conn: RedisConnection): string {
  if (isCluster(conn)) return 'the Cluster of REDIS_CLUSTER_NODES';
  return `${conn.options.host ?? '127.0.0.1'}:${conn.options.port ?? 6379}`;
}

/** Resolves once the connection is ready; rejects after `timeoutMs`. */
export async function waitUntilReady(conn: RedisConnection, timeoutMs = 10_000): Promise<void> {
  if (conn.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off('ready', onReady);
      reject(new Error(`Redis (${describeTarget(conn)}) was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    conn.once('ready', onReady);
  });
}

/** Whether Redis answers a PING right now (readiness). Never throws. */
export async function pingRedis(conn: RedisConnection): Promise<boolean> {
  if (conn.status !== 'ready') return false;
  try {
    return (await conn.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * Why Redis might lose policies on restart, or `undefined` when AOF or RDB snapshots are on
 * (or when `CONFIG` is disabled, so nothing can be said). A Cluster is asked through one node.
 */
export async function persistenceWarning(conn: RedisConnection): Promise<string | undefined> {
  const node: Redis | undefined = conn instanceof Cluster ? conn.nodes('master')[0] : conn;
  if (node === undefined) return undefined;
  try {
    const aof = (await node.config('GET', 'appendonly')) as string[];
    const save = (await node.config('GET', 'save')) as string[];
    const aofOn = aof[1] === 'yes';
    const rdbOn = typeof save[1] === 'string' && save[1].trim().length > 0;
    if (aofOn || rdbOn) return undefined;
    return 'Redis persistence is off (appendonly no, save ""): job token profiles are lost when Redis restarts; run Redis with appendonly yes';
  } catch {
    return undefined;
  }
}

/** Whether a connection is a Cluster (its multi-key transactions must stay in one slot). */
export function isCluster(conn: RedisConnection): conn is Cluster {
  return conn instanceof Cluster;
}

/** SHA-1 of a Lua script, as `EVALSHA` names it. */
export function scriptSha(script: string): string {
  return createHash('sha1').update(script).digest('hex');
}

/** Whether an error is Redis saying it does not have a script cached (after a restart). */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/** Runs a Lua script by its SHA, sending the body only when the server does not have it. */
export async function evalScript(
  conn: RedisConnection,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await conn.evalsha(scriptSha(script), keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return conn.eval(script, keys.length, ...keys, ...args);
  }
}

/**
 * Asks until Redis answers: `ask` again after each failure, with pauses growing from 50 ms to
 * 400 ms, until one succeeds (its answer) or `withinMs` has passed (`undefined`). For reads that
 * settle what a lost answer left unknown, on a connection that may be slow or reconnecting.
 */
export async function askUntilAnswered<T>(
  ask: () => Promise<T>,
  withinMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ask();
    } catch {
      const pause = Math.min(50 * 2 ** attempt, 400);
      if (Date.now() + pause >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

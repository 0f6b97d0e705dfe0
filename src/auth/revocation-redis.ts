/**
 * The revocation list shared through Redis (DESIGN.md sections 3 and 6).
 *
 * Storage: one sorted set per kind, member = jti or job id, score = expiry in ms since the
 * epoch: `<prefix>:{rev}:jti` and `<prefix>:{rev}:job`. The `{rev}` hash tag puts both in one
 * slot so the same code runs on Redis Cluster. Expired members are trimmed with
 * ZREMRANGEBYSCORE on every write.
 *
 * Propagation: every revocation is published on `<prefix>:rev` as `jti:<id>:<expMs>` or
 * `job:<id>:<untilMs>`; each instance applies messages to its local set, so `isRevoked` never
 * costs a round trip. Pub/sub is fire-and-forget, so each instance also reloads the whole set
 * when its subscriber reconnects (a message sent while it was away is recovered) and every
 * `resyncIntervalMs` as the outer bound on a lost message.
 *
 * A revocation always takes effect on the instance that received it first (its local set),
 * even when Redis cannot be written. Such a revocation is kept as unsynced and written again
 * at each reconnect and each resync until Redis takes it; meanwhile `revokeJti`/`revokeJob`
 * reject with POLICY_UNAVAILABLE saying the other instances do not know yet.
 *
 * Every reload also repairs: a revocation this instance holds that Redis lacks (Redis restarted
 * empty, or restored from an old copy) is written back, so the fleet keeps every revocation as
 * long as one instance still knows it.
 */
import type { Cluster, Redis } from 'ioredis';
import { policyUnavailableError } from '../errors/codes.js';
import {
  LocalRevocationSet,
  checkRevocationArgs,
  startPruning,
  type RevocationList,
} from './revocation.js';

/** Options of {@link createRedisRevocationList}. */
export interface RedisRevocationListOptions {
  /** Command connection (shared with the rest of the gateway; not closed by `close()`). */
  redis: Redis | Cluster;
  /** Makes the dedicated subscriber connection; called once by `start()`, closed by `close()`. */
  createSubscriber: () => Redis | Cluster;
  /** Key and channel prefix. Default `sg`. */
  keyPrefix?: string;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Full reload interval, ms, bounding how long a lost message can go unnoticed. Default 60 000. */
  resyncIntervalMs?: number;
  /** Longest random pause before writing back what Redis lost. Default: 1 s, at most a quarter of the resync interval. */
  repairJitterMs?: number;
  /** Told about background failures (reload after reconnect, periodic reload). Default: ignored. */
  onError?: (err: unknown) => void;
}

/** Revocations written back per pipeline when Redis has lost them. */
const REPAIR_CHUNK = 500;

/** Redis key names and channel for a prefix. */
export function revocationKeys(prefix = 'sg'): { jti: string; job: string; channel: string } {
  return { jti: `${prefix}:{rev}:jti`, job: `${prefix}:{rev}:job`, channel: `${prefix}:rev` };
}

/** One revocation as written to Redis: its sorted set, member, expiry and pub/sub message. */
interface Write {
  readonly key: string;
  readonly member: string;
  readonly untilMs: number;
  readonly message: string;
}

/** A parsed pub/sub message. */
type RevocationMessage =
  { kind: 'jti'; id: string; untilMs: number } | { kind: 'job'; id: number; untilMs: number };

/** Parses `jti:<id>:<ms>` / `job:<id>:<ms>`; a jti may itself contain colons. */
export function parseRevocationMessage(message: string): RevocationMessage | undefined {
  const first = message.indexOf(':');
  const last = message.lastIndexOf(':');
  if (first < 0 || last <= first + 1) return undefined;
  const kind = message.slice(0, first);
  const id = message.slice(first + 1, last);
  const untilMs = Number(message.slice(last + 1));
  if (!Number.isFinite(untilMs)) return undefined;
  if (kind === 'jti') return { kind, id, untilMs };
  if (kind === 'job' && /^[0-9]{1,16}$/.test(id)) return { kind, id: Number(id), untilMs };
  return undefined;
}

/** Feeds `[member, score, member, score, ...]` (ZRANGEBYSCORE WITHSCORES) into `add`. */
function addPairs(pairs: readonly string[], add: (member: string, untilMs: number) => void): void {
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const until = Number(pairs[i + 1]);
    if (Number.isFinite(until)) add(pairs[i] as string, until);
  }
}

/**
 * Creates the Redis-backed revocation list. Call `start()` before serving: it subscribes first
 * and then loads the stored set, so a revocation published in between is not missed.
 */
export function createRedisRevocationList(opts: RedisRevocationListOptions): RevocationList {
  const { redis } = opts;
  const now = opts.now ?? Date.now;
  const keys = revocationKeys(opts.keyPrefix ?? 'sg');
  const resyncIntervalMs = opts.resyncIntervalMs ?? 60_000;
  const onError = opts.onError ?? (() => undefined);
  const repairJitterMs = opts.repairJitterMs ?? Math.min(1_000, resyncIntervalMs / 4);
  const set = new LocalRevocationSet(now);
  let subscriber: Redis | Cluster | undefined;
  let started = false;
  const stoppers: (() => void)[] = [];

  /**
   * Loads the stored set into the local one; returns what this instance holds and Redis does
   * not (or holds with an earlier expiry).
   */
  async function load(): Promise<Write[]> {
    const from = `(${now()}`;
    const [jtis, jobs] = await Promise.all([
      redis.zrangebyscore(keys.jti, from, '+inf', 'WITHSCORES'),
      redis.zrangebyscore(keys.job, from, '+inf', 'WITHSCORES'),
    ]);
    const stored = new Map<string, number>();
    addPairs(jtis, (jti, until) => {
      set.addJti(jti, until);
      stored.set(`jti ${jti}`, until);
    });
    addPairs(jobs, (job, until) => {
      if (!/^[0-9]{1,16}$/.test(job)) return;
      set.addJob(Number(job), until);
      stored.set(`job ${job}`, until);
    });
    const live = set.live();
    const held: (Write & { id: string })[] = [
      ...live.jtis.map(([jti, untilMs]) => ({
        id: `jti ${jti}`,
        key: keys.jti,
        member: jti,
        untilMs,
        message: `jti:${jti}:${untilMs}`,
      })),
      ...live.jobs.map(([job, untilMs]) => ({
        id: `job ${job}`,
        key: keys.job,
        member: String(job),
        untilMs,
        message: `job:${job}:${untilMs}`,
      })),
    ];
    return held.filter((w) => (stored.get(w.id) ?? -Infinity) < w.untilMs);
  }

  /**
   * Writes back what this instance holds and Redis lacks: Redis restarted without its data, or
   * was restored from an old copy. No revocation is ever withdrawn, so whatever one instance
   * still knows is put back for the others and for instances started since. After a random
   * pause (instances reconnect together) Redis is read again, so what another instance has put
   * back meanwhile is not sent twice; then in chunks of {@link REPAIR_CHUNK}.
   */
  async function repair(missing: readonly Write[]): Promise<void> {
    if (missing.length === 0) return;
    await new Promise((r) => setTimeout(r, Math.random() * repairJitterMs));
    const still = await load();
    for (let i = 0; i < still.length; i += REPAIR_CHUNK) {
      const p = redis.pipeline();
      for (const w of still.slice(i, i + REPAIR_CHUNK)) {
        p.zadd(w.key, 'GT', w.untilMs, w.member);
        p.publish(keys.channel, w.message);
      }
      const res = (await p.exec()) ?? [];
      const failed = res.find(([err]) => err);
      if (failed) throw failed[0];
    }
  }

  /** Revocations applied here that Redis has not taken yet, by `<key> <member>`. */
  const unsynced = new Map<string, Write>();

  /** Writes the unsynced revocations again (oldest first); stops at the first failure. */
  async function flushUnsynced(): Promise<void> {
    for (const [id, w] of unsynced) {
      if (w.untilMs <= now()) {
        unsynced.delete(id);
        continue;
      }
      await write(w);
      unsynced.delete(id);
    }
  }

  /**
   * Re-subscribes (idempotent) before reloading, so nothing falls between the two. Runs when
   * either connection is ready again: the subscriber may reconnect before the command
   * connection, and the unsynced revocations can only be written once the latter is back.
   */
  async function resync(): Promise<void> {
    if (!started || subscriber === undefined) return;
    if (redis.status !== 'ready') return; // its own 'ready' runs this again
    try {
      await flushUnsynced();
      await subscriber.subscribe(keys.channel);
      await repair(await load());
    } catch (err) {
      onError(err);
    }
  }

  function onMessage(channel: string, message: string): void {
    if (channel !== keys.channel) return;
    const parsed = parseRevocationMessage(message);
    if (parsed?.kind === 'jti') set.addJti(parsed.id, parsed.untilMs);
    else if (parsed?.kind === 'job') set.addJob(parsed.id, parsed.untilMs);
  }

  async function write({ key, member, untilMs, message }: Write): Promise<void> {
    // GT keeps the later expiry when the member is already there; a new member is added.
    await redis.zadd(key, 'GT', untilMs, member);
    await redis.publish(keys.channel, message);
    await redis.zremrangebyscore(key, '-inf', now());
  }

  async function store(w: Write): Promise<void> {
    try {
      await write(w);
    } catch (err) {
      onError(err);
      const id = `${w.key} ${w.member}`;
      const held = unsynced.get(id);
      if (!held || held.untilMs < w.untilMs) unsynced.set(id, w);
      throw policyUnavailableError(
        'the revocation applies on this gateway instance now, but Redis could not be written: ' +
          'the other instances do not know yet; it is written again when Redis is back, ' +
          'or retry the request',
      );
    }
  }

  const onReconnect = (): void => void resync();

  return {
    isRevoked: (principal) => set.has(principal),

    async revokeJti(jti, expiresAtSeconds) {
      checkRevocationArgs('jti', jti, expiresAtSeconds);
      const untilMs = Math.ceil(expiresAtSeconds * 1000);
      set.addJti(jti, untilMs);
      await store({ key: keys.jti, member: jti, untilMs, message: `jti:${jti}:${untilMs}` });
    },

    async revokeJob(jobId, untilSeconds) {
      checkRevocationArgs('job', jobId, untilSeconds);
      const untilMs = Math.ceil(untilSeconds * 1000);
      set.addJob(jobId, untilMs);
      await store({
        key: keys.job,
        member: String(jobId),
        untilMs,
        message: `job:${jobId}:${untilMs}`,
      });
    },

    async start() {
      if (subscriber !== undefined) return;
      const sub = opts.createSubscriber();
      subscriber = sub;
      sub.on('message', onMessage);
      // 'ready' follows every reconnect of a single node; a Cluster announces a new subscriber
      // node with '+subscriber'. The first 'ready' (initial connect) is skipped by `started`.
      sub.on('ready', onReconnect);
      sub.on('+subscriber', onReconnect);
      redis.on('ready', onReconnect);
      try {
        await sub.subscribe(keys.channel);
        await load();
      } catch (err) {
        // Leave nothing half-started: a later start() begins again from scratch.
        subscriber = undefined;
        sub.removeAllListeners('message');
        sub.off('ready', onReconnect);
        sub.off('+subscriber', onReconnect);
        redis.off('ready', onReconnect);
        sub.disconnect();
        throw err;
      }
      started = true;
      stoppers.push(startPruning(set));
      const timer = setInterval(onReconnect, resyncIntervalMs);
      timer.unref();
      stoppers.push(() => clearInterval(timer));
    },

    async close() {
      started = false;
      for (const stop of stoppers.splice(0)) stop();
      const sub = subscriber;
      subscriber = undefined;
      if (sub === undefined) return;
      sub.off('message', onMessage);
      sub.off('ready', onReconnect);
      sub.off('+subscriber', onReconnect);
      redis.off('ready', onReconnect);
      sub.disconnect();
    },
  };
}

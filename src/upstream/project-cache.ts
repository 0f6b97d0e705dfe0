/**
 * The forge's project records, shared by the requests of one process for a few seconds.
 *
 * Nearly every request starts with `GET /projects/:id` for the project it names, and a CI job
 * names the same project on every call: W2 of the benchmark spends half of its upstream calls
 * on it. The per-request DataLoader (`loaders.ts`) still de-duplicates within a request; this
 * layer answers the next requests too, for at most `ttlMs` after the record was fetched.
 *
 * What a record decides: the project's visibility and feature access levels feed the
 * authorization decision, and its id and path resolve a `fullPath`. A change made on the
 * forge (visibility, a feature level, a rename or transfer) is therefore seen at most `ttlMs`
 * late, the same kind of bound as the decision cache's process TTL and the role cache (both
 * documented for operators). Only found projects are remembered: a 404 or a failed call is
 * asked again by the next request, so a new project is visible at once and an outage is
 * never cached. Records are frozen, since every request that reads one shares the object.
 *
 * Requests that miss the same project at the same moment (a burst of jobs, or every open
 * connection when a record expires) share one forge call: `load` joins a fetch already in
 * flight for the same key instead of starting another. The joiners get that call's outcome,
 * a failure included (it is not remembered, so the next request asks again).
 */
import { LRUCache } from 'lru-cache';
import type { RestProject } from './types.js';

/** Options of {@link createProjectCache}. */
export interface ProjectCacheOptions {
  /** Most projects held per process; 0 turns the cache off. */
  readonly size: number;
  /** Longest a record is used after it was fetched, ms. */
  readonly ttlMs: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/** Counts since start, read by the metrics at each scrape. */
export interface ProjectCacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Misses that joined a forge call already in flight for the same key (part of `misses`). */
  readonly shared: number;
  /** Projects held now (some may have expired and not been swept yet). */
  readonly entries: number;
}

/** A process-wide cache of project records by id and by full path. */
export interface ProjectCache {
  /** The record for `idOrPath` while it is fresh; counts a hit or a miss. */
  get(idOrPath: number | string): RestProject | undefined;
  /** Remembers a record fetched now, under its id, its full path and `askedAs` (a path alias). */
  remember(project: RestProject, askedAs?: number | string): RestProject;
  /**
   * The fresh record for `idOrPath`; otherwise the outcome of the forge call already in flight
   * for the same key, or of `fetch()` (remembered when it finds the project). `undefined`: not
   * found.
   */
  load(
    idOrPath: number | string,
    fetch: () => Promise<RestProject | undefined>,
  ): Promise<RestProject | undefined>;
  stats(): ProjectCacheStats;
}

/** Defaults: 10 000 projects, 5 s (the decision cache's process TTL). */
export const PROJECT_CACHE_DEFAULTS = Object.freeze({ size: 10_000, ttlMs: 5_000 });

interface Held {
  readonly project: RestProject;
  readonly expiresAt: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** `undefined` when `size` or `ttlMs` is 0: every request asks the forge. */
export function createProjectCache(options: ProjectCacheOptions): ProjectCache | undefined {
  const { size, ttlMs } = options;
  if (!Number.isSafeInteger(size) || size < 0)
    throw new Error('project cache size must be a non-negative integer');
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 0)
    throw new Error('project cache TTL must be a non-negative integer');
  if (size === 0 || ttlMs === 0) return undefined;
  const now = options.now ?? Date.now;
  const byId = new LRUCache<number, Held>({ max: size });
  // Path → id, learnt when a record was fetched, and trusted no longer than that record was:
  // a record fetched again later (by id) does not extend what an older path or alias said, and
  // a record that no longer carries its canonical path (a rename) stops answering for it.
  const byPath = new LRUCache<string, { id: number; expiresAt: number; alias: boolean }>({
    max: size,
  });
  let hits = 0;
  let misses = 0;
  let shared = 0;
  // Forge calls in flight, by key (`id:7`, `path:acme/web`); removed when they settle.
  const inFlight = new Map<string, Promise<RestProject | undefined>>();

  function fresh(id: number | undefined): Held | undefined {
    if (id === undefined) return undefined;
    const held = byId.get(id);
    if (held && held.expiresAt > now()) return held;
    if (held) byId.delete(id);
    return undefined;
  }

  const cache: ProjectCache = {
    get(idOrPath) {
      let held: Held | undefined;
      if (typeof idOrPath === 'number') held = fresh(idOrPath);
      else {
        const ref = byPath.get(idOrPath);
        if (ref && ref.expiresAt > now()) {
          held = fresh(ref.id);
          if (held && !ref.alias && held.project.path_with_namespace !== idOrPath) held = undefined;
        }
      }
      if (held) hits++;
      else misses++;
      return held?.project;
    },
    remember(project, askedAs) {
      const frozen = deepFreeze(project);
      const expiresAt = now() + ttlMs;
      byId.set(frozen.id, { project: frozen, expiresAt });
      byPath.set(frozen.path_with_namespace, { id: frozen.id, expiresAt, alias: false });
      if (typeof askedAs === 'string' && askedAs !== frozen.path_with_namespace)
        byPath.set(askedAs, { id: frozen.id, expiresAt, alias: true });
      return frozen;
    },
    load(idOrPath, fetch) {
      const held = cache.get(idOrPath);
      if (held) return Promise.resolve(held);
      const key = typeof idOrPath === 'number' ? `id:${idOrPath}` : `path:${idOrPath}`;
      const pending = inFlight.get(key);
      if (pending) {
        shared++;
        return pending;
      }
      const call = fetch()
        .then((found) => (found ? cache.remember(found, idOrPath) : undefined))
        .finally(() => inFlight.delete(key));
      inFlight.set(key, call);
      return call;
    },
    stats: () => ({ hits, misses, shared, entries: byId.size }),
  };
  return cache;
}

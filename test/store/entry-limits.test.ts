/**
 * The memory store (demo, `check --demo`) and the Redis store (a fleet) keep the same rules:
 * the configured entry limits hold for whole-profile writes (`put`, `replaceAll`) with the same
 * typed error and message, a refused import changes nothing, and a profile created by its first
 * entry takes the configured default enforcement.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AllowlistEntry } from '../../src/policy/types.js';
import {
  createMemoryProfileStore,
  EntryLimitError,
  type MutableProfileStore,
  type ProfileWrite,
} from '../../src/store/profile-store.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const LIMITS = { maxProjectEntries: 2, maxGroupEntries: 1, defaultEnforcement: 'AUDIT' } as const;

const entry = (sourceId: number, over: Partial<AllowlistEntry> = {}): AllowlistEntry => ({
  sourceId,
  sourceKind: 'PROJECT',
  sourcePath: `acme/p${sourceId}`,
  defaultPermissions: false,
  permissions: { RELEASES: 'READ' },
  protectedRefsOnly: false,
  boundToUserRole: true,
  ...over,
});
const group = (sourceId: number): AllowlistEntry =>
  entry(sourceId, { sourceKind: 'GROUP', sourcePath: `g${sourceId}` });
const profile = (projectId: number, entries: AllowlistEntry[]): ProfileWrite => ({
  projectId,
  enforcement: 'ENFORCED',
  entries,
});

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = createRedisConnection({ url: server.url }) as Redis;
  await waitUntilReady(redis);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const stores: [string, () => MutableProfileStore][] = [
  ['memory', () => createMemoryProfileStore([], LIMITS)],
  ['Redis', () => createRedisProfileStore({ redis, ...LIMITS })],
];

describe.each(stores)('the %s profile store', (_name, create) => {
  let store: MutableProfileStore;
  beforeEach(async () => {
    await redis.flushall();
    store = create();
  });

  it('refuses a put over the project entry limit with EntryLimitError and writes nothing', async () => {
    const err = await store
      .put(profile(1, [entry(1), entry(2), entry(3)]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryLimitError);
    expect(err).toMatchObject({
      sourceKind: 'PROJECT',
      limit: 2,
      message: 'a project may have at most 2 project entries',
    });
    expect(await store.get(1)).toBeUndefined();
  });

  it('refuses an import with one profile over the group entry limit and keeps the previous policy', async () => {
    await store.replaceAll([profile(1, [entry(1)])]);
    const err = await store
      .replaceAll([profile(2, [entry(1)]), profile(3, [group(1), group(2)])])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryLimitError);
    expect(err).toMatchObject({ message: 'a project may have at most 1 group entries' });
    expect((await store.list()).map((p) => p.projectId)).toEqual([1]);
    expect(await store.get(2)).toBeUndefined();
  });

  it('takes whole profiles at the limits', async () => {
    await store.put(profile(1, [entry(1), entry(2), group(1)]));
    await store.replaceAll([profile(2, [entry(1), entry(2), group(1)])]);
    expect((await store.get(2))?.entries).toHaveLength(3);
  });

  it('gives a profile created by its first entry the configured default enforcement', async () => {
    await store.addEntry(5, entry(1));
    expect((await store.get(5))?.enforcement).toBe('AUDIT');
  });
});

describe('the memory profile store', () => {
  it('refuses initial profiles over a limit', () => {
    expect(() => createMemoryProfileStore([profile(1, [group(1), group(2)])], LIMITS)).toThrow(
      new EntryLimitError('GROUP', 1),
    );
  });
});

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
  EntryConflictError,
  EntryExistsError,
  EntryLimitError,
  type MutableProfileStore,
  type ProfileWrite,
} from '../../src/store/profile-store.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { projectEntry } from '../helpers/entries.js';

const LIMITS = { maxProjectEntries: 2, maxGroupEntries: 1, defaultEnforcement: 'AUDIT' } as const;

const entry = projectEntry;
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

  // addEntries (autopopulate): several entries and a mode in one write, or nothing at all.
  it('adds several entries and sets the mode in one write, with one new version', async () => {
    await store.addEntry(7, entry(1));
    const before = (await store.get(7))?.version ?? 0;
    const version = await store.addEntries(7, [entry(2), group(1)], {
      enforcement: 'ENFORCED',
      expectedVersion: before,
    });
    expect(version).toBe(before + 1);
    const after = await store.get(7);
    expect(after).toMatchObject({ version, enforcement: 'ENFORCED' });
    expect(after?.entries.map((e) => `${e.sourceKind}:${e.sourceId}`).sort()).toEqual([
      'GROUP:1',
      'PROJECT:1',
      'PROJECT:2',
    ]);
  });

  it('creates a missing profile with the default mode unless told one', async () => {
    await store.addEntries(8, [entry(1)], { expectedVersion: null });
    expect((await store.get(8))?.enforcement).toBe('AUDIT');
    expect((await store.get(8))?.entries).toHaveLength(1);
  });

  it('writes nothing when one of the entries would pass a limit', async () => {
    await store.addEntry(9, entry(1));
    const before = await store.get(9);
    const err = await store
      .addEntries(9, [group(1), entry(2), entry(3)], { enforcement: 'ENFORCED' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryLimitError);
    expect(err).toMatchObject({ sourceKind: 'PROJECT', limit: 2 });
    expect(await store.get(9)).toEqual(before);
  });

  it('writes nothing when one of the sources already has an entry', async () => {
    await store.addEntry(10, entry(2));
    const before = await store.get(10);
    const err = await store.addEntries(10, [entry(1), entry(2)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryExistsError);
    expect(err).toMatchObject({ message: 'acme/p2 already has an entry' });
    expect(await store.get(10)).toEqual(before);
  });

  it('writes nothing when the profile moved past the version read, or appeared when none was', async () => {
    await store.addEntry(11, entry(1));
    const read = await store.get(11);
    await store.setEnforcement(11, 'DISABLED');
    const moved = await store
      .addEntries(11, [entry(2)], { expectedVersion: read?.version ?? 0 })
      .catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(EntryConflictError);
    const appeared = await store
      .addEntries(11, [entry(2)], { expectedVersion: null })
      .catch((e: unknown) => e);
    expect(appeared).toBeInstanceOf(EntryConflictError);
    expect((await store.get(11))?.entries).toHaveLength(1);
    expect((await store.get(11))?.enforcement).toBe('DISABLED');
  });

  it('checks only the limits of the kinds it adds', async () => {
    // A profile at its group limit still takes project entries.
    await store.put(profile(12, [group(1)]));
    await expect(store.addEntries(12, [entry(1), entry(2)])).resolves.toBeGreaterThan(0);
    await expect(store.addEntries(12, [group(2)])).rejects.toBeInstanceOf(EntryLimitError);
  });
});

describe('the memory profile store', () => {
  it('refuses initial profiles over a limit', () => {
    expect(() => createMemoryProfileStore([profile(1, [group(1), group(2)])], LIMITS)).toThrow(
      new EntryLimitError('GROUP', 1),
    );
  });
});

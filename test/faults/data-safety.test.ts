/**
 * Data safety of the Redis profile store: concurrent edits from several gateway processes
 * (here: several store instances, each on its own connection) lose nothing, and a policy import
 * interrupted half-way (Redis killed after every profile was staged, before the swap) leaves
 * the previous policy in force, also for a gateway deciding from it after the restart.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllowlistEntry } from '../../src/policy/types.js';
import {
  createRedisConnection,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { createFleetGateway } from '../helpers/redis-fleet.js';
import { projectEntry } from '../helpers/entries.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const entry = (sourceId: number): AllowlistEntry =>
  projectEntry(sourceId, { sourcePath: `src/p${sourceId}` });

describe('profile data under concurrency and interruption', () => {
  let redis: TestRedis;
  const connections: RedisConnection[] = [];
  const connect = async (): Promise<Redis> => {
    const c = createRedisConnection({ url: redis.url, commandTimeoutMs: 2_000 }) as Redis;
    await waitUntilReady(c);
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    await redis.stop();
  });

  it('keeps every entry and every version of concurrent edits from four store instances', async () => {
    const stores = await Promise.all(
      [0, 1, 2, 3].map(async () => createRedisProfileStore({ redis: await connect() })),
    );
    const project = 9001;
    const versions = await Promise.all(
      stores.flatMap((s, i) => [
        ...Array.from({ length: 25 }, (_, k) => s.addEntry(project, entry(i * 100 + k))),
        s.setEnforcement(project, i % 2 === 0 ? 'AUDIT' : 'ENFORCED'),
      ]),
    );
    // 100 additions and 4 mode changes: 104 distinct versions, none lost or repeated.
    expect(new Set(versions).size).toBe(104);
    expect(Math.max(...versions)).toBe(104);
    const stored = await stores[3]!.get(project);
    expect(stored?.version).toBe(104);
    expect(stored?.entries.map((e) => e.sourceId).sort((a, b) => a - b)).toEqual(
      [0, 1, 2, 3].flatMap((i) => Array.from({ length: 25 }, (_, k) => i * 100 + k)),
    );
    // Removals racing with additions on another instance.
    await Promise.all([
      ...Array.from({ length: 25 }, (_, k) => stores[0]!.removeEntry(project, 'PROJECT', k)),
      ...Array.from({ length: 25 }, (_, k) => stores[1]!.addEntry(project, entry(500 + k))),
    ]);
    const after = await stores[2]!.get(project);
    expect(after?.entries).toHaveLength(100);
    expect(after?.version).toBe(154);
  });

  it('leaves the previous policy in force when Redis dies between staging and swap', async () => {
    const TARGET = 'acme/platform/registry';
    const policy = (levels: Record<string, string>) => ({
      version: 1,
      projects: {
        [TARGET]: {
          enforcement: 'ENFORCED',
          entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: levels }],
        },
      },
    });
    const g = await createFleetGateway(redis.url, { policy: policy({ RELEASES: 'READ' }) });
    const targetId = g.upstream.store.project(TARGET).id;
    const before = await g.redisStore.get(targetId);
    try {
      // A store whose connection kills Redis when the import is about to swap (after every
      // profile was staged): the import is interrupted exactly half-way.
      const conn = await connect();
      const interrupting = new Proxy(conn, {
        get(target, prop, receiver) {
          if (prop === 'smembers')
            return async (...args: [string]) => {
              await redis.kill();
              return target.smembers(...args);
            };
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        },
      });
      const store = createRedisProfileStore({ redis: interrupting });
      const changed = await store
        .replaceAll([
          { ...before!, enforcement: 'DISABLED', entries: [] },
          { projectId: 42_424, enforcement: 'ENFORCED', entries: [entry(7)] },
        ])
        .then(
          () => 'finished',
          () => 'interrupted',
        );
      expect(changed).toBe('interrupted');
    } finally {
      await redis.restart();
    }
    try {
      const reader = createRedisProfileStore({ redis: await connect() });
      expect(await reader.get(targetId)).toEqual(before);
      expect(await reader.get(42_424)).toBeUndefined();
      // The gateway decides from the old profile once it reconnects: releases READ, no more.
      const token = await g.jobToken('acme/apps/web', 'alice');
      const read = () =>
        g.gql(
          `{ project(fullPath: "${TARGET}") { releases { nodes { name } } tags { nodes { name } } } }`,
          {},
          { token },
        );
      const deadline = Date.now() + 5_000;
      let res = await read();
      while (res.status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        res = await read();
      }
      expect(res.status).toBe(200);
      expect(res.text).toContain(`${TARGET} release v1.0.0`);
      expect(res.body.errors?.map((e) => [e.path?.join('.'), e.extensions?.code])).toEqual([
        ['project.tags', 'FORBIDDEN'],
      ]);
    } finally {
      await g.close();
    }
  });
});

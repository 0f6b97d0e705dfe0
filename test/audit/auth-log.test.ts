/**
 * The authorization log's recorder: bounded, synchronous recording; batches flushed and merged
 * per (target, source); bot flags looked up once; a failing backend never throws at callers.
 */
import { describe, expect, it } from 'vitest';
import {
  createAuthLog,
  createMemoryAuthLogBackend,
  type AuthLogBackend,
  type UsageEvent,
  type UsageEventGroup,
} from '../../src/audit/auth-log.js';
import type { Principal } from '../../src/auth/principal.js';
import type { TargetDecision } from '../../src/cache/request-authorizer.js';
import { usageEvent } from '../helpers/usage.js';

const event = usageEvent;

describe('authorization log recorder', () => {
  it('drops events beyond the buffer and counts them, without throwing', async () => {
    const log = createAuthLog({
      backend: createMemoryAuthLogBackend(),
      bufferSize: 3,
      flushIntervalMs: 0,
    });
    for (let i = 0; i < 10; i++) expect(() => log.record(event({ jobId: i }))).not.toThrow();
    expect(log.stats()).toMatchObject({ buffered: 3, dropped: 7 });
    await log.flush();
    expect(log.stats()).toMatchObject({ buffered: 0, dropped: 7, flushed: 3 });
    await log.close();
  });

  it('holds one group per distinct check, not one event per check: a busy job never fills the buffer', async () => {
    const written: UsageEventGroup[][] = [];
    const memory = createMemoryAuthLogBackend();
    const log = createAuthLog({
      backend: { ...memory, write: (d, e) => (written.push([...e]), memory.write(d, e)) },
      bufferSize: 2,
      flushIntervalMs: 0,
    });
    const t0 = 1_700_000_000_000;
    // 50,000 checks of one job on two targets, as 25,000 requests in a second would make.
    for (let i = 0; i < 25_000; i++) {
      log.record(event({ targetProjectId: 101, at: t0 + i }));
      log.record(event({ targetProjectId: 103, at: t0 + i }));
    }
    expect(log.stats()).toMatchObject({ buffered: 50_000, bufferedGroups: 2, dropped: 0 });
    // A third distinct check would open a third group: it drops, counted.
    log.record(event({ targetProjectId: 104 }));
    expect(log.stats()).toMatchObject({ buffered: 50_000, bufferedGroups: 2, dropped: 1 });
    await log.flush();
    expect(log.stats()).toMatchObject({ buffered: 0, bufferedGroups: 0, flushed: 50_000 });
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject([
      { targetProjectId: 101, count: 25_000, firstAt: t0, at: t0 + 24_999 },
      { targetProjectId: 103, count: 25_000, firstAt: t0, at: t0 + 24_999 },
    ]);
    expect(await log.list(101)).toMatchObject([{ allowed: 25_000, lastUsedAt: t0 + 24_999 }]);
    await log.close();
  });

  it('keeps checks apart that differ in anything but time, and orders groups by their last check', async () => {
    const written: UsageEventGroup[] = [];
    const log = createAuthLog({
      backend: {
        ...createMemoryAuthLogBackend(),
        write: (_d, e) => (written.push(...e), Promise.resolve(undefined)),
      },
      flushIntervalMs: 0,
    });
    const t0 = 1_700_000_000_000;
    const variants: Partial<UsageEvent>[] = [
      {},
      { resource: 'TAGS' },
      { level: 'WRITE' },
      { outcome: 'wouldDeny', reason: 'AUDIT_WOULD_DENY' },
      { reason: 'ENTRY_LEVEL_TOO_LOW' },
      { matchedEntry: { kind: 'GROUP', id: 13 } },
      { matchedEntry: { kind: 'PROJECT', id: 13 } },
      { matchedEntry: { kind: 'GROUP', id: 14 } },
      { targetPath: 'acme/platform/registry-renamed' },
      { jobId: 8 },
      { sourcePath: 'acme/apps/web-renamed' },
    ];
    // Each variant twice, the last round in reverse order: the reversed order is the stream's.
    variants.forEach((v, i) => log.record(event({ ...v, at: t0 + i })));
    [...variants].reverse().forEach((v, i) => log.record(event({ ...v, at: t0 + 100 + i })));
    expect(log.stats()).toMatchObject({ buffered: 22, bufferedGroups: variants.length });
    await log.flush();
    expect(written.map((g) => g.count)).toEqual(variants.map(() => 2));
    expect(written).toMatchObject([...variants].reverse());
    expect(written.map((g) => g.at)).toEqual(variants.map((_, i) => t0 + 100 + i));
    await log.close();
  });

  it('keeps at most userCacheSize bot flags, dropping the least recently used', async () => {
    const asked: number[] = [];
    const log = createAuthLog({
      backend: createMemoryAuthLogBackend(),
      flushIntervalMs: 0,
      userCacheSize: 2,
      lookupUser: (id) => {
        asked.push(id);
        return Promise.resolve({ bot: id === 3 });
      },
    });
    const flushUsers = async (...ids: number[]): Promise<void> => {
      for (const userId of ids) log.record(event({ userId, jobId: userId }));
      await log.flush();
    };
    await flushUsers(1, 2);
    await flushUsers(2, 3); // 3 pushes out 1, the least recently used
    await flushUsers(3, 2);
    expect(asked).toEqual([1, 2, 3]);
    await flushUsers(1); // asked again: its flag was dropped
    expect(asked).toEqual([1, 2, 3, 1]);
    await log.close();
  });

  it('merges a batch per target and source: counts, highest levels, the newest use', async () => {
    const users = new Map([
      [1, { bot: false }],
      [3, { bot: true }],
    ]);
    let lookups = 0;
    const log = createAuthLog({
      backend: createMemoryAuthLogBackend(),
      flushIntervalMs: 0,
      lookupUser: (id) => {
        lookups += 1;
        return Promise.resolve(users.get(id) ?? null);
      },
    });
    log.record(event());
    log.record(
      event({
        at: 1_700_000_001_000,
        jobId: 8,
        userId: 3,
        level: 'WRITE',
        outcome: 'wouldDeny',
        reason: 'AUDIT_WOULD_DENY',
      }),
    );
    log.record(
      event({ resource: 'TAGS', level: 'WRITE', outcome: 'denied', reason: 'NOT_IN_ALLOWLIST' }),
    );
    await log.flush();
    log.record(event({ at: 1_699_000_000_000 }));
    await log.flush();
    const [r] = await log.list(101);
    expect(r).toMatchObject({
      sourcePath: 'acme/apps/web',
      lastUsedAt: 1_700_000_001_000,
      lastJobId: 8,
      lastUserId: 3,
      lastUserIsBot: true,
      used: { RELEASES: 'WRITE' },
      allowed: 2,
      denied: 1,
      wouldDeny: 1,
      deniedByAllowlist: 1,
    });
    expect(lookups).toBe(2);
    await log.close();
  });

  it('keeps the last recorded of equally new checks as the last use, as before grouping', async () => {
    const log = createAuthLog({ backend: createMemoryAuthLogBackend(), flushIntervalMs: 0 });
    // Job 7 at T, job 8 at T, job 7 at T again: the last check recorded is job 7's.
    log.record(event({ jobId: 7 }));
    log.record(event({ jobId: 8, pipelineId: 80 }));
    log.record(event({ jobId: 7 }));
    await log.flush();
    expect((await log.list(101))[0]).toMatchObject({
      lastJobId: 7,
      lastPipelineId: 70,
      allowed: 3,
    });
    // Job 8 at T, job 7 at T - 1 then T: job 7's last check is the later one on the tie.
    log.record(event({ jobId: 8, pipelineId: 80, at: 1_700_000_005_000 }));
    log.record(event({ jobId: 7, at: 1_700_000_004_999 }));
    log.record(event({ jobId: 7, at: 1_700_000_005_000 }));
    await log.flush();
    expect((await log.list(101))[0]).toMatchObject({ lastJobId: 7, allowed: 6 });
    await log.close();
  });

  it('counts a failed flush, keeps recording, and writes the failed batch with the next flush', async () => {
    const memory = createMemoryAuthLogBackend();
    let down = true;
    const flaky: AuthLogBackend = {
      write: (deltas, events) =>
        down ? Promise.reject(new Error('down')) : memory.write(deltas, events),
      list: (id) => memory.list(id),
      targets: () => memory.targets(),
    };
    const log = createAuthLog({ backend: flaky, flushIntervalMs: 0 });
    log.record(event());
    await expect(log.flush()).resolves.toBeUndefined();
    log.record(event({ at: 1_700_000_000_001, jobId: 8 }));
    expect(log.stats()).toMatchObject({
      flushErrors: 1,
      buffered: 1,
      flushed: 0,
      dropped: 0,
      retrying: { checks: 1, deltas: 1 },
    });
    down = false;
    await log.flush();
    // Both checks counted once; the newer one is the last use.
    expect(await log.list(101)).toMatchObject([{ allowed: 2, lastJobId: 8 }]);
    expect(log.stats()).toMatchObject({ flushed: 2, retrying: { checks: 0, deltas: 0 } });
    await log.close();
  });

  it('bounds what waits for a retry: the oldest checks drop, counted; kept pairs stay exact', async () => {
    const drops: number[] = [];
    const failing: AuthLogBackend = {
      write: () => Promise.reject(new Error('down')),
      list: () => Promise.resolve([]),
      targets: () => Promise.resolve([]),
    };
    const log = createAuthLog({
      backend: failing,
      bufferSize: 2,
      flushIntervalMs: 0,
      onDrop: (n) => drops.push(n),
    });
    // Two groups (two stream entries, two pairs; target 2 twice) fit, a third group drops;
    // the write fails. Then two more checks of new pairs.
    log.record(event({ targetProjectId: 1 }));
    log.record(event({ targetProjectId: 2 }));
    log.record(event({ targetProjectId: 2, at: 1_700_000_000_001 }));
    log.record(event({ targetProjectId: 5 }));
    await log.flush();
    expect(log.stats()).toMatchObject({ dropped: 1, retrying: { checks: 3, deltas: 2 } });
    log.record(event({ targetProjectId: 3 }));
    log.record(event({ targetProjectId: 4 }));
    await log.flush();
    // Four entries for two places: the oldest two (targets 1 and 2, 3 checks) drop; of the
    // deltas, the pairs already waiting stay and the new pairs (3 and 4, 2 checks) are lost.
    expect(log.stats()).toMatchObject({ dropped: 6, retrying: { checks: 2, deltas: 2 } });
    expect(drops).toEqual([1, 5]);
    // Shutting down with Redis still away: what waits is lost (2 checks in stream entries, 3
    // in counters), and counted.
    await log.close();
    expect(log.stats()).toMatchObject({ dropped: 11, retrying: { checks: 0, deltas: 0 } });
    expect(drops).toEqual([1, 5, 5]);
  });
});

describe('authorization log hooks (one request)', () => {
  const principal = {
    kind: 'job',
    projectId: 102,
    projectPath: 'acme/apps/web',
    namespaceId: 13,
    namespacePath: 'acme/apps',
    jobId: 7,
    pipelineId: 70,
    userId: 1,
  } as unknown as Principal;
  const decision = (id: number): TargetDecision =>
    ({
      project: { id, path_with_namespace: `acme/p${id}` },
      roleAccessLevel: 30,
      visible: true,
      set: {
        resources: {
          RELEASES: { level: 'WRITE', reason: 'ENTRY_GRANTS', auditWouldDeny: false },
          TAGS: { level: 'NONE', reason: 'NOT_IN_ALLOWLIST', auditWouldDeny: false },
        },
        matchedEntry: undefined,
      },
    }) as unknown as TargetDecision;

  it('logs each (target, outcome, resource, level) once per request, and nothing for its own project', async () => {
    const log = createAuthLog({ backend: createMemoryAuthLogBackend(), flushIntervalMs: 0 });
    const hooks = log.hooks(principal);
    expect(hooks).toBeDefined();
    const [a, b, own] = [decision(101), decision(103), decision(102)];
    for (let i = 0; i < 50; i++) {
      // A fresh requirement array per field, as distinct fields of one type have.
      hooks?.onUsed(a, [{ resource: 'RELEASES', level: 'READ' }]);
      hooks?.onUsed(b, [{ resource: 'RELEASES', level: 'READ' }]);
      hooks?.onUsed(own, [{ resource: 'RELEASES', level: 'READ' }]);
    }
    hooks?.onUsed(a, [{ resource: 'RELEASES', level: 'WRITE' }]);
    hooks?.onDenied?.(a, { resource: 'TAGS', level: 'READ' });
    hooks?.onDenied?.(a, { resource: 'TAGS', level: 'READ' });
    hooks?.onUsed(a, [{ resource: 'TAGS', level: 'READ' }]);
    expect(log.stats().buffered).toBe(5);
    // A new request logs again, into the group the first request opened.
    log.hooks(principal)?.onUsed(a, [{ resource: 'RELEASES', level: 'READ' }]);
    expect(log.stats()).toMatchObject({ buffered: 6, bufferedGroups: 5 });
    // So does the same check recorded directly (the hooks' grouping is the log's).
    log.record(
      event({
        sourceProjectId: 102,
        targetPath: 'acme/p101',
        at: Date.now(),
        reason: 'ENTRY_GRANTS',
      }),
    );
    expect(log.stats()).toMatchObject({ buffered: 7, bufferedGroups: 5 });
    await log.flush();
    const [usage] = await log.list(101);
    expect(usage).toMatchObject({
      allowed: 5,
      denied: 1,
      used: { RELEASES: 'WRITE', TAGS: 'READ' },
    });
    expect(await log.list(102)).toEqual([]);
    await log.close();
  });
});

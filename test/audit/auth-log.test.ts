/**
 * The authorization log's recorder: bounded, synchronous recording; batches flushed and merged
 * per (target, source); bot flags looked up once; a failing backend never throws at callers.
 */
import { describe, expect, it } from 'vitest';
import {
  createAuthLog,
  createMemoryAuthLogBackend,
  type AuthLogBackend,
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
    // Two distinct checks (two stream entries, two pairs) fail, then two more of new pairs.
    log.record(event({ targetProjectId: 1 }));
    log.record(event({ targetProjectId: 2 }));
    log.record(event({ targetProjectId: 2, at: 1_700_000_000_001 }));
    await log.flush();
    expect(log.stats()).toMatchObject({ dropped: 1, retrying: { checks: 2, deltas: 2 } });
    log.record(event({ targetProjectId: 3 }));
    log.record(event({ targetProjectId: 4 }));
    await log.flush();
    // Four entries for two places: the oldest two (targets 1 and 2, 2 checks) drop; of the
    // deltas, the pairs already waiting stay and the new pairs (3 and 4, 2 checks) are lost.
    expect(log.stats()).toMatchObject({ dropped: 5, retrying: { checks: 2, deltas: 2 } });
    expect(drops).toEqual([1, 4]);
    // Shutting down with Redis still away: what waits is lost (2 checks in stream entries, 2
    // in counters), and counted.
    await log.close();
    expect(log.stats()).toMatchObject({ dropped: 9, retrying: { checks: 0, deltas: 0 } });
    expect(drops).toEqual([1, 4, 4]);
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
    // A new request logs again.
    log.hooks(principal)?.onUsed(a, [{ resource: 'RELEASES', level: 'READ' }]);
    expect(log.stats().buffered).toBe(6);
    await log.flush();
    const [usage] = await log.list(101);
    expect(usage).toMatchObject({
      allowed: 4,
      denied: 1,
      used: { RELEASES: 'WRITE', TAGS: 'READ' },
    });
    expect(await log.list(102)).toEqual([]);
    await log.close();
  });
});

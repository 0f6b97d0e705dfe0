import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/audit/logger.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Collects every JSON log line written during the test file. */
function captureLines(): {
  stream: Writable;
  lines: () => Record<string, unknown>[];
  raw: () => string;
} {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('decision log', () => {
  const log = captureLines();
  let t: TestGateway;
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await createTestGateway({
      gateway: { logger: createLogger({ level: 'info', destination: log.stream }) },
      policy: {
        version: 1,
        projects: {
          'acme/apps/web': { enforcement: 'AUDIT', entries: [] },
          'acme/platform/registry': {
            enforcement: 'ENFORCED',
            entries: [
              { source: 'acme/apps/web', kind: 'PROJECT', permissions: { RELEASES: 'READ' } },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => t.close());

  it('logs an AUDIT-mode would-deny once per request and resource, and still serves the data', async () => {
    const token = await t.jobToken('globex/portal', 'remediator-bot', { refProtected: false });
    tokens.push(token);
    const res = await t.gql<{ project: { releases: { nodes: unknown[] } } }>(
      '{ project(fullPath: "acme/apps/web") { releases { nodes { name tagName } } again: releases { nodes { name } } } }',
      {},
      { token },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.project.releases.nodes.length).toBeGreaterThan(0);
    const events = log.lines().filter((l) => l['event'] === 'authz.audit_would_deny');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      targetProject: 'acme/apps/web',
      sourceProject: 'globex/portal',
      resource: 'RELEASES',
      level: 'WRITE',
      reason: 'AUDIT_WOULD_DENY',
    });
  });

  it('logs a denial with the reason and who asked, and an access line with the status', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    tokens.push(token);
    const res = await t.gql(
      '{ project(fullPath: "acme/platform/registry") { tags { nodes { name } } } }',
      {},
      { token },
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const denied = log.lines().find((l) => l['event'] === 'authz.denied');
    expect(denied).toMatchObject({
      targetProject: 'acme/platform/registry',
      sourceProject: 'acme/apps/web',
      resource: 'TAGS',
      requiredLevel: 'READ',
      grantedLevel: 'NONE',
      reason: 'ENTRY_LEVEL_TOO_LOW',
    });
    expect(typeof denied?.['requestId']).toBe('string');
    expect(log.lines().some((l) => l['event'] === 'http.request' && l['status'] === 200)).toBe(
      true,
    );
  });

  it('never writes a token, or any part of its signature, into a log line', () => {
    const raw = log.raw();
    expect(raw.length).toBeGreaterThan(0);
    for (const token of tokens) {
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(token.split('.')[2]);
      expect(raw).not.toContain(token.split('.')[1]);
    }
    expect(raw).not.toContain(t.upstream.token);
  });
});

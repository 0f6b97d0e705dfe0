/**
 * `jobTokenComplianceReport` end to end: what an auditor sees across profiles and usage, for
 * instance admins only, filterable and paginated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { codes, ok } from './management-fixtures.js';

const REPORT = `query($f: JobTokenComplianceFilter, $first: Int, $after: String) {
  jobTokenComplianceReport(filter: $f, first: $first, after: $after) {
    nodes { kind projectPath source { fullPath } count }
    pageInfo { hasNextPage endCursor } } }`;

interface Report {
  jobTokenComplianceReport: {
    nodes: { kind: string; projectPath: string; source: { fullPath: string } | null }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

let t: TestGateway;
let admin: string;

beforeAll(async () => {
  t = await createTestGateway({
    adminUserIds: ['5'],
    policy: {
      version: 1,
      projects: {
        'acme/platform/registry': {
          enforcement: 'AUDIT',
          entries: [{ source: 'acme/apps', kind: 'GROUP', defaultPermissions: true }],
        },
      },
    },
  });
  admin = await t.userToken('carol');
  const job = await t.jobToken('acme/bots/remediator', 'remediator-bot');
  ok(
    await t.gql(
      '{ project(fullPath: "acme/platform/registry") { releases { nodes { tagName } } } }',
      {},
      { token: job },
    ),
  );
});
afterAll(async () => t.close());

describe('jobTokenComplianceReport', () => {
  it('lists the project not enforcing, the broad and unused entry and the would-deny usage', async () => {
    const nodes = ok<Report>(await t.gql(REPORT, {}, { token: admin })).jobTokenComplianceReport
      .nodes;
    expect(nodes.map((n) => [n.kind, n.source?.fullPath ?? null])).toEqual([
      ['AUDIT_WOULD_DENY', 'acme/bots/remediator'],
      ['DEFAULT_PERMISSIONS', 'acme/apps'],
      ['NOT_ENFORCING', null],
      ['UNUSED_ENTRY', 'acme/apps'],
    ]);
  });

  it('filters by kind and pages with cursors', async () => {
    const first = ok<Report>(
      await t.gql(
        REPORT,
        { f: { kinds: ['DEFAULT_PERMISSIONS', 'UNUSED_ENTRY'] }, first: 1 },
        { token: admin },
      ),
    ).jobTokenComplianceReport;
    expect(first.nodes.map((n) => n.kind)).toEqual(['DEFAULT_PERMISSIONS']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = ok<Report>(
      await t.gql(
        REPORT,
        {
          f: { kinds: ['DEFAULT_PERMISSIONS', 'UNUSED_ENTRY'] },
          first: 1,
          after: first.pageInfo.endCursor,
        },
        { token: admin },
      ),
    ).jobTokenComplianceReport;
    expect(second.nodes.map((n) => n.kind)).toEqual(['UNUSED_ENTRY']);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('checks its window before reading every profile and project: an empty or refused one costs no forge call', async () => {
    // A gateway of its own, so no project record is cached yet.
    const g = await createTestGateway({
      adminUserIds: ['5'],
      upstream: t.upstream,
      policy: {
        version: 1,
        projects: { 'acme/platform/registry': { enforcement: 'AUDIT', entries: [] } },
      },
    });
    try {
      const token = await g.userToken('carol');
      const forgeReads = () => g.upstream.requests.filter((r) => r.path.includes('/projects/'));
      g.upstream.clearRequests();
      const empty = ok<Report>(await g.gql(REPORT, { first: 0 }, { token }));
      expect(empty.jobTokenComplianceReport.nodes).toEqual([]);
      expect(empty.jobTokenComplianceReport.pageInfo.hasNextPage).toBe(false);
      expect(codes(await g.gql(REPORT, { first: 101 }, { token }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await g.gql(REPORT, { after: 'not-a-cursor' }, { token }))).toEqual([
        'BAD_USER_INPUT',
      ]);
      expect(forgeReads()).toEqual([]);
      // The same report with a window reads the projects (the control).
      const full = ok<Report>(await g.gql(REPORT, {}, { token }));
      expect(full.jobTokenComplianceReport.nodes.length).toBeGreaterThan(0);
      expect(forgeReads().length).toBeGreaterThan(0);
    } finally {
      await g.close();
    }
  });

  it('is refused to a project member who is not an instance admin', async () => {
    const res = await t.gql(REPORT, {}, { token: await t.userToken('alice') });
    expect(codes(res)).toEqual(['FORBIDDEN']);
  });
});

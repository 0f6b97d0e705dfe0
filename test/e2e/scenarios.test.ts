/**
 * Every case of the shared scenario table (`../shared/scenarios/authz-cases.json`), end to end
 * over HTTP: the job token's own `jobTokenPermissions`, a real read of every resource and a
 * real write (or a refused one) of every resource, against the embedded upstream loaded with
 * the table's world. One gateway per distinct set of instance settings; each case installs
 * its own profiles with `setPolicy`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEVEL_RANK,
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../../src/policy/types.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import {
  loadScenarios,
  scenarioInstance,
  scenarioPolicyFile,
  worldProject,
  type ScenarioCase,
} from '../helpers/scenarios.js';

const { world, cases } = loadScenarios();

interface PermissionRow {
  resource: JobTokenResource;
  level: JobTokenAccessLevel;
  reason: string;
  auditWouldDeny: boolean;
}

interface Nodes<T> {
  nodes: T[];
}

interface ReadData {
  project: {
    fullPath: string;
    jobTokenPermissions: PermissionRow[];
    releases: Nodes<{ tagName: string; name: string }> | null;
    tags: Nodes<{ name: string; message: string }> | null;
    containerRepositories: Nodes<{
      id: string;
      name: string;
      tags: Nodes<{ name: string }>;
    }> | null;
    mergeRequest: { iid: string; notes: Nodes<{ body: string }> } | null;
  } | null;
}

/** The field of `Project` each resource is read through. */
const READ_FIELD: Record<JobTokenResource, keyof NonNullable<ReadData['project']>> = {
  RELEASES: 'releases',
  TAGS: 'tags',
  CONTAINERS: 'containerRepositories',
  MERGE_REQUEST_NOTES: 'mergeRequest',
};

const READ_ALL = /* GraphQL */ `
  query ReadAll($fullPath: ID!) {
    project(fullPath: $fullPath) {
      fullPath
      jobTokenPermissions {
        resource
        level
        reason
        auditWouldDeny
      }
      releases {
        nodes {
          tagName
          name
        }
      }
      tags {
        nodes {
          name
          message
        }
      }
      containerRepositories {
        nodes {
          id
          name
          tags {
            nodes {
              name
            }
          }
        }
      }
      mergeRequest(iid: "1") {
        iid
        notes {
          nodes {
            body
          }
        }
      }
    }
  }
`;

const at = (level: JobTokenAccessLevel, least: JobTokenAccessLevel): boolean =>
  LEVEL_RANK[level] >= LEVEL_RANK[least];

/** Groups the cases by their instance settings: one gateway per group. */
function byInstance(all: readonly ScenarioCase[]): Map<string, ScenarioCase[]> {
  const groups = new Map<string, ScenarioCase[]>();
  for (const c of all) {
    const key = JSON.stringify(scenarioInstance(c));
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return groups;
}

function errorAt<T>(res: GqlResponse<T>, path: readonly (string | number)[]) {
  return res.body.errors?.find((e) => JSON.stringify(e.path) === JSON.stringify(path));
}

/** A write of one resource on the case's target, and how to see its effect afterwards. */
interface WritePlan {
  readonly mutation: string;
  readonly variables: Record<string, unknown>;
  /** The payload field that holds the written object when allowed. */
  readonly payloadField: string;
  readonly upstreamWrite: { method: string; path: RegExp };
  /** Whether a later read shows the write (true when it does). */
  shows(t: TestGateway, token: string): Promise<boolean>;
}

function writePlan(
  t: TestGateway,
  c: ScenarioCase,
  resource: JobTokenResource,
  unique: string,
): WritePlan {
  const projectPath = c.target;
  const id = worldProject(world, c.target).id;
  switch (resource) {
    case 'RELEASES':
      // A release of a tag that already exists: that needs RELEASES WRITE alone. (A release of
      // a new tag makes the forge create the tag, which also needs TAGS WRITE; see
      // test/security/release-tag-creation.test.ts.) The tag is made in the forge's own store,
      // not through the gateway, so the release is the only write the gateway sends.
      t.upstream.store.createTag(id, { tag_name: unique, ref: 'main' });
      return {
        mutation: `mutation($input: ReleaseCreateInput!) { releaseCreate(input: $input) { release { tagName } errors } }`,
        variables: { input: { projectPath, tagName: unique, ref: 'main' } },
        payloadField: 'releaseCreate',
        upstreamWrite: { method: 'POST', path: new RegExp(`^/api/v4/projects/${id}/releases$`) },
        async shows(tg, token) {
          const r = await tg.gql<{ project: { release: { tagName: string } | null } }>(
            'query($p: ID!, $t: String!) { project(fullPath: $p) { release(tagName: $t) { tagName } } }',
            { p: projectPath, t: unique },
            { token },
          );
          return r.body.data?.project.release?.tagName === unique;
        },
      };
    case 'TAGS':
      return {
        mutation: `mutation($input: TagCreateInput!) { tagCreate(input: $input) { tag { name } errors } }`,
        variables: { input: { projectPath, name: unique, ref: 'main' } },
        payloadField: 'tagCreate',
        upstreamWrite: {
          method: 'POST',
          path: new RegExp(`^/api/v4/projects/${id}/repository/tags$`),
        },
        async shows(tg, token) {
          const r = await tg.gql<{ project: { tags: Nodes<{ name: string }> } }>(
            'query($p: ID!, $s: String!) { project(fullPath: $p) { tags(search: $s) { nodes { name } } } }',
            { p: projectPath, s: unique },
            { token },
          );
          return (r.body.data?.project.tags.nodes ?? []).some((n) => n.name === unique);
        },
      };
    case 'CONTAINERS': {
      // The repository id and an existing image tag come from the upstream's own data.
      const repo = t.upstream.store.containerRepositories(id).find((r) => r.tags.length > 0);
      if (!repo) throw new Error(`no container image tag left in ${projectPath}`);
      const tagName = repo.tags[0]!.name;
      return {
        mutation: `mutation($input: ContainerRepositoryTagsDeleteInput!) { containerRepositoryTagsDelete(input: $input) { deletedTagNames errors } }`,
        variables: { input: { projectPath, id: String(repo.id), tagNames: [tagName] } },
        payloadField: 'containerRepositoryTagsDelete',
        upstreamWrite: {
          method: 'DELETE',
          path: new RegExp(
            `^/api/v4/projects/${id}/registry/repositories/${repo.id}/tags/${encodeURIComponent(tagName)}$`,
          ),
        },
        async shows(tg, token) {
          const r = await tg.gql<{
            project: {
              containerRepositories: Nodes<{ id: string; tags: Nodes<{ name: string }> }>;
            };
          }>(
            'query($p: ID!) { project(fullPath: $p) { containerRepositories { nodes { id tags { nodes { name } } } } } }',
            { p: projectPath },
            { token },
          );
          const node = r.body.data?.project.containerRepositories.nodes.find((n) =>
            n.id.endsWith(`/${repo.id}`),
          );
          return node !== undefined && !node.tags.nodes.some((n) => n.name === tagName);
        },
      };
    }
    case 'MERGE_REQUEST_NOTES':
      return {
        mutation: `mutation($input: MergeRequestNoteCreateInput!) { mergeRequestNoteCreate(input: $input) { note { body } errors } }`,
        variables: { input: { projectPath, iid: '1', body: unique } },
        payloadField: 'mergeRequestNoteCreate',
        upstreamWrite: {
          method: 'POST',
          path: new RegExp(`^/api/v4/projects/${id}/merge_requests/1/notes$`),
        },
        async shows(tg, token) {
          const r = await tg.gql<{ project: { mergeRequest: { notes: Nodes<{ body: string }> } } }>(
            'query($p: ID!) { project(fullPath: $p) { mergeRequest(iid: "1") { notes(first: 100) { nodes { body } } } } }',
            { p: projectPath },
            { token },
          );
          return (r.body.data?.project.mergeRequest.notes.nodes ?? []).some(
            (n) => n.body === unique,
          );
        },
      };
  }
}

let serial = 0;

for (const [instanceKey, group] of byInstance(cases)) {
  describe(`scenario table end to end, instance settings ${instanceKey}`, () => {
    let t: TestGateway;
    beforeAll(async () => {
      t = await createTestGateway({ instance: scenarioInstance(group[0]!) });
    });
    afterAll(async () => t.close());

    for (const c of group) {
      describe(c.name, () => {
        let token: string;
        let read: GqlResponse<ReadData>;
        beforeAll(async () => {
          await t.setPolicy(scenarioPolicyFile(c));
          token = await t.jobToken(c.token.project, c.token.user, {
            refProtected: c.token.refProtected,
            ...(c.token.jobPermissions ? { jobPermissions: { ...c.token.jobPermissions } } : {}),
            ...(c.token.userLoginOverride ? { userLogin: c.token.userLoginOverride } : {}),
          });
          read = await t.gql<ReadData>(READ_ALL, { fullPath: c.target }, { token });
        });

        it('reports the expected level, listed reasons and audit flag in jobTokenPermissions', () => {
          expect(read.status).toBe(200);
          const project = read.body.data?.project ?? null;
          if (project === null) {
            // An invisible project: nothing may be expected above NONE.
            expect(c.expect).toEqual(Object.fromEntries(RESOURCES.map((r) => [r, 'NONE'])));
            expect(read.body.errors).toBeUndefined();
            return;
          }
          const rows = new Map(project.jobTokenPermissions.map((p) => [p.resource, p]));
          expect(Object.fromEntries(RESOURCES.map((r) => [r, rows.get(r)?.level]))).toEqual(
            c.expect,
          );
          for (const [resource, reason] of Object.entries(c.reasons ?? {})) {
            expect({ resource, reason: rows.get(resource as JobTokenResource)?.reason }).toEqual({
              resource,
              reason,
            });
          }
          expect(project.jobTokenPermissions.some((p) => p.auditWouldDeny)).toBe(
            c.auditWouldDeny ?? false,
          );
        });

        it('reads every resource it holds READ on and is refused the others', () => {
          const project = read.body.data?.project ?? null;
          if (project === null) return; // covered above: every level is NONE, nothing leaks
          const rows = new Map(project.jobTokenPermissions.map((p) => [p.resource, p]));
          for (const resource of RESOURCES) {
            const field = READ_FIELD[resource];
            const value = project[field];
            const err = errorAt(read, ['project', field]);
            if (at(c.expect[resource], 'READ')) {
              expect({ resource, err }).toEqual({ resource, err: undefined });
              // Sample data carries the target's path in every generated name and body.
              expect(JSON.stringify(value)).toContain(c.target);
            } else {
              expect({ resource, value }).toEqual({ resource, value: null });
              expect(err?.extensions).toMatchObject({
                code: 'FORBIDDEN',
                resource,
                requiredLevel: 'READ',
                grantedLevel: 'NONE',
                reason: rows.get(resource)?.reason,
              });
            }
          }
        });

        for (const resource of RESOURCES) {
          it(`writes ${resource} exactly when it holds WRITE on them, and never calls the upstream otherwise`, async () => {
            const plan = writePlan(t, c, resource, `sg-e2e-${++serial}-${resource.toLowerCase()}`);
            t.upstream.clearRequests();
            const res = await t.gql<Record<string, unknown>>(plan.mutation, plan.variables, {
              token,
            });
            const allowed = at(c.expect[resource], 'WRITE');
            if (allowed) {
              expect(res.body.errors).toBeUndefined();
              expect(res.body.data?.[plan.payloadField]).toMatchObject({ errors: [] });
              const writes = t.upstream.writes();
              expect(writes).toHaveLength(1);
              expect(writes[0]?.method).toBe(plan.upstreamWrite.method);
              expect(writes[0]?.path).toMatch(plan.upstreamWrite.path);
              expect(await plan.shows(t, token)).toBe(true);
              return;
            }
            expect(res.body.data?.[plan.payloadField] ?? null).toBeNull();
            const err = errorAt(res, [plan.payloadField]);
            const visible = read.body.data?.project != null;
            if (visible) {
              expect(err?.extensions).toMatchObject({
                code: 'FORBIDDEN',
                resource,
                requiredLevel: 'WRITE',
                grantedLevel: c.expect[resource],
              });
              const row = read.body.data?.project?.jobTokenPermissions.find(
                (p) => p.resource === resource,
              );
              expect(err?.extensions?.['reason']).toBe(row?.reason);
            } else {
              expect(err?.extensions?.code).toBe('NOT_FOUND');
            }
            expect(t.upstream.writes()).toEqual([]);
          });
        }
      });
    }
  });
}

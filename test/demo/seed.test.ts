import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/package-root.js';
import { defaultSeedPath, loadSeedFile, parseSeed, type DemoSeed } from '../../src/demo/seed.js';
import { DemoStore } from '../../src/demo/store.js';
import { parsePolicyFile } from '../../src/policy/policy-file.js';
import { DEMO_SEED_PATH, SCENARIOS_PATH } from './fixtures.js';

const minimalSeed = (): DemoSeed => ({
  groups: [{ id: 1, full_path: 'g', parent_id: null }],
  projects: [{ id: 2, path_with_namespace: 'g/p', namespace_id: 1, visibility: 'private' }],
  users: [{ id: 3, username: 'u' }],
  members: { 'g/p': { u: 30 } },
});

function writeTemp(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'scopegate-seed-')), 'seed.json');
  writeFileSync(file, content);
  return file;
}

describe('loadSeedFile', () => {
  it('loads the shipped demo seed with its realistic world and passes its policy through', () => {
    const seed = loadSeedFile(DEMO_SEED_PATH);
    expect(seed.groups.map((g) => g.full_path)).toEqual(
      expect.arrayContaining(['acme', 'acme/platform', 'acme/apps', 'acme/bots', 'globex']),
    );
    expect(seed.projects.map((p) => p.visibility)).toEqual(
      expect.arrayContaining(['public', 'internal']),
    );
    expect(seed.users.find((u) => u.username === 'remediator-bot')?.bot).toBe(true);
    expect(seed.policy).toMatchObject({ version: 1, projects: expect.any(Object) as unknown });
  });

  it('ships a policy the gateway policy-file parser accepts', () => {
    const file = parsePolicyFile(loadSeedFile(DEMO_SEED_PATH).policy);
    const kinds = Object.values(file.projects).flatMap((p) => p.entries.map((e) => e.kind));
    expect(kinds).toEqual(expect.arrayContaining(['GROUP', 'PROJECT']));
  });

  it('loads the world of a scenarios file', () => {
    const seed = loadSeedFile(SCENARIOS_PATH);
    expect(seed.projects.some((p) => p.path_with_namespace === 'acme/apps/web')).toBe(true);
    expect(seed.members['acme/apps/web']?.alice).toBe(30);
  });

  it('names the file and the bad field when a seed file is invalid', () => {
    const seed = minimalSeed();
    const file = writeTemp(
      JSON.stringify({ ...seed, projects: [{ ...seed.projects[0], visibility: 'secret' }] }),
    );
    expect(() => loadSeedFile(file)).toThrow(
      /Invalid demo seed ".*seed\.json": projects\[0\]\.visibility/,
    );
  });

  it('says when a seed file is not JSON or cannot be read', () => {
    expect(() => loadSeedFile(writeTemp('{ nope'))).toThrow(/is not valid JSON/);
    expect(() => loadSeedFile('/nonexistent/seed.json')).toThrow(
      /Cannot read demo seed "\/nonexistent\/seed.json"/,
    );
  });

  it('finds the shipped seed from the package root', () => {
    expect(packageRoot()).toBe(join(DEMO_SEED_PATH, '..', '..'));
    expect(defaultSeedPath()).toBe(DEMO_SEED_PATH);
  });
});

describe('parseSeed', () => {
  it('accepts a minimal seed and fills in defaults', () => {
    const store = new DemoStore(parseSeed(minimalSeed()));
    expect(store.project('g/p').features.releases_access_level).toBe('enabled');
    expect(store.findUser(3)).toMatchObject({ name: 'u', bot: false });
  });

  it.each([
    [
      'a namespace that does not exist',
      { namespace_id: 9 },
      /projects\[0\]\.namespace_id: no group has id 9/,
    ],
    [
      'a path outside its namespace',
      { path_with_namespace: 'h/p' },
      /projects\[0\]\.path_with_namespace: must be "g\/<name>"/,
    ],
    ['a missing id', { id: undefined }, /projects\[0\]\.id/],
  ])('rejects a project with %s', (_title, patch, message) => {
    const seed = minimalSeed();
    expect(() => parseSeed({ ...seed, projects: [{ ...seed.projects[0], ...patch }] })).toThrow(
      message,
    );
  });

  it('rejects members who are not users and access levels the forge does not have', () => {
    expect(() => parseSeed({ ...minimalSeed(), members: { 'g/p': { ghost: 30 } } })).toThrow(
      /members\["g\/p"\]\.ghost: no user has this username/,
    );
    expect(() => parseSeed({ ...minimalSeed(), members: { 'g/p': { u: 35 } } })).toThrow(
      /members\["g\/p"\]\.u: must be one of 5, 10, 15, 20, 30, 40, 50/,
    );
    expect(() => parseSeed({ ...minimalSeed(), members: { 'g/q': { u: 30 } } })).toThrow(
      /members\["g\/q"\]: no project has this path/,
    );
  });

  it('rejects duplicate ids, unknown authors and group parents that do not exist', () => {
    const seed = minimalSeed();
    expect(() => parseSeed({ ...seed, users: [...seed.users, { id: 3, username: 'v' }] })).toThrow(
      /users\[1\]\.id: duplicate id 3/,
    );
    expect(() =>
      parseSeed({ ...seed, releases: { 'g/p': [{ tag_name: 'v1', author: 'zed' }] } }),
    ).toThrow(/releases\["g\/p"\]\[0\]\.author: no user has username "zed"/);
    expect(() =>
      parseSeed({ ...seed, groups: [...seed.groups, { id: 5, full_path: 'g/s', parent_id: 6 }] }),
    ).toThrow(/groups\[1\]\.parent_id: no group has id 6/);
  });

  it('lists every problem at once', () => {
    expect(() => parseSeed({ groups: 'x', users: [] })).toThrow(/groups: .*; projects: /);
  });
});

describe('generated sample data', () => {
  const store = new DemoStore(loadSeedFile(SCENARIOS_PATH));

  it('marks every generated name, body and message with the project path', () => {
    for (const project of store.projects) {
      const path = project.path_with_namespace;
      const releases = store.releases(path);
      expect(releases).toHaveLength(3);
      for (const r of releases) expect(`${r.name} ${r.description}`).toContain(path);
      expect(releases[releases.length - 1]?.name).toBe(`${path} release v1.0.0`);
      for (const t of store.tags(path)) expect(t.message).toContain(path);
      for (const repo of store.containerRepositories(path)) expect(repo.name).toContain(path);
      for (const n of store.notes(path, 1)) expect(n.body).toContain(path);
      expect(store.mergeRequest(path, 1)?.title).toContain(path);
    }
    expect(store.notes('acme/apps/web', 1).map((n) => n.body)).toEqual([
      'note 1 on acme/apps/web',
      'note 2 on acme/apps/web',
      'note 3 on acme/apps/web',
    ]);
  });

  it('gives each project its release tags plus the sample tags, and repositories with three image tags', () => {
    const names = store.tags('acme/apps/web').map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['v1.0.0', 'v1.1.0', 'v1.2.0', 'v0.1.0', 'v0.2.0', 'v0.3.0']),
    );
    expect(names).toHaveLength(6);
    const repos = store.containerRepositories('acme/apps/web');
    expect(repos).toHaveLength(2);
    expect(repos[0]?.tags.map((t) => t.name)).toEqual(['latest', 'v1', 'v2']);
  });

  it('hands out globally unique container repository and note ids', () => {
    const repoIds = store.projects.flatMap((p) =>
      store.containerRepositories(p.id).map((r) => r.id),
    );
    const noteIds = store.projects.flatMap((p) => store.notes(p.id, 1).map((n) => n.id));
    expect(new Set(repoIds).size).toBe(repoIds.length);
    expect(new Set(noteIds).size).toBe(noteIds.length);
  });

  it('is deterministic and attributes authorship to existing members', () => {
    const again = new DemoStore(loadSeedFile(SCENARIOS_PATH));
    expect(again.releases('globex/portal')).toEqual(store.releases('globex/portal'));
    expect(again.containerRepositories('acme/oss-lib')).toEqual(
      store.containerRepositories('acme/oss-lib'),
    );
    const author = store.findUser(store.releases('globex/portal')[0]?.author_id ?? 0);
    expect(author?.username).toBe('mallory');
  });

  it('honours per-project and global sample counts and explicit data', () => {
    const demo = new DemoStore(loadSeedFile(DEMO_SEED_PATH));
    expect(demo.releases('acme/apps/web')).toHaveLength(30);
    expect(demo.releases('acme/oss-lib').map((r) => r.tag_name)).toEqual(['v2.0.0', 'v1.4.2']);
    expect(demo.tag('acme/oss-lib', 'v2.0.0')).toBeDefined();
    const seed = {
      ...minimalSeed(),
      sample: { releases: 1, tags: 0, containerRepositories: 0, notes: 0 },
    };
    const small = new DemoStore(parseSeed(seed));
    expect(small.releases('g/p')).toHaveLength(1);
    expect(small.tags('g/p')).toHaveLength(1);
    expect(small.containerRepositories('g/p')).toEqual([]);
    expect(small.notes('g/p', 1)).toEqual([]);
  });
});

/**
 * The bytes of a project's data that no other project shares, per resource, read from the
 * embedded upstream's store: every string of its releases, tags, container repositories and
 * merge requests that names the project (the sample data writes the path into every generated
 * name, body and message) or is a digest or commit id derived from it. A leak test searches a
 * whole response text for them.
 */
import type { DemoStore } from '../../src/demo/store.js';

/** Resources, as in `JobTokenResource`. */
export type Resource = 'RELEASES' | 'TAGS' | 'CONTAINERS' | 'MERGE_REQUEST_NOTES';

function strings(value: unknown, out: Set<string>): Set<string> {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value as Record<string, unknown>)) strings(v, out);
  return out;
}

/** Whether `s` is data that identifies its project (not a shared word, time or small number). */
const identifying = (s: string, path: string): boolean =>
  s !== path && (s.includes(path) || /^(sha256:)?[0-9a-f]{40,64}$/.test(s));

/** Identifying strings of `path`'s data, per resource. */
export function dataMarkers(store: DemoStore, path: string): Record<Resource, string[]> {
  const mrs = [1].flatMap((iid) => {
    const mr = store.mergeRequest(path, iid);
    return mr ? [mr, store.notes(path, iid)] : [];
  });
  const raw: Record<Resource, unknown> = {
    RELEASES: store.releases(path),
    TAGS: store.tags(path),
    CONTAINERS: store.containerRepositories(path),
    MERGE_REQUEST_NOTES: mrs,
  };
  const out = {} as Record<Resource, string[]>;
  for (const [resource, value] of Object.entries(raw) as [Resource, unknown][])
    out[resource] = [...strings(value, new Set())].filter((s) => identifying(s, path));
  return out;
}

/**
 * The markers of `path`'s resources NOT in `allowed`, minus any string an allowed resource
 * also holds (a release's commit id is also its tag's target).
 */
export function forbiddenMarkers(
  store: DemoStore,
  path: string,
  allowed: readonly Resource[] = [],
): string[] {
  const byResource = dataMarkers(store, path);
  const visible = new Set(allowed.flatMap((r) => byResource[r]));
  const out = new Set<string>();
  for (const [resource, markers] of Object.entries(byResource) as [Resource, string[]][]) {
    if (allowed.includes(resource)) continue;
    for (const m of markers) if (!visible.has(m)) out.add(m);
  }
  return [...out];
}

/**
 * Turns a policy file (paths) into profiles (forge ids) by asking the upstream, so matching is
 * always by id. Every path is resolved before anything is written: a file with one unknown
 * path changes nothing.
 */
import { toAllowlistEntry, type PolicyFile } from '../policy/policy-file.js';
import type { AllowlistEntry } from '../policy/types.js';
import { encodeId, type UpstreamClient } from '../upstream/client.js';
import type { RestGroup, RestProject } from '../upstream/types.js';
import type { ProfileWrite } from './profile-store.js';

/** A policy file names a project or group the upstream does not know. */
export class PolicyResolutionError extends Error {
  override readonly name = 'PolicyResolutionError';
}

/** Resolves every target and source path of a policy file to forge ids. */
export async function resolvePolicyFile(
  file: PolicyFile,
  client: UpstreamClient,
): Promise<ProfileWrite[]> {
  const profiles: ProfileWrite[] = [];
  const problems: string[] = [];
  // A project or group may be named by path or by id (the forge takes both), so two names can
  // be one thing: found by id after resolving, not by comparing names.
  const targetsById = new Map<number, string>();
  for (const [targetPath, project] of Object.entries(file.projects)) {
    const target = await client.find<RestProject>(`projects/${encodeId(targetPath)}`);
    if (!target) {
      problems.push(`projects["${targetPath}"]: no such project upstream`);
      continue;
    }
    const sameTarget = targetsById.get(target.id);
    if (sameTarget !== undefined) {
      problems.push(
        `projects["${targetPath}"]: the same project as projects["${sameTarget}"] (${target.path_with_namespace})`,
      );
      continue;
    }
    targetsById.set(target.id, targetPath);
    const entries: AllowlistEntry[] = [];
    const sourcesById = new Map<string, number>();
    for (const [i, e] of project.entries.entries()) {
      const found =
        e.kind === 'PROJECT'
          ? await client.find<RestProject>(`projects/${encodeId(e.source)}`)
          : await client.find<RestGroup>(`groups/${encodeId(e.source)}`);
      if (!found) {
        problems.push(
          `projects["${targetPath}"].entries[${i}]: no such ${e.kind.toLowerCase()} "${e.source}" upstream`,
        );
        continue;
      }
      const key = `${e.kind}:${found.id}`;
      const sameSource = sourcesById.get(key);
      if (sameSource !== undefined) {
        problems.push(
          `projects["${targetPath}"].entries[${i}]: the same ${e.kind.toLowerCase()} as entries[${sameSource}] ("${e.source}")`,
        );
        continue;
      }
      sourcesById.set(key, i);
      entries.push(toAllowlistEntry(e, found.id));
    }
    profiles.push({ projectId: target.id, enforcement: project.enforcement, entries });
  }
  if (problems.length > 0)
    throw new PolicyResolutionError(`policy not applied: ${problems.join('; ')}`);
  return profiles;
}

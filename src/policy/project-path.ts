/**
 * The shape of a project's full path, checked before any path from a request reaches the
 * upstream. Pure: no I/O.
 */

/** Longest full path accepted (the forge limits each of up to 21 segments to 255 characters). */
export const MAX_FULL_PATH_LENGTH = 2048;

/** `group[/subgroup...]/project`: each segment starts with a letter, digit or `_`. */
const FULL_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/;

/**
 * Whether `value` has the shape of a project's full path. Anything else names no project and
 * must never be sent upstream: a numeric string would be read by the forge as a project id,
 * an empty one would reach the project list, and `..`, an encoded slash or a query string
 * could steer the service credential at another endpoint.
 */
export function isProjectFullPath(value: string): boolean {
  return value.length <= MAX_FULL_PATH_LENGTH && FULL_PATH.test(value);
}

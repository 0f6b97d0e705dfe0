/**
 * Comparing a presented secret (webhook secret, metrics token) with the configured one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison; hashing first makes both sides 32 bytes, so lengths never leak. */
export function secretMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The control token: generated at start-up, compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function generateToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Whether `given` equals `expected`, in time independent of where they differ. Both are hashed first
 * so the comparison is over equal-length buffers: timingSafeEqual needs that, and comparing lengths
 * directly would leak the token's length.
 */
export function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

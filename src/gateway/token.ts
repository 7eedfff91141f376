// Session token check in constant time: both sides are hashed first so that
// neither the comparison nor an early length mismatch leaks timing.
import { createHash, timingSafeEqual } from 'node:crypto';

/** tokenMatches compares a presented token with the expected one in constant time. */
export function tokenMatches(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

import type { LogPosition } from './types';

/**
 * Orders logs the way Raft's election restriction does: the later last term wins, then the longer
 * log. A deposed master's unacknowledged tail can be longer than the acknowledged log, so the index
 * alone would pick the wrong log to catch up from.
 */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.lastTerm !== b.lastTerm) return a.lastTerm - b.lastTerm;
  return a.lastIndex - b.lastIndex;
}

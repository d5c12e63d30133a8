import type { NodeId, Role } from './types';

/** A role change the state machine does not allow (a bug in the caller or in the machine). */
export class IllegalTransitionError extends Error {
  constructor(nodeId: NodeId, from: Role, to: Role) {
    super(`node ${nodeId}: illegal role transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/**
 * Evidence that a safety property was broken (for example two masters heartbeating in one term).
 * Thrown rather than tolerated: continuing would risk serving writes from two masters.
 */
export class ElectionInvariantError extends Error {
  constructor(nodeId: NodeId, what: string) {
    super(`node ${nodeId}: election invariant broken: ${what}`);
    this.name = 'ElectionInvariantError';
  }
}

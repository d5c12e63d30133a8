// Public API of the election core. fake-network.ts is a test helper and deliberately not exported.
export { BullyNode } from './bully';
export type { ElectionConfig } from './config';
export {
  DEFAULT_TIMINGS,
  ElectionConfigError,
  LEASE_MARGIN_TICKS,
  leaseTicks,
  majority,
  makeConfig,
  validateConfig,
} from './config';
export { ElectionInvariantError, IllegalTransitionError } from './errors';
export { comparePositions } from './log-position';
export type * from './types';

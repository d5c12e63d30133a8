export { ReplicationNode } from './node';
export type { ReplicationNodeOptions, ReplicationStatus } from './node';
export { ReplicationLog } from './log-store';
export type { ReplicationState, SnapshotPoint } from './log-store';
export { REPLICATION_SCHEMA } from './schema';
export { REPLICATION_SERVICE_NAME } from './transport';
export type { SlaveLag } from './progress';
export { NOOP_OP } from './types';
export type { AckPolicy, LogEntry, NewEntry, NodeId, StateMachine } from './types';

import type { RowDataPacket } from 'mysql2/promise';
import { openDatabase } from '../../../services/common/mysql';
import type { Pool } from '../../../services/common/mysql';
import { checkInvariants, formatReport, snapshotNode } from '../invariants';
import type { AcknowledgedBooking, ElectionEvent, Violation } from '../invariants';
import type { StackNodeInfo } from '../stack-control';
import { sleep } from './observer';

/*
 * The end of a soak: wait until every live node has applied the master's whole log (read from each
 * node's replication_state), snapshot every live node's database and run the invariant checker.
 */

export interface Position {
  node: number;
  lastIndex: number;
  appliedIndex: number;
}

/** Converged: every node applied exactly what the master holds. */
export function hasConverged(positions: readonly Position[], masterId: number): boolean {
  const master = positions.find((p) => p.node === masterId);
  if (!master) return false;
  return positions.every((p) => p.appliedIndex === master.lastIndex);
}

export function describePositions(positions: readonly Position[]): string {
  return positions.map((p) => `node ${p.node} applied ${p.appliedIndex}/${p.lastIndex}`).join(', ');
}

export interface VerifyInput {
  mysqlUrl: string;
  /** The nodes to check (running, not partitioned). */
  nodes: readonly StackNodeInfo[];
  masterId: number;
  acknowledged: readonly AcknowledgedBooking[];
  elections: readonly ElectionEvent[];
  convergeTimeoutMs?: number;
}

export interface VerifyResult {
  converged: boolean;
  positions: Position[];
  violations: Violation[];
  report: string;
}

interface StateRow extends RowDataPacket {
  last_index: number | string;
  applied_index: number | string;
}

async function position(pool: Pool, node: number): Promise<Position> {
  const [rows] = await pool.query<StateRow[]>(
    'SELECT last_index, applied_index FROM replication_state WHERE id = 1',
  );
  const row = rows[0];
  return {
    node,
    lastIndex: Number(row?.last_index ?? 0),
    appliedIndex: Number(row?.applied_index ?? 0),
  };
}

export async function verifyNodes(input: VerifyInput): Promise<VerifyResult> {
  const pools = new Map<number, Pool>();
  try {
    for (const node of input.nodes) pools.set(node.id, await openDatabase(input.mysqlUrl, node.database, 2));
    const read = (): Promise<Position[]> => Promise.all([...pools].map(([id, pool]) => position(pool, id)));
    const deadline = Date.now() + (input.convergeTimeoutMs ?? 20_000);
    let positions = await read();
    while (!hasConverged(positions, input.masterId) && Date.now() < deadline) {
      await sleep(100);
      positions = await read();
    }
    const converged = hasConverged(positions, input.masterId);
    const snapshots = await Promise.all([...pools].map(([id, pool]) => snapshotNode(pool, id)));
    const violations = checkInvariants({
      nodes: snapshots,
      masterId: input.masterId,
      acknowledged: input.acknowledged,
      elections: input.elections,
    });
    return {
      converged,
      positions,
      violations,
      report: formatReport(violations, { nodes: snapshots.length, acknowledged: input.acknowledged.length }),
    };
  } finally {
    await Promise.all([...pools.values()].map((pool) => pool.end()));
  }
}

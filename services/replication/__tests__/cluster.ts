import type { RowDataPacket } from 'mysql2/promise';
import pino from 'pino';
import { freshDatabase } from '../../../test/databases';
import { startGrpcServer } from '../../common/grpc-server';
import type { RunningServer } from '../../common/grpc-server';
import { LamportClock } from '../../common/lamport';
import { migrate, withTransaction } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import { ClusterSecret } from '../../common/peer-auth';
import { ReplicationNode } from '../node';
import { MAX_PEER_MESSAGE_BYTES } from '../transport';
import type { ReplicationNodeOptions } from '../node';
import type { AckPolicy, NodeId } from '../types';
import { KV_SCHEMA, KvMachine, applyKv } from './kv-machine';
import type { KvChange } from './kv-machine';

/*
 * Three real nodes for the integration tests: each with its own MariaDB database and gRPC server on
 * 127.0.0.1. Ports are picked once (port 0) and kept, so a node restarted over the same database
 * comes back at the address its peers know.
 */

export const secret = new ClusterSecret('replication-test-secret-0123456789');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

export interface TestNode {
  readonly id: NodeId;
  readonly pool: Pool;
  replication: ReplicationNode;
  server: RunningServer | undefined;
  port: number;
}

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly drops: (() => Promise<void>)[] = [];

  constructor(private readonly options: { policy?: AckPolicy } & Partial<ReplicationNodeOptions> = {}) {}

  async start(size = 3): Promise<this> {
    for (let id = 1; id <= size; id++) {
      const database = await freshDatabase(`repl${id}`);
      this.drops.push(database.drop);
      await migrate(database.pool, KV_SCHEMA);
      const node: TestNode = {
        id,
        pool: database.pool,
        replication: undefined as never,
        server: undefined,
        port: 0,
      };
      this.nodes.set(id, node);
      // Bind first with a placeholder service so every node's port is known before peers are wired.
      node.replication = this.makeReplication(node);
      await this.up(id);
    }
    // Rebuild each node with the full address map.
    for (const id of this.nodes.keys()) await this.restart(id);
    return this;
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Brings the node's server up (same port after the first time). */
  async up(id: NodeId): Promise<void> {
    const node = this.node(id);
    await node.replication.start();
    node.server = await startGrpcServer({
      host: '127.0.0.1',
      port: node.port,
      services: [node.replication.service()],
      logger,
      clock: new LamportClock(),
      // As the booking node's peer server (cluster.ts), unless a test makes messages small.
      maxReceiveMessageBytes: this.options.maxMessageBytes ?? MAX_PEER_MESSAGE_BYTES,
    });
    node.port = node.server.port;
  }

  /** Stops the node's server and replication objects (the database stays). */
  async down(id: NodeId): Promise<void> {
    const node = this.node(id);
    await node.server?.stop(0);
    node.server = undefined;
    await node.replication.stop();
  }

  /** New ReplicationNode and server objects over the same database: a process restart. */
  async restart(id: NodeId): Promise<void> {
    await this.down(id);
    const node = this.node(id);
    node.replication = this.makeReplication(node);
    await this.up(id);
  }

  /** Makes a change and its entry in one transaction on `id`; returns the index. */
  async write(id: NodeId, change: KvChange): Promise<number> {
    const node = this.node(id);
    return withTransaction(node.pool, async (connection) => {
      await applyKv(connection, change);
      return node.replication.appendInTransaction(connection, {
        lamport: 1,
        op: change.op,
        payload: JSON.stringify({ ...change, op: undefined }),
      });
    });
  }

  async kv(id: NodeId): Promise<Record<string, string>> {
    const [rows] = await this.node(id).pool.query<RowDataPacket[]>('SELECT k, v FROM kv ORDER BY k');
    return Object.fromEntries(rows.map((row) => [String(row.k), String(row.v)]));
  }

  async checksum(id: NodeId): Promise<string> {
    const [rows] = await this.node(id).pool.query<RowDataPacket[]>(
      "SELECT MD5(COALESCE(GROUP_CONCAT(k, '=', v ORDER BY k SEPARATOR ';'), '')) AS sum, COUNT(*) AS n FROM kv",
    );
    return `${String(rows[0]?.sum)}/${String(rows[0]?.n)}`;
  }

  /** Polls until `check` passes (the slaves apply in the background); fails after `ms`. */
  async eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        await check();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  async stop(): Promise<void> {
    for (const id of this.nodes.keys()) await this.down(id).catch(() => undefined);
    for (const drop of this.drops) await drop();
  }

  private makeReplication(node: TestNode): ReplicationNode {
    const peers = new Map<NodeId, string>();
    for (const other of this.nodes.values())
      if (other.id !== node.id && other.port) peers.set(other.id, `127.0.0.1:${other.port}`);
    return new ReplicationNode({
      heartbeatMs: 30,
      rpcTimeoutMs: 1000,
      ackTimeoutMs: 5000,
      ...this.options,
      nodeId: node.id,
      pool: node.pool,
      machine: new KvMachine(),
      peers,
      secret,
      clock: new LamportClock(),
      logger: logger.child({ nodeId: node.id }),
    });
  }
}

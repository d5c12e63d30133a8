import type { RowDataPacket } from 'mysql2/promise';
import * as grpc from '@grpc/grpc-js';
import { status as Code } from '@grpc/grpc-js';
import pino from 'pino';
import {
  AccountServiceClient,
  BookingServiceClient,
  HoldState,
} from '../../../proto/gen/marquee/booking/v1/booking';
import type { Booking, Session } from '../../../proto/gen/marquee/booking/v1/booking';
import { checkInvariants, snapshotNode } from '../../../scripts/lib/invariants';
import type { AcknowledgedBooking } from '../../../scripts/lib/invariants';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { startGrpcServer } from '../../common/grpc-server';
import type { RunningServer } from '../../common/grpc-server';
import { LamportClock } from '../../common/lamport';
import { migrate } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import { ClusterSecret } from '../../common/peer-auth';
import { ReplicationLog } from '../../replication/log-store';
import { ReplicationNode } from '../../replication/node';
import type { ReplicatorTiming } from '../../replication/replicator';
import { SnapshotInstaller } from '../../replication/snapshot-install';
import { START, SnapshotSource } from '../../replication/snapshot-source';
import type { NodeId } from '../../replication/types';
import { loadConfig } from '../config';
import { BOOKING_OPS } from '../domain/operations';
import { replicationOf } from '../replication';
import { BOOKING_SCHEMA } from '../schema';
import { startBookingServer } from '../server';
import type { BookingServer } from '../server';
import { StaticShowSource } from '../show-source';
import type { ShowInventory } from '../show-source';
import { BookingStateMachine, SNAPSHOT_TABLES, allSnapshotRows } from '../state-machine';
import { DECLINED_CARD, GOOD_CARD, call, expectError, makeShow, queryRows } from './harness';

/*
 * Three booking nodes, each with its own database, booking server and ReplicationNode (the pattern
 * of services/replication/__tests__/cluster.ts); node 1 is master of term 1, policy majority. The
 * slaves must end with the master's state (invariants checksum and every replicated table) and no
 * acknowledged booking may be lost across a slave restart or while both slaves are down.
 */

const secret = new ClusterSecret('booking-replication-test-secret-0123456789');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const HOLD_TTL_SECONDS = 60;
const SHOW = 'repl-show';
const show = makeShow(SHOW, 12, [{ areaId: 'PIT', capacity: 8 }]);

interface BookingNode {
  readonly id: NodeId;
  readonly pool: Pool;
  readonly database: string;
  readonly lamport: LamportClock;
  replication: ReplicationNode;
  peerServer: RunningServer | undefined;
  peerPort: number;
  booking: BookingServer | undefined;
  clients: { booking: BookingServiceClient; accounts: AccountServiceClient } | undefined;
}

class BookingGroup {
  readonly nodes = new Map<NodeId, BookingNode>();
  private readonly drops: (() => Promise<void>)[] = [];
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;

  constructor(private readonly options: { timing?: Partial<ReplicatorTiming>; show?: ShowInventory } = {}) {}

  advance(ms: number): void {
    this.offset += ms;
  }

  async start(size = 3): Promise<this> {
    for (let id = 1; id <= size; id++) {
      const database = await freshDatabase(`brepl${id}`);
      this.drops.push(database.drop);
      await migrate(database.pool, BOOKING_SCHEMA);
      const node: BookingNode = {
        id,
        pool: database.pool,
        database: database.name,
        lamport: new LamportClock(),
        replication: undefined as never,
        peerServer: undefined,
        peerPort: 0,
        booking: undefined,
        clients: undefined,
      };
      this.nodes.set(id, node);
      node.replication = this.makeReplication(node);
      await this.upPeer(node);
    }
    // Now every peer port is known: rebuild each node with the full address map, booking server too.
    for (const id of this.nodes.keys()) await this.restart(id);
    return this;
  }

  node(id: NodeId): BookingNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  client(id: NodeId): { booking: BookingServiceClient; accounts: AccountServiceClient } {
    const node = this.node(id);
    if (!node.booking) throw new Error(`node ${id} is down`);
    if (!node.clients) {
      const address = `127.0.0.1:${node.booking.port}`;
      const insecure = grpc.credentials.createInsecure();
      node.clients = {
        booking: new BookingServiceClient(address, insecure),
        accounts: new AccountServiceClient(address, insecure),
      };
    }
    return node.clients;
  }

  /** A process stop: booking server, replication endpoint and node go; the database stays. */
  async down(id: NodeId): Promise<void> {
    const node = this.node(id);
    node.clients?.booking.close();
    node.clients?.accounts.close();
    node.clients = undefined;
    await node.booking?.stop();
    node.booking = undefined;
    await node.peerServer?.stop(0);
    node.peerServer = undefined;
    await node.replication.stop();
  }

  /** A process start over the same database (same peer port as before). */
  async restart(id: NodeId): Promise<void> {
    await this.down(id);
    const node = this.node(id);
    node.replication = this.makeReplication(node);
    await this.upPeer(node);
    node.booking = await startBookingServer({
      config: loadConfig({
        MARQUEE_NODE_ID: String(id),
        MARQUEE_BOOKING_PORT: '0',
        MARQUEE_MYSQL_URL: testMysqlUrl(),
        MARQUEE_BOOKING_DB: node.database,
        MARQUEE_HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS),
        MARQUEE_SWEEP_INTERVAL_MS: '50',
        MARQUEE_BOOKING_MYSQL_CONNECTIONS: '8',
        MARQUEE_LOG_LEVEL: 'silent',
      }),
      logger: logger.child({ nodeId: id }),
      showSource: new StaticShowSource([this.options.show ?? show]),
      clock: this.now,
      lamport: node.lamport,
      replication: replicationOf(node.replication, () => node.lamport.tick()),
    });
  }

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

  private async upPeer(node: BookingNode): Promise<void> {
    await node.replication.start();
    node.peerServer = await startGrpcServer({
      host: '127.0.0.1',
      port: node.peerPort,
      services: [node.replication.service()],
      logger,
      clock: node.lamport,
    });
    node.peerPort = node.peerServer.port;
  }

  private makeReplication(node: BookingNode): ReplicationNode {
    const peers = new Map<NodeId, string>();
    for (const other of this.nodes.values())
      if (other.id !== node.id && other.peerPort) peers.set(other.id, `127.0.0.1:${other.peerPort}`);
    return new ReplicationNode({
      heartbeatMs: 30,
      rpcTimeoutMs: 1000,
      ackTimeoutMs: 1500,
      policy: 'majority',
      ...this.options.timing,
      nodeId: node.id,
      pool: node.pool,
      machine: new BookingStateMachine(),
      peers,
      secret,
      clock: node.lamport,
      logger: logger.child({ nodeId: node.id }),
    });
  }
}

let keyCounter = 0;
const key = (label: string): string => `${label}-${++keyCounter}-key`;

function api(group: BookingGroup, nodeId: NodeId, token: string) {
  const { booking } = group.client(nodeId);
  return {
    hold: (
      seatIds: string[],
      ga: { areaId: string; quantity: number }[] = [],
      idempotencyKey = key('hold'),
    ) => call(booking.holdSeats.bind(booking), { showId: SHOW, seatIds, ga, idempotencyKey }, token),
    confirm: (holdId: string, card = GOOD_CARD, idempotencyKey = key('pay')) =>
      call(booking.confirmBooking.bind(booking), { holdId, card, idempotencyKey }, token),
    release: (holdId: string) =>
      call(booking.releaseHold.bind(booking), { holdId, idempotencyKey: key('release') }, token),
    cancel: (bookingId: string) =>
      call(booking.cancelBooking.bind(booking), { bookingId, idempotencyKey: key('cancel') }, token),
  };
}

function register(group: BookingGroup, nodeId: NodeId, email: string): Promise<Session> {
  const { accounts } = group.client(nodeId);
  return call(
    accounts.register.bind(accounts),
    { email, password: 'correct horse battery', displayName: email },
    undefined,
    { 'idempotency-key': key('register') },
  );
}

const acknowledged: AcknowledgedBooking[] = [];

function acknowledge(booking: Booking): void {
  const existing = acknowledged.findIndex((a) => a.id === booking.id);
  const entry: AcknowledgedBooking = {
    id: booking.id,
    showId: booking.showId,
    seatIds: booking.seats.map((s) => s.seatId),
    ga: booking.ga.map((g) => ({ areaId: g.areaId, quantity: g.quantity })),
    state: booking.cancelledAt ? 'CANCELLED' : 'CONFIRMED',
  };
  if (existing >= 0) acknowledged[existing] = entry;
  else acknowledged.push(entry);
}

/** Every replicated table, as the state machine snapshots it (the node-local admin rows left out). */
async function replicatedRows(node: BookingNode): Promise<unknown[]> {
  const connection = await node.pool.getConnection();
  try {
    const rows = await allSnapshotRows(connection);
    return rows.filter((row) => !(row.t === 'users' && row.r[6] === 'admin'));
  } finally {
    connection.release();
  }
}

/** Waits until every live node applied the master's whole log, then checks state and invariants. */
async function expectConverged(group: BookingGroup, live: NodeId[]): Promise<void> {
  const master = group.node(1);
  const { lastIndex } = await master.replication.log.state();
  await group.eventually(async () => {
    for (const id of live)
      expect((await group.node(id).replication.log.state()).appliedIndex).toBe(lastIndex);
  });
  const snapshots = await Promise.all(live.map((id) => snapshotNode(group.node(id).pool, id)));
  expect(new Set(snapshots.map((s) => s.checksum)).size).toBe(1);
  const violations = checkInvariants({
    nodes: snapshots,
    masterId: 1,
    acknowledged,
    elections: [{ term: 1, masterId: 1 }],
  });
  expect(violations.map((v) => v.message)).toEqual([]);
  const reference = await replicatedRows(master);
  for (const id of live) if (id !== 1) expect(await replicatedRows(group.node(id))).toEqual(reference);
}

describe('replicated booking store (three nodes, majority)', () => {
  let group: BookingGroup;
  let alice: ReturnType<typeof api>;
  let bob: ReturnType<typeof api>;
  let aliceToken: string;

  beforeAll(async () => {
    group = await new BookingGroup().start();
    await group.node(1).replication.becomeMaster(1);
  });
  afterAll(() => group?.stop());

  it('replicates registrations, holds, confirmations, declines, cancels, releases and expiries', async () => {
    const a = await register(group, 1, 'alice@example.com');
    const b = await register(group, 1, 'bob@example.com');
    aliceToken = a.token;
    alice = api(group, 1, a.token);
    bob = api(group, 1, b.token);

    // Seats and GA places, confirmed.
    const first = await alice.hold(['ORCH-A-1', 'ORCH-A-2'], [{ areaId: 'PIT', quantity: 2 }]);
    acknowledge(await alice.confirm(first.id));
    // A declined card writes nothing; the hold is then released.
    const declined = await bob.hold(['ORCH-A-3']);
    await expectError(bob.confirm(declined.id, DECLINED_CARD), Code.FAILED_PRECONDITION, 'declined');
    expect((await bob.release(declined.id)).state).toBe(HoldState.HOLD_STATE_RELEASED);
    // Confirmed, then cancelled.
    const second = await alice.hold(['ORCH-A-4'], [{ areaId: 'PIT', quantity: 1 }]);
    const toCancel = await alice.confirm(second.id);
    acknowledge(toCancel);
    acknowledge(await alice.cancel(toCancel.id));
    // A seat of a lapsed hold is taken at once by another hold (the lazy path), and the sweeper
    // expires the lapsed GA hold on the master. Bob's places fit without the lapsed ones: asking for
    // them would race the sweeper against the lazy GA path (see the report on createHold's retry).
    const lapsing = await alice.hold(['ORCH-A-5'], [{ areaId: 'PIT', quantity: 3 }]);
    group.advance((HOLD_TTL_SECONDS + 1) * 1000);
    const taker = await bob.hold(['ORCH-A-5'], [{ areaId: 'PIT', quantity: 3 }]);
    acknowledge(await bob.confirm(taker.id));
    await group.eventually(async () => {
      const [row] = await queryRows<{ state: string }>(
        group.node(1).pool,
        'SELECT state FROM holds WHERE id = ?',
        lapsing.id,
      );
      expect(row?.state).toBe('EXPIRED');
    });
    // A replay of an acknowledged write answers the first answer.
    const replayKey = key('pay-replay');
    const third = await alice.hold(['ORCH-A-6']);
    const booked = await alice.confirm(third.id, GOOD_CARD, replayKey);
    acknowledge(booked);
    expect(await alice.confirm(third.id, GOOD_CARD, replayKey)).toEqual(booked);
    // A slave refuses writes.
    await expectError(api(group, 2, a.token).hold(['ORCH-A-7']), Code.UNAVAILABLE, 'not the master');

    await expectConverged(group, [1, 2, 3]);
    const { lastIndex } = await group.node(1).replication.log.state();
    const ops = new Set((await group.node(1).replication.log.entries(1, lastIndex)).map((e) => e.op));
    expect([...ops].filter((op) => op.startsWith('booking.')).sort()).toEqual(
      Object.values(BOOKING_OPS)
        .filter((op) => op !== BOOKING_OPS.idempotencyStored) // records travel inside each write's op
        .sort(),
    );
    const [user] = await queryRows<{ id: string }>(
      group.node(3).pool,
      'SELECT id FROM users WHERE email = ?',
      'alice@example.com',
    );
    expect(user?.id).toBe(a.user!.id);
  });

  it('re-applying every entry changes nothing, and a snapshot restores the whole state', async () => {
    const machine = new BookingStateMachine();
    const master = group.node(1);
    const slave = group.node(2);
    await expectConverged(group, [1, 2, 3]);
    const before = await replicatedRows(slave);
    const { lastIndex } = await master.replication.log.state();
    const entries = await master.replication.log.entries(1, lastIndex);
    const connection = await slave.pool.getConnection();
    try {
      await connection.query('START TRANSACTION');
      for (const entry of entries)
        if (entry.op.startsWith('booking.')) await machine.apply(connection, entry);
      await connection.query('COMMIT');
    } finally {
      connection.release();
    }
    expect(await replicatedRows(slave)).toEqual(before);

    const target = await freshDatabase('brepl_restore');
    try {
      await migrate(target.pool, BOOKING_SCHEMA);
      const source = await master.pool.getConnection();
      const into = await target.pool.getConnection();
      try {
        const rows = await allSnapshotRows(source);
        await into.query('START TRANSACTION');
        for (const table of SNAPSHOT_TABLES)
          await machine.writeSnapshot(
            into,
            table,
            table,
            rows.filter((row) => row.t === table).map((row) => row.r),
          );
        await into.query('COMMIT');
        expect(await allSnapshotRows(into)).toEqual(rows);
        await expect(machine.writeSnapshot(into, 'seats', 'seats', [[1]])).rejects.toThrow(
          'not a row of seats',
        );
      } finally {
        source.release();
        into.release();
      }
      expect((await snapshotNode(target.pool, 4)).checksum).toBe(
        (await snapshotNode(master.pool, 1)).checksum,
      );
    } finally {
      await target.drop();
    }
  });

  it("the master's booking state, streamed in small chunks through staging tables, is installed row for row", async () => {
    const machine = new BookingStateMachine();
    const master = group.node(1);
    const target = await freshDatabase('brepl_stream');
    try {
      await migrate(target.pool, BOOKING_SCHEMA);
      const targetLog = new ReplicationLog(target.pool, 4);
      await targetLog.migrate();
      // Three rows per read and half a kilobyte per chunk: every table is paged, hold_items' ENUM key too.
      const source = new SnapshotSource({
        log: master.replication.log,
        machine,
        logger,
        batchRows: 3,
        chunkBytes: 512,
        lingerMs: 1000,
      });
      const installer = new SnapshotInstaller({ log: targetLog, machine, logger, onLeader: () => undefined });
      const point = await source.open('test');
      const { currentTerm } = await master.replication.log.state();
      let chunks = 0;
      for await (const chunk of source.chunks(point, START)) {
        chunks += 1;
        expect(await installer.accept(currentTerm, 1, chunk)).toMatchObject({ success: true });
      }
      expect(chunks).toBeGreaterThan(SNAPSHOT_TABLES.length);
      expect(await targetLog.state()).toMatchObject({
        lastIndex: point.header.lastIndex,
        appliedIndex: point.header.lastIndex,
        snapshotIndex: point.header.lastIndex,
      });
      expect((await snapshotNode(target.pool, 4)).checksum).toBe(
        (await snapshotNode(master.pool, 1)).checksum,
      );
    } finally {
      await target.drop();
    }
  });

  it('a slave restarted mid-way catches up', async () => {
    await group.down(3);
    const hold = await alice.hold(['ORCH-A-8'], [{ areaId: 'PIT', quantity: 1 }]);
    acknowledge(await alice.confirm(hold.id)); // majority: the master and node 2
    await group.restart(3);
    const after = await bob.hold(['ORCH-A-9']);
    acknowledge(await bob.confirm(after.id));
    await expectConverged(group, [1, 2, 3]);
  });

  it('with both slaves down a write is UNAVAILABLE, and nothing acknowledged is lost when they return', async () => {
    await group.down(2);
    await group.down(3);
    const holdKey = key('hold-while-alone');
    await expectError(alice.hold(['ORCH-A-10'], [], holdKey), Code.UNAVAILABLE, 'not acknowledged');
    // A retry is not acknowledged either until a majority has the write.
    await expectError(alice.hold(['ORCH-A-10'], [], holdKey), Code.UNAVAILABLE, 'not acknowledged');
    await group.restart(2);
    await group.restart(3);
    alice = api(group, 1, aliceToken);
    const hold = await alice.hold(['ORCH-A-10'], [], holdKey);
    expect(hold.seats.map((s) => s.seatId)).toEqual(['ORCH-A-10']);
    acknowledge(await alice.confirm(hold.id));
    await expectConverged(group, [1, 2, 3]);
    expect(acknowledged).toHaveLength(7);
  });

  it('a master whose database has seen a newer term is fenced at the append: UNAVAILABLE, nothing written', async () => {
    const master = group.node(1);
    const { currentTerm } = await master.replication.log.state();
    // As if a newer master had reached this database while this process still believes it leads.
    await master.replication.log.observeTerm(currentTerm + 5, 2);
    await expectError(alice.hold(['ORCH-A-11']), Code.UNAVAILABLE, `not the master of term ${currentTerm}`);
    const [seats] = await master.pool.query<RowDataPacket[]>(
      'SELECT state FROM seats WHERE show_id = ? AND seat_id = ?',
      [SHOW, 'ORCH-A-11'],
    );
    expect(seats.map((row) => String(row.state))).toEqual(['FREE']);
    const [holds] = await master.pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM hold_items WHERE item_id = 'ORCH-A-11'",
    );
    expect(Number(holds[0]?.n)).toBe(0);
  });
});

describe('a booking node whose database was wiped while it was down', () => {
  let group: BookingGroup;

  beforeAll(async () => {
    // A short log (compacted every 30 entries) so that the wiped node can only rejoin by a snapshot.
    group = await new BookingGroup({
      timing: { retainEntries: 30, maxBatch: 8 },
      show: makeShow(SHOW, 120, [{ areaId: 'PIT', capacity: 200 }]),
    }).start();
    await group.node(1).replication.becomeMaster(1);
  });
  afterAll(() => group?.stop());

  /** As after DROP DATABASE and CREATE DATABASE: no table left; the booking schema made again. */
  const wipe = async (node: BookingNode): Promise<void> => {
    const [tables] = await node.pool.query<RowDataPacket[]>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
    );
    for (const { name } of tables) await node.pool.query(`DROP TABLE \`${String(name)}\``);
    await migrate(node.pool, BOOKING_SCHEMA);
  };

  it("rejoins from a snapshot while writes continue, then holds the master's bookings and seat states row for row", async () => {
    const session = await register(group, 1, 'wiped@example.com');
    const buyer = api(group, 1, session.token);
    let seat = 0;
    /** Books two seats and a place, then holds one more seat and releases or keeps it: FREE, HELD and SOLD rows. */
    const shop = async (): Promise<void> => {
      const hold = await buyer.hold(
        [`ORCH-A-${++seat}`, `ORCH-A-${++seat}`],
        [{ areaId: 'PIT', quantity: 1 }],
      );
      await buyer.confirm(hold.id);
      const browsing = await buyer.hold([`ORCH-A-${++seat}`]);
      if (seat % 2 === 0) await buyer.release(browsing.id);
    };
    // The log is compacted while node 3 follows: the master remembers it matched up to the end.
    const master = group.node(1).replication;
    while ((await master.log.state()).snapshotIndex <= 1) await shop();
    const { lastIndex: matched } = await master.log.state();
    await group.eventually(async () =>
      expect(master.status().slaves.find((slave) => slave.nodeId === 3)?.matchIndex).toBe(matched),
    );
    await group.down(3);
    await wipe(group.node(3));
    await shop();
    await group.restart(3);
    // Writes go on while node 3 rejoins, until it has applied one made after its return (at most
    // five rounds: more could compact the log past the position the master remembers for node 3).
    const { lastIndex: restartedAt } = await master.log.state();
    for (let round = 0; round < 5; round++) {
      await shop();
      if ((await group.node(3).replication.log.state()).appliedIndex > restartedAt) break;
    }

    const { lastIndex } = await master.log.state();
    await group.eventually(async () => {
      for (const id of [2, 3])
        expect((await group.node(id).replication.log.state()).appliedIndex).toBe(lastIndex);
    });
    // Node 3 came back from a snapshot (its log begins after one) although the master's log still
    // held every entry after the position it remembered for node 3: what sent the snapshot is
    // that node 3 turned out to have lost its log, not a compaction past that position.
    expect((await group.node(3).replication.log.state()).snapshotIndex).toBeGreaterThan(1);
    expect((await master.log.state()).snapshotIndex).toBeLessThanOrEqual(matched);
    const reference = await replicatedRows(group.node(1));
    const states = await queryRows<{ state: string; n: number }>(
      group.node(1).pool,
      'SELECT state, COUNT(*) AS n FROM seats GROUP BY state ORDER BY state',
    );
    expect(states.map((row) => row.state)).toEqual(['FREE', 'HELD', 'SOLD']);
    for (const id of [2, 3]) expect(await replicatedRows(group.node(id))).toEqual(reference);
  });
});

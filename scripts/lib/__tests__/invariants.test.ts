import { freshDatabase } from '../../../test/databases';
import { makeShow } from '../../../services/booking/__tests__/harness';
import type { Principal } from '../../../services/common/auth';
import { createLogger } from '../../../services/common/logger';
import { migrate } from '../../../services/common/mysql';
import type { Pool } from '../../../services/common/mysql';
import { scopeFor } from '../../../services/booking/idempotency';
import { Inventory } from '../../../services/booking/inventory';
import { SimulatedCardProcessor, validateCard } from '../../../services/booking/payments';
import { BOOKING_SCHEMA } from '../../../services/booking/schema';
import { StaticShowSource } from '../../../services/booking/show-source';
import { MysqlBookingStore } from '../../../services/booking/store';
import { checkInvariants, formatReport, snapshotNode, stateChecksum, tableChecksums } from '../invariants';
import type { AcknowledgedBooking, CheckInput, NodeSnapshot, Violation } from '../invariants';
import { singleNodeWriter } from '../../../services/booking/write/batcher';

// Replicated nodes apply the master's writes with the master's ids; replaying the same operations on
// two databases gives the same state only if ids are deterministic, so each node's replay restarts
// this counter (the store draws booking, hold and payment ids from newId).
let idCounter = 0;
jest.mock('../../../services/common/ids', () => ({
  newId: (prefix: string): string => `${prefix}_${String(++idCounter).padStart(4, '0')}`,
}));

const SHOW = 'shw_x';

type Data = Omit<NodeSnapshot, 'nodeId' | 'checksum'>;

/**
 * A clean state: bk_1 (2 seats + 2 floor places) and bk_3 (1 seat + 3 places) confirmed, bk_2
 * cancelled (its seat free again), STD-A-5 and one floor place held by a live hold.
 */
function cleanData(): Data {
  const seat = (n: number, state: 'FREE' | 'HELD' | 'SOLD' = 'FREE', bookingId: string | null = null) => ({
    showId: SHOW,
    seatId: `STD-A-${n}`,
    state,
    bookingId,
  });
  return {
    seats: [
      seat(1, 'SOLD', 'bk_1'),
      seat(2, 'SOLD', 'bk_1'),
      seat(3),
      seat(4, 'SOLD', 'bk_3'),
      seat(5, 'HELD'),
      seat(6),
    ],
    pools: [{ showId: SHOW, areaId: 'floor', capacity: 10, held: 1, sold: 5 }],
    bookings: [
      {
        id: 'bk_1',
        showId: SHOW,
        state: 'CONFIRMED',
        seatIds: ['STD-A-1', 'STD-A-2'],
        ga: [{ areaId: 'floor', quantity: 2 }],
      },
      { id: 'bk_2', showId: SHOW, state: 'CANCELLED', seatIds: ['STD-A-3'], ga: [] },
      {
        id: 'bk_3',
        showId: SHOW,
        state: 'CONFIRMED',
        seatIds: ['STD-A-4'],
        ga: [{ areaId: 'floor', quantity: 3 }],
      },
    ],
  };
}

/** A node's snapshot, optionally changed after building (the checksum follows the change). */
function node(nodeId: number, change?: (data: Data) => void): NodeSnapshot {
  const data = cleanData();
  change?.(data);
  return { nodeId, ...data, checksum: stateChecksum(data) };
}

const ACKNOWLEDGED: AcknowledgedBooking[] = [
  {
    id: 'bk_1',
    showId: SHOW,
    seatIds: ['STD-A-2', 'STD-A-1'],
    ga: [{ areaId: 'floor', quantity: 2 }],
    state: 'CONFIRMED',
  },
  { id: 'bk_2', showId: SHOW, seatIds: ['STD-A-3'], state: 'CANCELLED' },
  { id: 'bk_3', showId: SHOW, seatIds: ['STD-A-4'], state: 'CONFIRMED' },
];

function input(overrides: Partial<CheckInput> = {}): CheckInput {
  return {
    nodes: [node(1), node(2), node(3)],
    masterId: 1,
    acknowledged: ACKNOWLEDGED,
    elections: [
      { term: 1, masterId: 3 },
      { term: 1, masterId: 3 }, // the same event seen by two observers
      { term: 2, masterId: 1 },
    ],
    ...overrides,
  };
}

const kinds = (violations: Violation[]): string[] => [...new Set(violations.map((v) => v.kind))].sort();

describe('checkInvariants (pure)', () => {
  it('finds nothing wrong in a clean, converged state', () => {
    const violations = checkInvariants(input());
    expect(violations).toEqual([]);
    expect(formatReport(violations, { nodes: 3, acknowledged: 3 })).toBe(
      'all invariants hold (3 nodes, 3 acknowledged bookings)',
    );
  });

  describe('rule 1: acknowledged bookings survive on the master and every live slave', () => {
    it('reports an acknowledged booking missing on a slave', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1),
            node(2, (d) => {
              d.bookings = d.bookings.filter((b) => b.id !== 'bk_3');
            }),
            node(3),
          ],
        }),
      );
      expect(violations).toContainEqual({
        rule: 1,
        kind: 'booking-missing',
        nodeId: 2,
        bookingId: 'bk_3',
        message: 'node 2: acknowledged booking bk_3 (show shw_x, seats STD-A-4) is missing',
      });
      // The slave's other tables now disagree with it too, and it no longer matches the master.
      expect(kinds(violations)).toEqual([
        'booking-missing',
        'divergence',
        'pool-sold-mismatch',
        'seat-orphan',
      ]);
    });

    it('reports an acknowledged booking missing on the master, and a master without a snapshot', () => {
      const lost = checkInvariants(input({ nodes: [node(1, (d) => d.bookings.pop()), node(2)] }));
      expect(lost.map((v) => v.message)).toContain(
        'node 1 (master): acknowledged booking bk_3 (show shw_x, seats STD-A-4) is missing',
      );
      const absent = checkInvariants(input({ nodes: [node(2), node(3)] }));
      expect(absent).toEqual([
        {
          rule: 1,
          kind: 'master-missing',
          nodeId: 1,
          message: 'master node 1 has no snapshot among the live nodes (2, 3)',
        },
      ]);
    });

    it('reports a booking whose state or items differ from what was acknowledged', () => {
      const acknowledged: AcknowledgedBooking[] = [
        { ...ACKNOWLEDGED[0]!, state: 'CANCELLED', ga: [{ areaId: 'floor', quantity: 4 }] },
        { ...ACKNOWLEDGED[2]!, seatIds: ['STD-A-4', 'STD-A-6'] },
      ];
      const violations = checkInvariants(input({ nodes: [node(1)], acknowledged }));
      expect(violations).toEqual([
        expect.objectContaining({
          kind: 'booking-mismatch',
          bookingId: 'bk_1',
          fields: ['state', 'ga'],
          message:
            'node 1 (master): acknowledged booking bk_1 differs: state is CONFIRMED, acknowledged CANCELLED; places are floor×2, acknowledged floor×4',
        }),
        expect.objectContaining({
          kind: 'booking-mismatch',
          bookingId: 'bk_3',
          fields: ['seatIds'],
          message:
            'node 1 (master): acknowledged booking bk_3 differs: seats are STD-A-4, acknowledged STD-A-4, STD-A-6',
        }),
      ]);
    });

    it('accepts either state when a cancel was sent but never answered', () => {
      const acknowledged: AcknowledgedBooking[] = [{ ...ACKNOWLEDGED[0]!, cancelInDoubt: true }];
      expect(checkInvariants(input({ acknowledged }))).toEqual([]);
      const cancelled = (d: Data): void => {
        d.bookings[0]!.state = 'CANCELLED';
        d.seats[0]!.state = 'FREE';
        d.seats[0]!.bookingId = null;
        d.seats[1]!.state = 'FREE';
        d.seats[1]!.bookingId = null;
        d.pools[0]!.sold = 3;
      };
      expect(
        checkInvariants(input({ nodes: [node(1, cancelled), node(2, cancelled)], acknowledged })),
      ).toEqual([]);
    });
  });

  describe('rule 2: no seat sold twice', () => {
    it('reports a seat listed by two confirmed bookings', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1),
            node(2, (d) => {
              d.bookings[2]!.seatIds.unshift('STD-A-1');
            }),
          ],
          acknowledged: [],
        }),
      );
      expect(violations).toContainEqual({
        rule: 2,
        kind: 'seat-sold-twice',
        nodeId: 2,
        showId: SHOW,
        seatId: 'STD-A-1',
        bookingIds: ['bk_1', 'bk_3'],
        message: 'node 2: seat STD-A-1 of show shw_x is SOLD in two bookings: bk_1, bk_3',
      });
      expect(kinds(violations)).toEqual(['divergence', 'seat-sold-twice']);
    });

    it('reports SOLD seats that no confirmed booking backs', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1, (d) => {
              d.seats[5] = { ...d.seats[5]!, state: 'SOLD', bookingId: null };
              d.seats[2] = { ...d.seats[2]!, state: 'SOLD', bookingId: 'bk_2' };
              d.seats[4]!.bookingId = 'bk_9';
            }),
          ],
          acknowledged: [],
        }),
      );
      expect(violations.map((v) => v.message)).toEqual([
        'node 1 (master): seat STD-A-3 of show shw_x is SOLD to booking bk_2, which is CANCELLED',
        'node 1 (master): seat STD-A-5 of show shw_x is HELD but points at booking bk_9',
        'node 1 (master): seat STD-A-6 of show shw_x is SOLD without a booking',
      ]);
    });

    it('reports a confirmed booking whose seat is not SOLD to it', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1, (d) => {
              d.seats[1] = { ...d.seats[1]!, state: 'FREE', bookingId: null };
              d.seats = d.seats.filter((s) => s.seatId !== 'STD-A-4');
            }),
          ],
          acknowledged: [],
        }),
      );
      expect(violations).toEqual([
        expect.objectContaining({
          kind: 'booking-seat-not-sold',
          bookingId: 'bk_1',
          seatId: 'STD-A-2',
          seatState: 'FREE',
          message:
            'node 1 (master): confirmed booking bk_1 lists seat STD-A-2 of show shw_x, but the seat is FREE',
        }),
        expect.objectContaining({
          kind: 'booking-seat-not-sold',
          bookingId: 'bk_3',
          seatId: 'STD-A-4',
          seatState: 'MISSING',
          message:
            'node 1 (master): confirmed booking bk_3 lists seat STD-A-4 of show shw_x, but the seat does not exist',
        }),
      ]);
    });
  });

  describe('rule 3: pools never oversold and sold matches the bookings', () => {
    it('reports an oversold pool', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1, (d) => {
              d.pools[0]!.held = 6;
            }),
          ],
        }),
      );
      expect(violations).toEqual([
        {
          rule: 3,
          kind: 'pool-counts',
          nodeId: 1,
          showId: SHOW,
          areaId: 'floor',
          message:
            'node 1 (master): pool floor of show shw_x is oversold: sold 5 + held 6 = 11 > capacity 10',
        },
      ]);
    });

    it('reports negative counts, sold that the bookings do not account for, and places in a missing pool', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1, (d) => {
              d.pools[0]!.held = -1;
              d.pools[0]!.sold = 4;
              d.bookings[2]!.ga.push({ areaId: 'balcony', quantity: 1 });
            }),
          ],
          acknowledged: [],
        }),
      );
      expect(violations.map((v) => v.message)).toEqual([
        'node 1 (master): pool floor of show shw_x has a negative count (held -1, sold 4)',
        'node 1 (master): pool floor of show shw_x has sold 4 but its confirmed bookings hold 5 places (bk_1×2, bk_3×3)',
        'node 1 (master): pool balcony of show shw_x does not exist but confirmed bookings hold 1 places in it (bk_3×1)',
      ]);
    });
  });

  describe('rule 4: at most one master per term', () => {
    it('reports two masters in one term', () => {
      const violations = checkInvariants(
        input({
          elections: [
            { term: 1, masterId: 3 },
            { term: 2, masterId: 3 },
            { term: 2, masterId: 1 },
            { term: 3, masterId: 1 },
          ],
        }),
      );
      expect(violations).toEqual([
        {
          rule: 4,
          kind: 'two-masters',
          term: 2,
          masterIds: [1, 3],
          message: 'term 2 has 2 masters: node 1, node 3',
        },
      ]);
    });
  });

  describe('rule 5: live nodes converge', () => {
    it('reports a diverging node and which tables differ', () => {
      const violations = checkInvariants(
        input({
          nodes: [
            node(1),
            node(2),
            node(3, (d) => {
              d.seats[5]!.state = 'HELD';
              d.pools[0]!.held = 2;
            }),
          ],
        }),
      );
      expect(violations).toHaveLength(1);
      const [divergence] = violations;
      expect(divergence).toMatchObject({
        rule: 5,
        kind: 'divergence',
        nodeId: 3,
        referenceId: 1,
        tables: ['seats', 'pools'],
      });
      expect(divergence!.message).toMatch(
        /^node 3: state differs from node 1 \(master\) \(checksum [0-9a-f]{12} vs [0-9a-f]{12}\): /,
      );
      expect(divergence!.message).toContain(
        'seats differ in 1 row (seat STD-A-6 of show shw_x: FREE on node 1, HELD on node 3)',
      );
      expect(divergence!.message).toContain(
        'pools differ in 1 row (pool floor of show shw_x: capacity 10 held 1 sold 5 on node 1, capacity 10 held 2 sold 5 on node 3)',
      );
    });

    it('reports checksums that differ over equal rows', () => {
      const other = { ...node(2), checksum: 'f'.repeat(64) };
      const violations = checkInvariants(input({ nodes: [node(1), other] }));
      expect(violations).toEqual([expect.objectContaining({ kind: 'divergence', nodeId: 2, tables: [] })]);
      expect(violations[0]!.message).toContain("yet their snapshots' rows are equal");
    });
  });

  describe('stateChecksum', () => {
    it('ignores row order and rows that mean the same as absent ones', () => {
      const data = cleanData();
      const shuffled: Data = {
        seats: [...data.seats].reverse(),
        pools: [...data.pools, { showId: 'shw_other', areaId: 'floor', capacity: 50, held: 0, sold: 0 }],
        bookings: [...data.bookings].reverse().map((b) => ({ ...b, seatIds: [...b.seatIds].reverse() })),
      };
      shuffled.seats.push({ showId: 'shw_other', seatId: 'X-1', state: 'FREE', bookingId: null });
      expect(stateChecksum(shuffled)).toBe(stateChecksum(data));
      expect(stateChecksum(data)).toMatch(/^[0-9a-f]{64}$/);
    });

    it('changes with any owned seat, pool count or booking', () => {
      const base = tableChecksums(cleanData());
      const changed = cleanData();
      changed.seats[0]!.bookingId = 'bk_3';
      expect(tableChecksums(changed)).toEqual({ ...base, seats: expect.not.stringMatching(base.seats) });
      const cancelled = cleanData();
      cancelled.bookings[0]!.state = 'CANCELLED';
      expect(tableChecksums(cancelled)).toEqual({
        ...base,
        bookings: expect.not.stringMatching(base.bookings),
      });
    });
  });

  it('formats one line per violation', () => {
    const violations = checkInvariants(
      input({
        elections: [
          { term: 4, masterId: 1 },
          { term: 4, masterId: 2 },
        ],
        nodes: [node(1), node(2, (d) => (d.pools[0]!.held = 6))],
      }),
    );
    const report = formatReport(violations, { nodes: 2, acknowledged: 3 }).split('\n');
    expect(report).toHaveLength(violations.length);
    expect(report[0]).toBe(
      'VIOLATION rule 3 pool-counts: node 2: pool floor of show shw_x is oversold: sold 5 + held 6 = 11 > capacity 10',
    );
    expect(report).toContain('VIOLATION rule 4 two-masters: term 4 has 2 masters: node 1, node 2');
  });
});

describe('snapshotNode + checkInvariants on real booking databases', () => {
  const show = makeShow(SHOW, 8, [{ areaId: 'floor', capacity: 10 }]);
  const logger = createLogger('invariants-test', { level: 'silent' });
  const T0 = Date.parse('2029-06-01T12:00:00Z');
  const card = validateCard(
    { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2099, cvc: '123', holderName: 'Test Buyer' },
    T0,
  );
  const databases: { pool: Pool; drop(): Promise<void> }[] = [];
  let acknowledged: AcknowledgedBooking[] = [];

  /**
   * The same operations, in the same order, at the same clock readings and with the same ids, as a
   * slave applying the master's log would: the two databases must end up in the same state.
   */
  async function replay(pool: Pool): Promise<AcknowledgedBooking[]> {
    idCounter = 0;
    let now = T0;
    const clock = (): number => now;
    const ctx = { pool, clock, holdTtlSeconds: 600, payments: new SimulatedCardProcessor(clock), logger };
    const writer = singleNodeWriter(pool, clock, logger);
    const store = new MysqlBookingStore(
      ctx,
      new Inventory(pool, new StaticShowSource([show]), clock, logger, writer),
      24,
      writer,
    );
    await store.availability(SHOW, Infinity);
    const user = (id: string): Principal => ({ userId: id, email: `${id}@example.com`, role: 'user' });
    let key = 0;
    const book = async (who: Principal, seatIds: string[], ga: { areaId: string; quantity: number }[]) => {
      const request = { showId: SHOW, seatIds, ga };
      const hold = await store.hold(
        who,
        scopeFor(who.userId, `k${++key}`, 'HoldSeats', request),
        request,
        Infinity,
      );
      now += 1000;
      return {
        hold,
        confirm: () =>
          store.confirm(who, scopeFor(who.userId, `k${++key}`, 'ConfirmBooking', hold.id), hold.id, card),
      };
    };
    const alice = user('alice');
    const bob = user('bob');
    const first = await (
      await book(alice, ['ORCH-A-1', 'ORCH-A-2'], [{ areaId: 'floor', quantity: 3 }])
    ).confirm();
    const second = await (await book(bob, ['ORCH-A-3'], [])).confirm();
    await store.cancel(bob, scopeFor(bob.userId, `k${++key}`, 'CancelBooking', second.id), second.id);
    const third = await (
      await book(bob, ['ORCH-A-3', 'ORCH-A-5'], [{ areaId: 'floor', quantity: 2 }])
    ).confirm();
    await book(user('carol'), ['ORCH-A-8'], [{ areaId: 'floor', quantity: 1 }]); // stays held
    const ack = (b: typeof first, state: 'CONFIRMED' | 'CANCELLED'): AcknowledgedBooking => ({
      id: b.id,
      showId: b.showId,
      seatIds: b.seats.map((s) => s.seatId),
      ga: b.ga.map((g) => ({ areaId: g.areaId, quantity: g.quantity })),
      state,
    });
    return [ack(first, 'CONFIRMED'), ack(second, 'CANCELLED'), ack(third, 'CONFIRMED')];
  }

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const database = await freshDatabase('invariants');
      databases.push(database);
      await migrate(database.pool, BOOKING_SCHEMA);
      acknowledged = await replay(database.pool);
    }
  });

  afterAll(async () => {
    for (const database of databases) await database.drop();
  });

  const snapshots = (): Promise<NodeSnapshot[]> =>
    Promise.all(databases.map((database, i) => snapshotNode(database.pool, i + 1)));

  const check = (nodes: NodeSnapshot[]): Violation[] =>
    checkInvariants({ nodes, masterId: 1, acknowledged, elections: [{ term: 1, masterId: 1 }] });

  // The booking ids the replay produced (the same on both nodes).
  const first = (): string => acknowledged[0]!.id;
  const second = (): string => acknowledged[1]!.id;
  const third = (): string => acknowledged[2]!.id;

  it('reads the booking tables into snapshots on which all invariants hold and checksums agree', async () => {
    const [a, b] = await snapshots();
    expect(a!.bookings).toEqual([
      {
        id: first(),
        showId: SHOW,
        state: 'CONFIRMED',
        seatIds: ['ORCH-A-1', 'ORCH-A-2'],
        ga: [{ areaId: 'floor', quantity: 3 }],
      },
      { id: second(), showId: SHOW, state: 'CANCELLED', seatIds: ['ORCH-A-3'], ga: [] },
      {
        id: third(),
        showId: SHOW,
        state: 'CONFIRMED',
        seatIds: ['ORCH-A-3', 'ORCH-A-5'],
        ga: [{ areaId: 'floor', quantity: 2 }],
      },
    ]);
    expect(a!.pools).toEqual([{ showId: SHOW, areaId: 'floor', capacity: 10, held: 1, sold: 5 }]);
    expect(a!.seats.filter((s) => s.state !== 'FREE')).toEqual([
      { showId: SHOW, seatId: 'ORCH-A-1', state: 'SOLD', bookingId: first() },
      { showId: SHOW, seatId: 'ORCH-A-2', state: 'SOLD', bookingId: first() },
      { showId: SHOW, seatId: 'ORCH-A-3', state: 'SOLD', bookingId: third() },
      { showId: SHOW, seatId: 'ORCH-A-5', state: 'SOLD', bookingId: third() },
      { showId: SHOW, seatId: 'ORCH-A-8', state: 'HELD', bookingId: null },
    ]);
    expect(a!.seats).toHaveLength(8);
    expect(b!.checksum).toBe(a!.checksum);
    const violations = check([a!, b!]);
    expect(violations).toEqual([]);
    expect(formatReport(violations, { nodes: 2, acknowledged: acknowledged.length })).toBe(
      'all invariants hold (2 nodes, 3 acknowledged bookings)',
    );
  });

  it('reports a seat row changed behind the store on one node', async () => {
    const seat = [SHOW, 'ORCH-A-5'];
    await databases[1]!.pool.query(
      "UPDATE seats SET state = 'FREE', booking_id = NULL WHERE show_id = ? AND seat_id = ?",
      seat,
    );
    try {
      const [a, b] = await snapshots();
      expect(b!.checksum).not.toBe(a!.checksum);
      const violations = check([a!, b!]);
      expect(violations).toEqual([
        expect.objectContaining({
          kind: 'booking-seat-not-sold',
          nodeId: 2,
          bookingId: third(),
          seatId: 'ORCH-A-5',
          message: `node 2: confirmed booking ${third()} lists seat ORCH-A-5 of show shw_x, but the seat is FREE`,
        }),
        expect.objectContaining({ kind: 'divergence', nodeId: 2, referenceId: 1, tables: ['seats'] }),
      ]);
      expect(violations[1]!.message).toContain(
        `seats differ in 1 row (seat ORCH-A-5 of show shw_x: SOLD to ${third()} on node 1, FREE on node 2)`,
      );
    } finally {
      // Put the row back so the next test starts from converged nodes.
      await databases[1]!.pool.query(
        "UPDATE seats SET state = 'SOLD', booking_id = ? WHERE show_id = ? AND seat_id = ?",
        [third(), ...seat],
      );
    }
    expect(check(await snapshots())).toEqual([]);
  });

  it('reports a seat sold in two bookings and an acknowledged booking lost on the slave', async () => {
    const pool = databases[1]!.pool;
    // The third booking's hold also claims ORCH-A-1, which the first booking owns.
    await pool.query(
      `INSERT INTO hold_items (hold_id, kind, item_id, label, quantity, amount_cents)
       SELECT hold_id, 'SEAT', 'ORCH-A-1', 'Orchestra A1', 1, 4500 FROM bookings WHERE id = ?`,
      [third()],
    );
    await pool.query('DELETE FROM bookings WHERE id = ?', [second()]);
    const violations = check(await snapshots());
    expect(violations.map((v) => v.message)).toEqual([
      `node 2: acknowledged booking ${second()} (show shw_x, seats ORCH-A-3) is missing`,
      `node 2: acknowledged booking ${third()} differs: seats are ORCH-A-1, ORCH-A-3, ORCH-A-5, acknowledged ORCH-A-3, ORCH-A-5`,
      `node 2: seat ORCH-A-1 of show shw_x is SOLD in two bookings: ${first()}, ${third()}`,
      expect.stringContaining(
        `: bookings differ in 2 rows (booking ${second()}: CANCELLED [ORCH-A-3] on node 1, absent on node 2; booking ${third()}: CONFIRMED [ORCH-A-3, ORCH-A-5, floor×2] on node 1, CONFIRMED [ORCH-A-1, ORCH-A-3, ORCH-A-5, floor×2] on node 2)`,
      ),
    ]);
    expect(violations.map((v) => v.kind)).toEqual([
      'booking-missing',
      'booking-mismatch',
      'seat-sold-twice',
      'divergence',
    ]);
  });
});

import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../services/common/mysql';

/**
 * The invariant checker of the booking group, used by the chaos soak and the cluster tests:
 *   1. every acknowledged booking is on the master and on every live slave, in its acknowledged state;
 *   2. no seat is sold twice: every SOLD seat belongs to exactly one confirmed booking that lists it,
 *      and every seat of a confirmed booking is SOLD to it;
 *   3. every GA pool has 0 <= held, 0 <= sold, sold + held <= capacity, and sold equals the places
 *      of its confirmed bookings;
 *   4. at most one master per term;
 *   5. all live nodes hold the same state (checksum), and when not, which tables differ.
 *
 * The core (`checkInvariants`) is pure over snapshots so that every rule can be tested on hand-built
 * states; `snapshotNode` is the only part that touches MySQL.
 */

export type SeatStateName = 'FREE' | 'HELD' | 'SOLD';
export type BookingStateName = 'CONFIRMED' | 'CANCELLED';

export interface SeatSnapshot {
  showId: string;
  seatId: string;
  state: SeatStateName;
  bookingId: string | null;
}

export interface PoolSnapshot {
  showId: string;
  areaId: string;
  capacity: number;
  held: number;
  sold: number;
}

export interface GaQuantity {
  areaId: string;
  quantity: number;
}

export interface BookingSnapshot {
  id: string;
  showId: string;
  state: BookingStateName;
  /** The booking's seats (hold_items of kind SEAT of its hold), sorted. */
  seatIds: string[];
  /** The booking's general-admission places (hold_items of kind GA of its hold), sorted by area. */
  ga: GaQuantity[];
}

/** One node's replicated booking state, read in one consistent snapshot. */
export interface NodeSnapshot {
  nodeId: number;
  seats: SeatSnapshot[];
  pools: PoolSnapshot[];
  bookings: BookingSnapshot[];
  /** stateChecksum of the above (or a checksum the node itself reported over the same data). */
  checksum: string;
}

/** A booking whose confirmation (and maybe cancellation) a client saw acknowledged. */
export interface AcknowledgedBooking {
  id: string;
  showId: string;
  seatIds: string[];
  /** Compared only when given: callers that booked seats only need not list places. */
  ga?: GaQuantity[];
  /** CONFIRMED, or CANCELLED once a cancel of it was acknowledged. */
  state: BookingStateName;
  /** A cancel was sent but no answer came back, so it may or may not have happened: CANCELLED is also fine. */
  cancelInDoubt?: boolean;
}

export interface ElectionEvent {
  term: number;
  masterId: number;
}

export interface CheckInput {
  /** Snapshots of the live nodes, the master's included. */
  nodes: readonly NodeSnapshot[];
  masterId: number;
  acknowledged: readonly AcknowledgedBooking[];
  /** Every "node X became master in term T" observed (duplicates are fine). */
  elections: readonly ElectionEvent[];
}

export type TableName = 'seats' | 'pools' | 'bookings';

interface Base {
  /** The rule (1..5 as listed at the top of this file) that the violation breaks. */
  rule: 1 | 2 | 3 | 4 | 5;
  /** One line naming the node, booking, seat, pool or term. */
  message: string;
}

export type Violation = Base &
  (
    | { kind: 'master-missing'; nodeId: number }
    | { kind: 'booking-missing'; nodeId: number; bookingId: string }
    | { kind: 'booking-mismatch'; nodeId: number; bookingId: string; fields: string[] }
    | { kind: 'seat-sold-twice'; nodeId: number; showId: string; seatId: string; bookingIds: string[] }
    | { kind: 'seat-orphan'; nodeId: number; showId: string; seatId: string; bookingId: string | null }
    | {
        kind: 'booking-seat-not-sold';
        nodeId: number;
        bookingId: string;
        showId: string;
        seatId: string;
        seatState: SeatStateName | 'MISSING';
      }
    | { kind: 'pool-counts'; nodeId: number; showId: string; areaId: string }
    | {
        kind: 'pool-sold-mismatch';
        nodeId: number;
        showId: string;
        areaId: string;
        sold: number;
        booked: number;
      }
    | { kind: 'pool-missing'; nodeId: number; showId: string; areaId: string; bookingIds: string[] }
    | { kind: 'two-masters'; term: number; masterIds: number[] }
    | { kind: 'divergence'; nodeId: number; referenceId: number; tables: TableName[] }
  );

export type ViolationKind = Violation['kind'];

/** Runs every rule; an empty list means all invariants hold. */
export function checkInvariants(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const master = input.nodes.find((n) => n.nodeId === input.masterId);
  if (!master)
    violations.push({
      rule: 1,
      kind: 'master-missing',
      nodeId: input.masterId,
      message: `master node ${input.masterId} has no snapshot among the live nodes (${
        input.nodes.map((n) => n.nodeId).join(', ') || 'none'
      })`,
    });
  for (const node of input.nodes) {
    const name = nodeName(node.nodeId, input.masterId);
    violations.push(...checkAcknowledged(node, name, input.acknowledged));
    violations.push(...checkSeats(node, name));
    violations.push(...checkPools(node, name));
  }
  violations.push(...checkTerms(input.elections));
  violations.push(...checkConvergence(input.nodes, master ?? input.nodes[0], input.masterId));
  return violations;
}

function nodeName(nodeId: number, masterId: number): string {
  return nodeId === masterId ? `node ${nodeId} (master)` : `node ${nodeId}`;
}

const seatKey = (showId: string, seatId: string): string => JSON.stringify([showId, seatId]);

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function gaText(ga: readonly GaQuantity[]): string {
  return ga.length === 0 ? 'none' : ga.map((g) => `${g.areaId}×${g.quantity}`).join(', ');
}

function sortedGa(ga: readonly GaQuantity[]): GaQuantity[] {
  return [...ga].sort((a, b) => compare(a.areaId, b.areaId));
}

/** Code-unit order: deterministic on every machine, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Rule 1.
function checkAcknowledged(
  node: NodeSnapshot,
  name: string,
  acknowledged: readonly AcknowledgedBooking[],
): Violation[] {
  const violations: Violation[] = [];
  const byId = new Map(node.bookings.map((b) => [b.id, b]));
  for (const ack of acknowledged) {
    const found = byId.get(ack.id);
    if (!found) {
      violations.push({
        rule: 1,
        kind: 'booking-missing',
        nodeId: node.nodeId,
        bookingId: ack.id,
        message: `${name}: acknowledged booking ${ack.id} (show ${ack.showId}, seats ${
          ack.seatIds.join(', ') || 'none'
        }) is missing`,
      });
      continue;
    }
    const fields: string[] = [];
    const problems: string[] = [];
    if (found.showId !== ack.showId) {
      fields.push('showId');
      problems.push(`show is ${found.showId}, acknowledged ${ack.showId}`);
    }
    const stateOk = found.state === ack.state || (ack.cancelInDoubt === true && found.state === 'CANCELLED');
    if (!stateOk) {
      fields.push('state');
      problems.push(`state is ${found.state}, acknowledged ${ack.state}`);
    }
    const ackSeats = [...ack.seatIds].sort(compare);
    const seats = [...found.seatIds].sort(compare);
    if (!sameList(seats, ackSeats)) {
      fields.push('seatIds');
      problems.push(`seats are ${seats.join(', ') || 'none'}, acknowledged ${ackSeats.join(', ') || 'none'}`);
    }
    if (ack.ga !== undefined) {
      const ackGa = gaText(sortedGa(ack.ga));
      const ga = gaText(sortedGa(found.ga));
      if (ga !== ackGa) {
        fields.push('ga');
        problems.push(`places are ${ga}, acknowledged ${ackGa}`);
      }
    }
    if (fields.length > 0)
      violations.push({
        rule: 1,
        kind: 'booking-mismatch',
        nodeId: node.nodeId,
        bookingId: ack.id,
        fields,
        message: `${name}: acknowledged booking ${ack.id} differs: ${problems.join('; ')}`,
      });
  }
  return violations;
}

// Rule 2.
function checkSeats(node: NodeSnapshot, name: string): Violation[] {
  const violations: Violation[] = [];
  const bookings = new Map(node.bookings.map((b) => [b.id, b]));
  const confirmed = node.bookings.filter((b) => b.state === 'CONFIRMED');
  // Which confirmed bookings list each seat: more than one is a double sale whatever the seat row says.
  const listers = new Map<string, string[]>();
  for (const b of confirmed)
    for (const seatId of b.seatIds) {
      const key = seatKey(b.showId, seatId);
      const ids = listers.get(key);
      if (ids) ids.push(b.id);
      else listers.set(key, [b.id]);
    }
  const doubles = new Set<string>();
  for (const [key, ids] of listers) {
    if (ids.length < 2) continue;
    doubles.add(key);
    const [showId, seatId] = JSON.parse(key) as [string, string];
    const sorted = [...ids].sort(compare);
    violations.push({
      rule: 2,
      kind: 'seat-sold-twice',
      nodeId: node.nodeId,
      showId,
      seatId,
      bookingIds: sorted,
      message: `${name}: seat ${seatId} of show ${showId} is SOLD in ${
        sorted.length === 2 ? 'two' : sorted.length
      } bookings: ${sorted.join(', ')}`,
    });
  }

  const seats = new Map<string, SeatSnapshot>();
  for (const seat of node.seats) {
    const key = seatKey(seat.showId, seat.seatId);
    seats.set(key, seat);
    const problem = seatProblem(seat, bookings, listers.get(key) ?? []);
    if (problem)
      violations.push({
        rule: 2,
        kind: 'seat-orphan',
        nodeId: node.nodeId,
        showId: seat.showId,
        seatId: seat.seatId,
        bookingId: seat.bookingId,
        message: `${name}: seat ${seat.seatId} of show ${seat.showId} ${problem}`,
      });
  }

  for (const b of confirmed)
    for (const seatId of b.seatIds) {
      const key = seatKey(b.showId, seatId);
      if (doubles.has(key)) continue; // already reported, naming both bookings
      const seat = seats.get(key);
      if (seat && seat.state === 'SOLD' && seat.bookingId === b.id) continue;
      const seatState = seat ? seat.state : 'MISSING';
      const actual = !seat
        ? 'the seat does not exist'
        : seat.state === 'SOLD'
          ? `the seat is SOLD to ${seat.bookingId ?? 'no booking'}`
          : `the seat is ${seat.state}`;
      violations.push({
        rule: 2,
        kind: 'booking-seat-not-sold',
        nodeId: node.nodeId,
        bookingId: b.id,
        showId: b.showId,
        seatId,
        seatState,
        message: `${name}: confirmed booking ${b.id} lists seat ${seatId} of show ${b.showId}, but ${actual}`,
      });
    }
  return violations;
}

/** Why a seat row is not backed by exactly the booking it names (undefined when it is). */
function seatProblem(
  seat: SeatSnapshot,
  bookings: ReadonlyMap<string, BookingSnapshot>,
  listers: readonly string[],
): string | undefined {
  if (seat.state !== 'SOLD')
    return seat.bookingId === null ? undefined : `is ${seat.state} but points at booking ${seat.bookingId}`;
  if (seat.bookingId === null) return 'is SOLD without a booking';
  const booking = bookings.get(seat.bookingId);
  if (!booking) return `is SOLD to booking ${seat.bookingId}, which does not exist`;
  if (booking.state !== 'CONFIRMED') return `is SOLD to booking ${seat.bookingId}, which is ${booking.state}`;
  if (!listers.includes(seat.bookingId))
    return `is SOLD to booking ${seat.bookingId}, which does not list it`;
  return undefined;
}

// Rule 3.
function checkPools(node: NodeSnapshot, name: string): Violation[] {
  const violations: Violation[] = [];
  const booked = new Map<string, { places: number; items: { id: string; quantity: number }[] }>();
  for (const b of node.bookings) {
    if (b.state !== 'CONFIRMED') continue;
    for (const g of b.ga) {
      const key = seatKey(b.showId, g.areaId);
      const entry = booked.get(key) ?? { places: 0, items: [] };
      entry.places += g.quantity;
      entry.items.push({ id: b.id, quantity: g.quantity });
      booked.set(key, entry);
    }
  }
  const itemsText = (items: readonly { id: string; quantity: number }[]): string =>
    items.map((i) => `${i.id}×${i.quantity}`).join(', ');
  const seen = new Set<string>();
  for (const p of node.pools) {
    const key = seatKey(p.showId, p.areaId);
    seen.add(key);
    const where = `${name}: pool ${p.areaId} of show ${p.showId}`;
    const base = { rule: 3 as const, nodeId: node.nodeId, showId: p.showId, areaId: p.areaId };
    if (p.held < 0 || p.sold < 0)
      violations.push({
        ...base,
        kind: 'pool-counts',
        message: `${where} has a negative count (held ${p.held}, sold ${p.sold})`,
      });
    if (p.sold + p.held > p.capacity)
      violations.push({
        ...base,
        kind: 'pool-counts',
        message: `${where} is oversold: sold ${p.sold} + held ${p.held} = ${p.sold + p.held} > capacity ${p.capacity}`,
      });
    const entry = booked.get(key);
    const places = entry?.places ?? 0;
    if (p.sold !== places)
      violations.push({
        ...base,
        kind: 'pool-sold-mismatch',
        sold: p.sold,
        booked: places,
        message: `${where} has sold ${p.sold} but its confirmed bookings hold ${places} places${
          entry ? ` (${itemsText(entry.items)})` : ''
        }`,
      });
  }
  for (const [key, entry] of booked) {
    if (seen.has(key)) continue;
    const [showId, areaId] = JSON.parse(key) as [string, string];
    violations.push({
      rule: 3,
      kind: 'pool-missing',
      nodeId: node.nodeId,
      showId,
      areaId,
      bookingIds: entry.items.map((i) => i.id),
      message: `${name}: pool ${areaId} of show ${showId} does not exist but confirmed bookings hold ${
        entry.places
      } places in it (${itemsText(entry.items)})`,
    });
  }
  return violations;
}

// Rule 4.
function checkTerms(elections: readonly ElectionEvent[]): Violation[] {
  const byTerm = new Map<number, Set<number>>();
  for (const e of elections) {
    const masters = byTerm.get(e.term) ?? new Set<number>();
    masters.add(e.masterId);
    byTerm.set(e.term, masters);
  }
  const violations: Violation[] = [];
  for (const term of [...byTerm.keys()].sort((a, b) => a - b)) {
    const masterIds = [...byTerm.get(term)!].sort((a, b) => a - b);
    if (masterIds.length > 1)
      violations.push({
        rule: 4,
        kind: 'two-masters',
        term,
        masterIds,
        message: `term ${term} has ${masterIds.length} masters: ${masterIds.map((m) => `node ${m}`).join(', ')}`,
      });
  }
  return violations;
}

// Rule 5.
function checkConvergence(
  nodes: readonly NodeSnapshot[],
  reference: NodeSnapshot | undefined,
  masterId: number,
): Violation[] {
  if (!reference) return [];
  const violations: Violation[] = [];
  const referenceRows = canonicalTables(reference);
  const referenceName = nodeName(reference.nodeId, masterId);
  for (const node of nodes) {
    if (node === reference || node.checksum === reference.checksum) continue;
    const rows = canonicalTables(node);
    const tables: TableName[] = [];
    const details: string[] = [];
    for (const table of TABLES) {
      const diff = diffTable(table, referenceRows[table], rows[table], reference.nodeId, node.nodeId);
      if (diff.count === 0) continue;
      tables.push(table);
      details.push(
        `${table} differ in ${diff.count} row${diff.count === 1 ? '' : 's'} (${diff.samples.join('; ')}${
          diff.count > diff.samples.length ? '; …' : ''
        })`,
      );
    }
    const sums = `checksum ${short(node.checksum)} vs ${short(reference.checksum)}`;
    violations.push({
      rule: 5,
      kind: 'divergence',
      nodeId: node.nodeId,
      referenceId: reference.nodeId,
      tables,
      message:
        tables.length > 0
          ? `${nodeName(node.nodeId, masterId)}: state differs from ${referenceName} (${sums}): ${details.join('; ')}`
          : `${nodeName(node.nodeId, masterId)}: ${sums} of ${referenceName} differ, yet their snapshots' rows are equal (checksums over different data?)`,
    });
  }
  return violations;
}

const short = (checksum: string): string => checksum.slice(0, 12);

function diffTable(
  table: TableName,
  reference: ReadonlyMap<string, string>,
  other: ReadonlyMap<string, string>,
  referenceId: number,
  otherId: number,
): { count: number; samples: string[] } {
  const samples: string[] = [];
  let count = 0;
  const keys = [...new Set([...reference.keys(), ...other.keys()])].sort(compare);
  for (const key of keys) {
    const a = reference.get(key);
    const b = other.get(key);
    if (a === b) continue;
    count++;
    if (samples.length < 3)
      samples.push(
        `${describeKey(table, key)}: ${describeValue(table, a)} on node ${referenceId}, ${describeValue(
          table,
          b,
        )} on node ${otherId}`,
      );
  }
  return { count, samples };
}

/** A canonical key as a person would name the row. */
function describeKey(table: TableName, key: string): string {
  if (table === 'bookings') return `booking ${JSON.parse(key) as string}`;
  const [showId, id] = JSON.parse(key) as [string, string];
  return table === 'seats' ? `seat ${id} of show ${showId}` : `pool ${id} of show ${showId}`;
}

/** A canonical value (undefined: not in the canonical rows) as a person would read it. */
function describeValue(table: TableName, value: string | undefined): string {
  if (table === 'seats') {
    if (value === undefined) return 'FREE';
    const [state, bookingId] = JSON.parse(value) as [string, string | null];
    return bookingId === null ? state : `${state} to ${bookingId}`;
  }
  if (table === 'pools') {
    if (value === undefined) return 'nothing held or sold';
    const p = JSON.parse(value) as { capacity: number; held: number; sold: number };
    return `capacity ${p.capacity} held ${p.held} sold ${p.sold}`;
  }
  if (value === undefined) return 'absent';
  const b = JSON.parse(value) as { state: string; seats: string[]; ga: [string, number][] };
  const items = [...b.seats, ...b.ga.map(([areaId, quantity]) => `${areaId}×${quantity}`)];
  return `${b.state} [${items.join(', ')}]`;
}

const TABLES: readonly TableName[] = ['seats', 'pools', 'bookings'];

/**
 * The replicated state as canonical rows, key → value (both JSON), per table. What is left out, and why:
 * - FREE seats with no booking and pools with nothing held or sold: an untouched seat or pool means
 *   the same as an absent one, so neither enters the checksum. (Shows are materialised through the
 *   log now, on the master only; before, a slave that served a seat map copied the show by itself.)
 * - Times (held_until, created_at, cancelled_at, shows.materialized_at) and the node-local tables
 *   (idempotency, purged by each node's sweeper on its own schedule; users; payments, which mirror
 *   the processor rather than the inventory). The invariants are about who owns which seat and
 *   place; comparing clock readings would report nodes as diverged whenever a write was applied at
 *   a different instant, which says nothing about lost or doubled sales.
 * HELD seats stay in: holds are writes made on the master and replicated like sales, and a slave
 * that expired holds on its own would be a real divergence (its next applied entry assumes the
 * master's state).
 */
export function canonicalTables(
  snapshot: Pick<NodeSnapshot, 'seats' | 'pools' | 'bookings'>,
): Record<TableName, Map<string, string>> {
  const seats = new Map<string, string>();
  for (const s of snapshot.seats)
    if (s.state !== 'FREE' || s.bookingId !== null)
      seats.set(JSON.stringify([s.showId, s.seatId]), JSON.stringify([s.state, s.bookingId]));
  const pools = new Map<string, string>();
  for (const p of snapshot.pools)
    if (p.held !== 0 || p.sold !== 0)
      pools.set(
        JSON.stringify([p.showId, p.areaId]),
        JSON.stringify({ capacity: p.capacity, held: p.held, sold: p.sold }),
      );
  const bookings = new Map<string, string>();
  for (const b of snapshot.bookings)
    bookings.set(
      JSON.stringify(b.id),
      JSON.stringify({
        showId: b.showId,
        state: b.state,
        seats: [...b.seatIds].sort(compare),
        ga: sortedGa(b.ga).map((g) => [g.areaId, g.quantity]),
      }),
    );
  return { seats, pools, bookings };
}

/** SHA-256 (hex) of each table's canonical rows in key order. */
export function tableChecksums(
  snapshot: Pick<NodeSnapshot, 'seats' | 'pools' | 'bookings'>,
): Record<TableName, string> {
  const tables = canonicalTables(snapshot);
  const digest = (table: TableName): string => {
    const hash = createHash('sha256').update(`${table}\n`);
    for (const key of [...tables[table].keys()].sort(compare))
      hash.update(`${key}\t${tables[table].get(key)!}\n`);
    return hash.digest('hex');
  };
  return { seats: digest('seats'), pools: digest('pools'), bookings: digest('bookings') };
}

/** SHA-256 (hex) over the canonical replicated state (see canonicalTables for what it covers). */
export function stateChecksum(snapshot: Pick<NodeSnapshot, 'seats' | 'pools' | 'bookings'>): string {
  const tables = tableChecksums(snapshot);
  // Versioned so that a change of the canonical form can never compare equal to the old one.
  return createHash('sha256')
    .update(`marquee-booking-state-v1\n${TABLES.map((t) => `${t} ${tables[t]}`).join('\n')}\n`)
    .digest('hex');
}

interface SeatRow extends RowDataPacket {
  show_id: string;
  seat_id: string;
  state: SeatStateName;
  booking_id: string | null;
}

interface PoolRow extends RowDataPacket {
  show_id: string;
  area_id: string;
  capacity: number | string;
  held: number | string;
  sold: number | string;
}

interface BookingRow extends RowDataPacket {
  id: string;
  show_id: string;
  state: BookingStateName;
}

interface BookingItemRow extends RowDataPacket {
  booking_id: string;
  kind: 'SEAT' | 'GA';
  item_id: string;
  quantity: number | string;
}

/**
 * Reads one node's booking database (plain SELECTs) in one read-only transaction WITH CONSISTENT
 * SNAPSHOT, so a node that is still applying entries is never seen half-way through a transaction
 * (which would show false violations: a seat SOLD to a booking not yet visible). A booking's seats
 * and places are the items of its hold (bookings.hold_id → hold_items).
 */
export async function snapshotNode(pool: Pool, nodeId: number): Promise<NodeSnapshot> {
  const connection = await pool.getConnection();
  try {
    // Applies to the next transaction only, so the pooled connection keeps its own level afterwards.
    await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    try {
      const [seatRows] = await connection.query<SeatRow[]>(
        'SELECT show_id, seat_id, state, booking_id FROM seats ORDER BY show_id, seat_id',
      );
      const [poolRows] = await connection.query<PoolRow[]>(
        'SELECT show_id, area_id, capacity, held, sold FROM ga_pools ORDER BY show_id, area_id',
      );
      const [bookingRows] = await connection.query<BookingRow[]>(
        'SELECT id, show_id, state FROM bookings ORDER BY id',
      );
      const [itemRows] = await connection.query<BookingItemRow[]>(
        `SELECT b.id AS booking_id, i.kind, i.item_id, i.quantity
         FROM bookings b JOIN hold_items i ON i.hold_id = b.hold_id
         ORDER BY b.id, i.kind, i.item_id`,
      );
      await connection.query('COMMIT');
      const bookings = new Map<string, BookingSnapshot>();
      for (const b of bookingRows)
        bookings.set(b.id, { id: b.id, showId: b.show_id, state: b.state, seatIds: [], ga: [] });
      for (const item of itemRows) {
        const booking = bookings.get(item.booking_id);
        if (!booking) continue; // cannot happen: the join and the list are read in the same snapshot
        if (item.kind === 'SEAT') booking.seatIds.push(item.item_id);
        else booking.ga.push({ areaId: item.item_id, quantity: Number(item.quantity) });
      }
      for (const b of bookings.values()) {
        b.seatIds.sort(compare);
        b.ga = sortedGa(b.ga);
      }
      const data = {
        seats: seatRows.map((s) => ({
          showId: s.show_id,
          seatId: s.seat_id,
          state: s.state,
          bookingId: s.booking_id,
        })),
        pools: poolRows.map((p) => ({
          showId: p.show_id,
          areaId: p.area_id,
          capacity: Number(p.capacity),
          held: Number(p.held),
          sold: Number(p.sold),
        })),
        bookings: [...bookings.values()],
      };
      return { nodeId, ...data, checksum: stateChecksum(data) };
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined); // the original error is what matters
      throw error;
    }
  } finally {
    connection.release();
  }
}

/**
 * The checker's verdict for scripts: one line per violation, or one line saying all hold.
 * `counts` names what was checked, so a clean line says how much was actually compared.
 */
export function formatReport(
  violations: readonly Violation[],
  counts: { nodes: number; acknowledged: number },
): string {
  if (violations.length === 0)
    return `all invariants hold (${counts.nodes} node${counts.nodes === 1 ? '' : 's'}, ${
      counts.acknowledged
    } acknowledged booking${counts.acknowledged === 1 ? '' : 's'})`;
  return violations.map((v) => `VIOLATION rule ${v.rule} ${v.kind}: ${v.message}`).join('\n');
}

import { BOOKING_OPS } from '../domain/operations';
import type {
  BookingCancelledPayload,
  BookingConfirmedPayload,
  BookingOp,
  HoldCreatedPayload,
  HoldFreedPayload,
  IdempotencyRecord,
  ShowMaterializedPayload,
  UserRegisteredPayload,
} from '../domain/operations';
import { guardCheck, sql } from '../sql';
import type { Statement } from '../sql';

/*
 * The one applier: an operation → the statements that move the tables, used by the master's batch
 * (write/batcher.ts) and by every slave replaying the log (state-machine.ts) alike. Each relative
 * change is conditional and checked by a guard, so a table that disagrees with the decision fails
 * the whole transaction instead of being half-written (no trust in isolation levels). An op's
 * changes run once: they sit in one compound statement behind the test of the op's own transition
 * (hold inserted, hold still ACTIVE, booking inserted, booking still CONFIRMED), so applying an
 * entry again changes nothing (DESIGN.md: applying is idempotent). The domain's evolve()
 * (domain/state.ts) is the in-memory twin of this file.
 */

/** A change, and how many rows it must change (checked by a guard) when that is known. */
interface Step {
  statement: Statement;
  expect?: { rows: number; tag: string };
}

/** `steps` as one compound statement that runs them only while `pending` (a condition) holds. */
function once(pending: Statement, steps: readonly Step[]): Statement {
  const parts: Statement[] = [sql('BEGIN NOT ATOMIC IF'), pending, sql('THEN')];
  for (const step of steps) {
    parts.push(sql(`${step.statement.sql};`, ...(step.statement.values ?? [])));
    if (step.expect) parts.push(guardCheck(step.expect.rows, step.expect.tag));
  }
  parts.push(sql('END IF; END'));
  return sql(parts.map((p) => p.sql).join(' '), ...parts.flatMap((p) => p.values ?? []));
}

export function applyStatements(op: BookingOp): Statement[] {
  switch (op.op) {
    case BOOKING_OPS.holdCreated:
      return holdCreated(op.payload);
    case BOOKING_OPS.holdReleased:
      return holdFreed(op.payload, 'RELEASED');
    case BOOKING_OPS.holdExpired:
      return holdFreed(op.payload, 'EXPIRED');
    case BOOKING_OPS.bookingConfirmed:
      return bookingConfirmed(op.payload);
    case BOOKING_OPS.bookingCancelled:
      return bookingCancelled(op.payload);
    case BOOKING_OPS.userRegistered:
      return userRegistered(op.payload);
    case BOOKING_OPS.idempotencyStored:
      return idempotency(op.payload.idempotency);
    case BOOKING_OPS.showMaterialized:
      return showMaterialized(op.payload);
  }
}

/** The op of a log entry, checked by name (its payload is trusted: the master wrote it). */
export function opOfEntry(op: string, payload: string): BookingOp {
  if (!(Object.values(BOOKING_OPS) as string[]).includes(op))
    throw new Error(`booking applier: unknown op ${JSON.stringify(op)}`);
  return { op, payload: JSON.parse(payload) as unknown } as BookingOp;
}

/** Upserted, not inserted: keys are purged per node, so a reused key may still be here on a slave. */
function idempotency(record: IdempotencyRecord | undefined): Statement[] {
  if (!record) return [];
  return [
    sql(
      `INSERT INTO idempotency (user_id, \`key\`, method, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE method = VALUES(method), request_hash = VALUES(request_hash),
         response = VALUES(response), created_at = VALUES(created_at)`,
      record.userId,
      record.key,
      record.method,
      Buffer.from(record.requestHash, 'base64'),
      record.response === null ? null : Buffer.from(record.response, 'base64'),
      record.createdAt,
    ),
  ];
}

const seatIdsOf = (items: readonly { kind: string; itemId: string }[]): string[] =>
  items.filter((i) => i.kind === 'SEAT').map((i) => i.itemId);

function holdCreated(p: HoldCreatedPayload): Statement[] {
  const { hold, items } = p;
  const steps: Step[] = [
    {
      statement: sql(
        `INSERT INTO holds (id, user_id, show_id, state, total_cents, currency, expires_at, created_at)
         VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?)`,
        hold.id,
        hold.userId,
        hold.showId,
        hold.totalCents,
        hold.currency,
        hold.expiresAt,
        hold.createdAt,
      ),
    },
  ];
  if (items.length > 0)
    steps.push({
      statement: sql(
        'INSERT INTO hold_items (hold_id, kind, item_id, label, quantity, amount_cents) VALUES ?',
        items.map((i) => [hold.id, i.kind, i.itemId, i.label, i.quantity, i.amountCents]),
      ),
    });
  const seatIds = seatIdsOf(items);
  if (seatIds.length > 0)
    steps.push({
      // FREE, or held by a hold that had lapsed when this one was made.
      statement: sql(
        `UPDATE seats SET state = 'HELD', hold_id = ?, held_until = ?, booking_id = NULL
         WHERE show_id = ? AND seat_id IN (?) AND (state = 'FREE' OR (state = 'HELD' AND held_until <= ?))`,
        hold.id,
        hold.expiresAt,
        hold.showId,
        seatIds,
        hold.createdAt,
      ),
      expect: { rows: seatIds.length, tag: 'seats' },
    });
  for (const g of items)
    if (g.kind === 'GA')
      steps.push({
        statement: sql(
          'UPDATE ga_pools SET held = held + ? WHERE show_id = ? AND area_id = ? AND sold + held + ? <= capacity',
          g.quantity,
          hold.showId,
          g.itemId,
          g.quantity,
        ),
        expect: { rows: 1, tag: `ga:${g.itemId}` },
      });
  return [
    once(sql('NOT EXISTS (SELECT 1 FROM holds WHERE id = ?)', hold.id), steps),
    ...idempotency(p.idempotency),
  ];
}

function holdFreed(p: HoldFreedPayload, state: 'RELEASED' | 'EXPIRED'): Statement[] {
  const steps: Step[] = [
    { statement: sql("UPDATE holds SET state = ? WHERE id = ? AND state = 'ACTIVE'", state, p.holdId) },
  ];
  const seatIds = seatIdsOf(p.items);
  if (seatIds.length > 0)
    steps.push({
      // Only seats still held by this hold: a lapsed hold's seats may belong to a newer hold by now.
      statement: sql(
        `UPDATE seats SET state = 'FREE', hold_id = NULL, held_until = NULL
         WHERE show_id = ? AND seat_id IN (?) AND hold_id = ? AND state = 'HELD'`,
        p.showId,
        seatIds,
        p.holdId,
      ),
    });
  for (const g of p.items)
    if (g.kind === 'GA')
      steps.push({
        statement: sql(
          'UPDATE ga_pools SET held = held - ? WHERE show_id = ? AND area_id = ? AND held >= ?',
          g.quantity,
          p.showId,
          g.itemId,
          g.quantity,
        ),
        expect: { rows: 1, tag: `ga:${g.itemId}` },
      });
  return [
    once(sql("EXISTS (SELECT 1 FROM holds WHERE id = ? AND state = 'ACTIVE')", p.holdId), steps),
    ...idempotency(p.idempotency),
  ];
}

function bookingConfirmed(p: BookingConfirmedPayload): Statement[] {
  const b = p.booking;
  const steps: Step[] = [
    {
      statement: sql(
        `INSERT INTO bookings (id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, created_at)
         VALUES (?, ?, ?, ?, 'CONFIRMED', ?, ?, ?, ?)`,
        b.id,
        b.userId,
        b.showId,
        b.holdId,
        b.totalCents,
        b.currency,
        b.paymentId,
        b.createdAt,
      ),
    },
    {
      statement: sql(
        "UPDATE holds SET state = 'CONFIRMED', booking_id = ? WHERE id = ? AND state = 'ACTIVE'",
        b.id,
        b.holdId,
      ),
      expect: { rows: 1, tag: 'hold' },
    },
  ];
  if (p.seatIds.length > 0)
    steps.push({
      statement: sql(
        `UPDATE seats SET state = 'SOLD', booking_id = ?, hold_id = NULL, held_until = NULL
         WHERE show_id = ? AND seat_id IN (?) AND hold_id = ? AND state = 'HELD'`,
        b.id,
        b.showId,
        p.seatIds,
        b.holdId,
      ),
      expect: { rows: p.seatIds.length, tag: 'seats' },
    });
  for (const g of p.ga)
    steps.push({
      statement: sql(
        'UPDATE ga_pools SET held = held - ?, sold = sold + ? WHERE show_id = ? AND area_id = ? AND held >= ?',
        g.quantity,
        g.quantity,
        b.showId,
        g.areaId,
        g.quantity,
      ),
      expect: { rows: 1, tag: `ga:${g.areaId}` },
    });
  steps.push({
    statement: sql(
      `INSERT INTO payments (id, kind, booking_id, user_id, amount_cents, currency, card_last4, created_at)
       VALUES (?, 'CHARGE', ?, ?, ?, ?, ?, ?)`,
      b.paymentId,
      b.id,
      b.userId,
      b.totalCents,
      b.currency,
      p.cardLast4,
      b.createdAt,
    ),
  });
  return [
    once(sql('NOT EXISTS (SELECT 1 FROM bookings WHERE id = ?)', b.id), steps),
    ...idempotency(p.idempotency),
  ];
}

function bookingCancelled(p: BookingCancelledPayload): Statement[] {
  const steps: Step[] = [
    {
      statement: sql(
        "UPDATE bookings SET state = 'CANCELLED', refund_id = ?, cancelled_at = ? WHERE id = ? AND state = 'CONFIRMED'",
        p.refundId,
        p.cancelledAt,
        p.bookingId,
      ),
    },
  ];
  if (p.seatIds.length > 0)
    steps.push({
      statement: sql(
        `UPDATE seats SET state = 'FREE', booking_id = NULL
         WHERE show_id = ? AND seat_id IN (?) AND booking_id = ? AND state = 'SOLD'`,
        p.showId,
        p.seatIds,
        p.bookingId,
      ),
      expect: { rows: p.seatIds.length, tag: 'seats' },
    });
  for (const g of p.ga)
    steps.push({
      statement: sql(
        'UPDATE ga_pools SET sold = sold - ? WHERE show_id = ? AND area_id = ? AND sold >= ?',
        g.quantity,
        p.showId,
        g.areaId,
        g.quantity,
      ),
      expect: { rows: 1, tag: `ga:${g.areaId}` },
    });
  steps.push({
    statement: sql(
      `INSERT INTO payments (id, kind, booking_id, user_id, amount_cents, currency, charge_id, created_at)
       VALUES (?, 'REFUND', ?, ?, ?, ?, ?, ?)`,
      p.refundId,
      p.bookingId,
      p.userId,
      p.amountCents,
      p.currency,
      p.chargeId,
      p.cancelledAt,
    ),
  });
  return [
    once(sql("EXISTS (SELECT 1 FROM bookings WHERE id = ? AND state = 'CONFIRMED')", p.bookingId), steps),
    ...idempotency(p.idempotency),
  ];
}

function userRegistered(p: UserRegisteredPayload): Statement[] {
  const u = p.user;
  return [
    sql(
      `INSERT INTO users (id, email, display_name, password_hash, password_salt, password_params, role, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE display_name = VALUES(display_name), password_hash = VALUES(password_hash),
         password_salt = VALUES(password_salt), password_params = VALUES(password_params), role = VALUES(role)`,
      u.id,
      u.email,
      u.displayName,
      Buffer.from(u.passwordHash, 'base64'),
      Buffer.from(u.passwordSalt, 'base64'),
      u.passwordParams,
      u.role,
      u.createdAt,
    ),
    ...idempotency(p.idempotency),
  ];
}

const SHOW_ROWS_PER_STATEMENT = 500;

/** Rows of the catalog's show, as the master read them; IGNORE: two nodes may have materialised it. */
function showMaterialized(p: ShowMaterializedPayload): Statement[] {
  const { show } = p;
  const statements = [
    sql(
      'INSERT IGNORE INTO shows (show_id, currency, starts_at, materialized_at) VALUES (?, ?, ?, ?)',
      show.showId,
      show.currency,
      show.startsAt,
      show.materializedAt,
    ),
  ];
  for (let i = 0; i < p.seats.length; i += SHOW_ROWS_PER_STATEMENT)
    statements.push(
      sql(
        'INSERT IGNORE INTO seats (show_id, seat_id, position, label, price_tier, amount_cents) VALUES ?',
        p.seats.slice(i, i + SHOW_ROWS_PER_STATEMENT).map((s) => [show.showId, ...s]),
      ),
    );
  if (p.pools.length > 0)
    statements.push(
      sql(
        'INSERT IGNORE INTO ga_pools (show_id, area_id, position, name, price_tier, amount_cents, capacity) VALUES ?',
        p.pools.map((pool) => [show.showId, ...pool]),
      ),
    );
  return statements;
}

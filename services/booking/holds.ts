import { Hold } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import { AbortedError, FailedPreconditionError, NotFoundError } from '../common/errors';
import { newId } from '../common/ids';
import type { Logger } from '../common/logger';
import type { Pool } from '../common/mysql';
import { answerStatement, claimStatement } from './idempotency';
import type { IdempotencyScope } from './idempotency';
import type { ShowCatalog } from './inventory';
import type { PaymentProcessor } from './payments';
import { BOOKING_OPS, idempotencyRecord, itemRecords } from './domain/operations';
import { acknowledge, appendOp } from './replication';
import type { BookingReplication } from './replication';
import { HOLD_COLUMNS, ITEM_COLUMNS, assertOwnerOrAdmin, holdToProto } from './records';
import type { HoldRow, ItemRow } from './records';
import { affected, failedGuard, guard, queryRows, rows, sql, sqlTime, transact } from './sql';
import type { Statement, Tx } from './sql';

/** What the store functions share. */
export interface StoreContext {
  pool: Pool;
  clock: () => number;
  holdTtlSeconds: number;
  payments: PaymentProcessor;
  logger: Logger;
  /** When present, every write appends its log entry and waits for the ack policy (replication.ts). */
  replication?: BookingReplication;
}

export interface HoldRequest {
  showId: string;
  seatIds: readonly string[];
  ga: readonly { areaId: string; quantity: number }[];
}

/**
 * The hold a request would create, computed from the cached show (pure): unknown seats or areas
 * are NOT_FOUND naming the field, prices come from the materialized show.
 */
export function planHold(
  catalog: ShowCatalog,
  request: HoldRequest,
  holdId: string,
  nowMs: number,
  ttlSeconds: number,
): { hold: Hold; items: ItemRow[] } {
  const items: ItemRow[] = [];
  request.seatIds.forEach((seatId, i) => {
    const seat = catalog.seats.get(seatId);
    if (!seat) throw new NotFoundError(`seat of show ${catalog.showId}`, seatId, `seat_ids[${i}]`);
    items.push({
      hold_id: holdId,
      kind: 'SEAT',
      item_id: seatId,
      label: seat.label,
      quantity: 1,
      amount_cents: seat.amountCents,
    });
  });
  request.ga.forEach((g, i) => {
    const pool = catalog.pools.get(g.areaId);
    if (!pool)
      throw new NotFoundError(
        `general-admission area of show ${catalog.showId}`,
        g.areaId,
        `ga[${i}].area_id`,
      );
    items.push({
      hold_id: holdId,
      kind: 'GA',
      item_id: g.areaId,
      label: pool.name,
      quantity: g.quantity,
      amount_cents: pool.amountCents,
    });
  });
  const row: HoldRow = {
    id: holdId,
    user_id: '',
    show_id: catalog.showId,
    state: 'ACTIVE',
    total_cents: items.reduce((sum, item) => sum + item.amount_cents * item.quantity, 0),
    currency: catalog.currency,
    expires_at: new Date(nowMs + ttlSeconds * 1000),
    booking_id: null,
  };
  return { hold: holdToProto(row, items), items };
}

/** A GA pool lacked room; internal, turned into FAILED_PRECONDITION after lapsed holds are released. */
class PoolShort extends Error {
  constructor(readonly areaIds: string[]) {
    super(`pools short: ${areaIds.join(', ')}`);
  }
}

function subject(request: HoldRequest): string {
  const names = [...request.seatIds.map((s) => `seat ${s}`), ...request.ga.map((g) => `area ${g.areaId}`)];
  return names.join(', ');
}

/**
 * Holds seats and GA places, all or nothing, in one transaction and one round trip:
 * [START, claim key, conditional UPDATEs each checked by a guard, INSERT hold and items, COMMIT];
 * a failed guard stops the batch before COMMIT and the transaction is rolled back.
 * Seats are taken only if FREE or held by a lapsed hold; pools only if sold+held+q <= capacity.
 * The counts of affected rows decide, not the isolation level.
 */
export async function createHold(
  ctx: StoreContext,
  principal: Principal,
  scope: IdempotencyScope,
  catalog: ShowCatalog,
  request: HoldRequest,
): Promise<Hold> {
  const now = ctx.clock();
  const holdId = newId('hold');
  const { hold, items } = planHold(catalog, request, holdId, now, ctx.holdTtlSeconds);
  const response = Buffer.from(Hold.encode(hold).finish());
  const nowSql = sqlTime(now);
  const until = sqlTime(now + ctx.holdTtlSeconds * 1000);
  const { showId, seatIds, ga } = request;

  const attempt = (): Promise<{ hold: Hold; index: number | undefined }> =>
    transact(
      ctx.pool,
      () => subject(request),
      async (tx) => {
        const statements: Statement[] = [claimStatement(scope, now, response)];
        if (seatIds.length > 0) {
          statements.push(
            sql(
              `UPDATE seats SET state = 'HELD', hold_id = ?, held_until = ?, booking_id = NULL
               WHERE show_id = ? AND seat_id IN (?) AND (state = 'FREE' OR (state = 'HELD' AND held_until <= ?))`,
              holdId,
              until,
              showId,
              seatIds,
              nowSql,
            ),
            guard(seatIds.length, 'seats'),
          );
        }
        ga.forEach((g, i) => {
          statements.push(
            sql(
              'UPDATE ga_pools SET held = held + ? WHERE show_id = ? AND area_id = ? AND sold + held + ? <= capacity',
              g.quantity,
              showId,
              g.areaId,
              g.quantity,
            ),
            guard(1, `ga:${i}`),
          );
        });
        statements.push(
          sql(
            `INSERT INTO holds (id, user_id, show_id, state, total_cents, currency, expires_at, created_at) VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?)`,
            holdId,
            principal.userId,
            showId,
            hold.totalCents,
            hold.currency,
            until,
            nowSql,
          ),
          sql(
            `INSERT INTO hold_items (${ITEM_COLUMNS}) VALUES ?`,
            items.map((i) => [i.hold_id, i.kind, i.item_id, i.label, i.quantity, i.amount_cents]),
          ),
        );
        try {
          // One round trip: START, claim, conditional updates each followed by its guard, inserts, COMMIT.
          // Replicated: the same batch without COMMIT, then the log entry together with COMMIT.
          if (ctx.replication) await tx.run(...statements);
          else await tx.commit(...statements);
        } catch (error) {
          const failed = failedGuard(error);
          if (failed === 'seats') throw await seatsTaken(tx, showId, holdId, seatIds, now);
          if (failed?.startsWith('ga:')) throw new PoolShort([ga[Number(failed.slice(3))]!.areaId]);
          throw error;
        }
        const index = await appendOp(ctx.replication, tx, {
          op: BOOKING_OPS.holdCreated,
          payload: {
            hold: {
              id: holdId,
              userId: principal.userId,
              showId,
              totalCents: hold.totalCents,
              currency: hold.currency,
              expiresAt: until,
              createdAt: nowSql,
            },
            items: itemRecords(items),
            idempotency: idempotencyRecord(scope, now, response),
          },
        });
        return { hold, index };
      },
    );

  for (let round = 0; ; round++) {
    try {
      const { hold, index } = await attempt();
      await acknowledge(ctx.replication, index);
      return hold;
    } catch (error) {
      if (!(error instanceof PoolShort)) throw error;
      // Places held by lapsed holds come back first (each released once, by whoever gets there).
      if (round < 2 && (await expireDueHolds(ctx, showId, error.areaIds)) > 0) continue;
      throw await poolsShort(ctx.pool, showId, error.areaIds, ga);
    }
  }
}

async function seatsTaken(
  tx: Tx,
  showId: string,
  holdId: string,
  seatIds: readonly string[],
  now: number,
): Promise<Error> {
  // Still inside the failed transaction: the seats the UPDATE could claim are held by `holdId` now
  // (rolled back after this). They were free, so they are not what blocked the hold.
  const [found] = await tx.run(
    sql(
      'SELECT seat_id, state, held_until FROM seats WHERE show_id = ? AND seat_id IN (?) AND NOT (hold_id <=> ?)',
      showId,
      seatIds,
      holdId,
    ),
  );
  const problems: string[] = [];
  const taken: string[] = [];
  for (const seat of rows<{ seat_id: string; state: string; held_until: Date | null }>(found)) {
    if (seat.state === 'SOLD') problems.push(`seat ${seat.seat_id} is already sold`);
    else if (seat.state === 'HELD' && seat.held_until !== null && seat.held_until.getTime() > now)
      problems.push(`seat ${seat.seat_id} is already held`);
    else continue;
    taken.push(seat.seat_id);
  }
  if (taken.length === 0)
    return new AbortedError(
      `seats ${seatIds.join(', ')} changed while being held; retry with the same idempotency key`,
    );
  return new FailedPreconditionError(problems.join('; '), { seat_ids: taken.join(',') });
}

async function poolsShort(
  pool: Pool,
  showId: string,
  areaIds: string[],
  ga: HoldRequest['ga'],
): Promise<Error> {
  const found = await queryRows<{ area_id: string; remaining: number }>(
    pool,
    'SELECT area_id, capacity - held - sold AS remaining FROM ga_pools WHERE show_id = ? AND area_id IN (?)',
    showId,
    areaIds,
  );
  const problems = found.map((p) => {
    const asked = ga.find((g) => g.areaId === p.area_id)?.quantity ?? 0;
    return `area ${p.area_id} has only ${Math.max(0, Number(p.remaining))} places left (asked for ${asked})`;
  });
  return new FailedPreconditionError(problems.join('; ') || `areas ${areaIds.join(', ')} are full`, {
    area_ids: areaIds.join(','),
  });
}

/** Statements giving a hold's seats and places back (seats only while still held by this hold). */
export function freeStatements(showId: string, holdId: string, items: readonly ItemRow[]): Statement[] {
  const statements: Statement[] = [];
  const seatIds = items.filter((i) => i.kind === 'SEAT').map((i) => i.item_id);
  if (seatIds.length > 0) {
    statements.push(
      sql(
        "UPDATE seats SET state = 'FREE', hold_id = NULL, held_until = NULL WHERE show_id = ? AND seat_id IN (?) AND hold_id = ? AND state = 'HELD'",
        showId,
        seatIds,
        holdId,
      ),
    );
  }
  for (const item of items) {
    if (item.kind === 'GA')
      statements.push(
        sql(
          'UPDATE ga_pools SET held = held - ? WHERE show_id = ? AND area_id = ?',
          item.quantity,
          showId,
          item.item_id,
        ),
      );
  }
  return statements;
}

/**
 * Expires one lapsed hold. The conditional UPDATE on the hold is what makes concurrent expirers
 * (sweeper, lazy GA path, another node) safe: only the one that flips ACTIVE → EXPIRED frees anything.
 */
export async function expireHold(ctx: StoreContext, holdId: string): Promise<boolean> {
  const now = sqlTime(ctx.clock());
  const { expired, index } = await transact(
    ctx.pool,
    () => `hold ${holdId}`,
    async (tx) => {
      const [flipped, holdRows, itemRows] = await tx.run(
        sql(
          "UPDATE holds SET state = 'EXPIRED' WHERE id = ? AND state = 'ACTIVE' AND expires_at <= ?",
          holdId,
          now,
        ),
        sql('SELECT show_id FROM holds WHERE id = ?', holdId),
        sql(`SELECT ${ITEM_COLUMNS} FROM hold_items WHERE hold_id = ?`, holdId),
      );
      const showId = rows<{ show_id: string }>(holdRows)[0]?.show_id;
      if (affected(flipped) !== 1 || showId === undefined) return { expired: false, index: undefined };
      const items = rows<ItemRow>(itemRows);
      if (!ctx.replication) {
        await tx.commit(...freeStatements(showId, holdId, items));
        return { expired: true, index: undefined };
      }
      await tx.run(...freeStatements(showId, holdId, items));
      const index = await appendOp(ctx.replication, tx, {
        op: BOOKING_OPS.holdExpired,
        payload: { holdId, showId, items: itemRecords(items) },
      });
      return { expired: true, index };
    },
  );
  await acknowledge(ctx.replication, index);
  return expired;
}

/** Expires the lapsed holds of a show that hold places in `areaIds`; returns how many were lapsed (all released now). */
export async function expireDueHolds(
  ctx: StoreContext,
  showId: string,
  areaIds: readonly string[],
): Promise<number> {
  const due = await queryRows<{ id: string }>(
    ctx.pool,
    `SELECT DISTINCT h.id FROM holds h JOIN hold_items i ON i.hold_id = h.id
     WHERE h.show_id = ? AND h.state = 'ACTIVE' AND h.expires_at <= ? AND i.kind = 'GA' AND i.item_id IN (?) LIMIT 100`,
    showId,
    sqlTime(ctx.clock()),
    areaIds,
  );
  // Count every lapsed hold found, not only those this call expired: when a concurrent sweeper got
  // there first, expireHold waited for its row lock until it committed, so the places are back
  // either way and the caller's retry can take them.
  for (const { id } of due) await expireHold(ctx, id);
  return due.length;
}

/** Expires up to `limit` lapsed holds of any show (the sweeper's work). */
export async function expireLapsedHolds(ctx: StoreContext, limit: number): Promise<number> {
  const due = await queryRows<{ id: string }>(
    ctx.pool,
    "SELECT id FROM holds WHERE state = 'ACTIVE' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    sqlTime(ctx.clock()),
    limit,
  );
  let expired = 0;
  for (const { id } of due) if (await expireHold(ctx, id)) expired++;
  return expired;
}

/** Gives an ACTIVE hold back (owner or admin). */
export async function releaseHold(
  ctx: StoreContext,
  principal: Principal,
  scope: IdempotencyScope,
  holdId: string,
): Promise<Hold> {
  const now = ctx.clock();
  const { hold, index } = await transact(
    ctx.pool,
    () => `hold ${holdId}`,
    async (tx) => {
      const [, holdRows, itemRows] = await tx.run(
        claimStatement(scope, now, null),
        sql(`SELECT ${HOLD_COLUMNS} FROM holds WHERE id = ? FOR UPDATE`, holdId),
        sql(`SELECT ${ITEM_COLUMNS} FROM hold_items WHERE hold_id = ?`, holdId),
      );
      const row = rows<HoldRow>(holdRows)[0];
      if (!row) throw new NotFoundError('hold', holdId, 'hold_id');
      assertOwnerOrAdmin(principal, row.user_id, `hold ${holdId}`, 'hold_id');
      if (row.state !== 'ACTIVE')
        throw new FailedPreconditionError(`hold ${holdId} is already ${row.state.toLowerCase()}`);
      const items = rows<ItemRow>(itemRows);
      const hold = holdToProto(row, items, 'RELEASED');
      const answer = Buffer.from(Hold.encode(hold).finish());
      const statements = [
        sql("UPDATE holds SET state = 'RELEASED' WHERE id = ? AND state = 'ACTIVE'", holdId),
        ...freeStatements(row.show_id, holdId, items),
        answerStatement(scope, answer),
      ];
      if (!ctx.replication) {
        await tx.commit(...statements);
        return { hold, index: undefined };
      }
      await tx.run(...statements);
      const index = await appendOp(ctx.replication, tx, {
        op: BOOKING_OPS.holdReleased,
        payload: {
          holdId,
          showId: row.show_id,
          items: itemRecords(items),
          idempotency: idempotencyRecord(scope, now, answer),
        },
      });
      return { hold, index };
    },
  );
  await acknowledge(ctx.replication, index);
  return hold;
}

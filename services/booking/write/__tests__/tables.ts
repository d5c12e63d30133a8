import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { migrate, openDatabase } from '../../../common/mysql';
import type { Pool, PoolConnection } from '../../../common/mysql';
import { testMysqlUrl } from '../../../../test/databases';
import type { ItemRecord } from '../../domain/operations';
import type { BookingState } from '../../domain/state';
import { BOOKING_SCHEMA } from '../../schema';
import { rows, send, sql } from '../../sql';
import type { Result } from '../../sql';

/*
 * The booking tables for the write path's tests: a fresh database on the test MariaDB opened as
 * production opens it (multipleStatements: a batch is one round trip), and its rows read back in the
 * shape of the domain's in-memory view, so the tables and a BookingState can be compared as values.
 */

export interface Database {
  pool: Pool;
  drop(): Promise<void>;
}

export async function bookingDatabase(prefix: string): Promise<Database> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const pool = await openDatabase(testMysqlUrl(), name, 4, { multipleStatements: true });
  await migrate(pool, BOOKING_SCHEMA);
  return {
    pool,
    drop: async () => {
      await pool.end();
      const admin = await mysql.createConnection(testMysqlUrl());
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}

const TABLES = [
  'users',
  'shows',
  'seats',
  'ga_pools',
  'holds',
  'hold_items',
  'bookings',
  'payments',
  'idempotency',
] as const;

/** Empties every booking table (between property runs: cheaper than a database per run). */
export async function clearTables(pool: Pool): Promise<void> {
  await pool.query(TABLES.map((t) => `DELETE FROM ${t}`).join(';\n'));
}

/** Every row of every booking table, in primary-key order, in one round trip (raw driver values). */
export async function dumpTables(connection: PoolConnection): Promise<Record<string, unknown[]>> {
  const results = await send(
    connection,
    TABLES.map((t) => sql(`SELECT * FROM ${t} ORDER BY 1, 2, 3`)),
  );
  return Object.fromEntries(TABLES.map((t, i) => [t, rows<unknown>(results[i])]));
}

/** What the domain's view holds, as plain comparable values (items sorted, times in epoch ms). */
export interface View {
  seats: unknown[];
  pools: unknown[];
  holds: unknown[];
  bookings: unknown[];
  keys: unknown[];
  payments: unknown[];
}

const sortItems = (items: readonly ItemRecord[]): ItemRecord[] =>
  [...items].map((i) => ({ ...i })).sort((a, b) => (a.kind + a.itemId < b.kind + b.itemId ? -1 : 1));

const byFirst = (a: unknown[], b: unknown[]): number =>
  String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0;

/** The in-memory state as a View; payments are what its bookings imply (a charge each, a refund each cancel). */
export function viewOfState(state: BookingState): View {
  const bookings = [...state.bookings.values()];
  return {
    seats: [...state.seats.values()]
      .map((s) => [
        `${s.showId}/${s.seatId}`,
        s.label,
        s.amountCents,
        s.state,
        s.holdId,
        s.heldUntil,
        s.bookingId,
      ])
      .sort(byFirst),
    pools: [...state.pools.values()]
      .map((p) => [`${p.showId}/${p.areaId}`, p.name, p.amountCents, p.capacity, p.held, p.sold])
      .sort(byFirst),
    holds: [...state.holds.values()]
      .map((h) => [
        h.id,
        h.userId,
        h.showId,
        h.state,
        h.totalCents,
        h.currency,
        h.expiresAt,
        h.createdAt,
        h.bookingId,
        sortItems(h.items),
      ])
      .sort(byFirst),
    bookings: bookings
      .map((b) => [
        b.id,
        b.userId,
        b.showId,
        b.holdId,
        b.state,
        b.totalCents,
        b.currency,
        b.paymentId,
        b.refundId,
        b.createdAt,
        b.cancelledAt,
        sortItems(b.items),
      ])
      .sort(byFirst),
    keys: [...state.keys.values()]
      .map((k) => [`${k.userId}/${k.key}`, k.method, k.requestHash, k.response])
      .sort(byFirst),
    payments: bookings
      .flatMap((b) => [
        [b.paymentId, 'CHARGE', b.id, b.userId, b.totalCents, null],
        ...(b.refundId === null ? [] : [[b.refundId, 'REFUND', b.id, b.userId, b.totalCents, b.paymentId]]),
      ])
      .sort(byFirst),
  };
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const b64 = (b: Buffer | null): string | null => (b === null ? null : b.toString('base64'));

/** The tables as a View, read outside any transaction. */
export async function viewOfTables(pool: Pool): Promise<View> {
  const connection = await pool.getConnection();
  let results: Result[];
  try {
    results = await send(connection, [
      sql('SELECT * FROM seats'),
      sql('SELECT * FROM ga_pools'),
      sql('SELECT * FROM holds'),
      sql('SELECT * FROM hold_items'),
      sql('SELECT * FROM bookings'),
      sql('SELECT * FROM idempotency'),
      sql('SELECT * FROM payments'),
    ]);
  } finally {
    connection.release();
  }
  type Row = Record<string, unknown>;
  const [seats, pools, holds, items, bookings, keys, payments] = results.map((r) => rows<Row>(r));
  const itemsOf = new Map<string, ItemRecord[]>();
  for (const i of items!) {
    const list = itemsOf.get(i.hold_id as string) ?? [];
    list.push({
      kind: i.kind as ItemRecord['kind'],
      itemId: i.item_id as string,
      label: i.label as string,
      quantity: Number(i.quantity),
      amountCents: Number(i.amount_cents),
    });
    itemsOf.set(i.hold_id as string, list);
  }
  return {
    seats: seats!
      .map((s) => [
        `${s.show_id as string}/${s.seat_id as string}`,
        s.label,
        Number(s.amount_cents),
        s.state,
        s.hold_id,
        ms(s.held_until as Date | null),
        s.booking_id,
      ])
      .sort(byFirst),
    pools: pools!
      .map((p) => [
        `${p.show_id as string}/${p.area_id as string}`,
        p.name,
        Number(p.amount_cents),
        Number(p.capacity),
        Number(p.held),
        Number(p.sold),
      ])
      .sort(byFirst),
    holds: holds!
      .map((h) => [
        h.id,
        h.user_id,
        h.show_id,
        h.state,
        Number(h.total_cents),
        h.currency,
        ms(h.expires_at as Date),
        ms(h.created_at as Date),
        h.booking_id,
        sortItems(itemsOf.get(h.id as string) ?? []),
      ])
      .sort(byFirst),
    bookings: bookings!
      .map((b) => [
        b.id,
        b.user_id,
        b.show_id,
        b.hold_id,
        b.state,
        Number(b.total_cents),
        b.currency,
        b.payment_id,
        b.refund_id,
        ms(b.created_at as Date),
        ms(b.cancelled_at as Date | null),
        sortItems(itemsOf.get(b.hold_id as string) ?? []),
      ])
      .sort(byFirst),
    keys: keys!
      .map((k) => [
        `${k.user_id as string}/${k.key as string}`,
        k.method,
        b64(k.request_hash as Buffer),
        b64(k.response as Buffer | null),
      ])
      .sort(byFirst),
    payments: payments!
      .map((p) => [p.id, p.kind, p.booking_id, p.user_id, Number(p.amount_cents), p.charge_id])
      .sort(byFirst),
  };
}

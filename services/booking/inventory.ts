import type { RowDataPacket } from 'mysql2/promise';
import type { Logger } from '../common/logger';
import type { Pool } from '../common/mysql';
import { UnavailableError } from '../common/errors';
import { MasterOnlyError } from './replication';
import type { ShowInventory, ShowSource } from './show-source';
import { sqlTime } from './sql';
import type { WriteBatcher } from './write/batcher';

export interface SeatInfo {
  label: string;
  priceTier: string;
  amountCents: number;
}

export interface PoolInfo {
  name: string;
  priceTier: string;
  amountCents: number;
  capacity: number;
}

/** The immutable part of a materialized show: what exists and what it costs. States live in MySQL. */
export interface ShowCatalog {
  showId: string;
  currency: string;
  seats: ReadonlyMap<string, SeatInfo>;
  pools: ReadonlyMap<string, PoolInfo>;
}

/**
 * Makes a catalog show bookable with no manual step: the first access fetches it from the
 * ShowSource and copies its seats and pools into our database (one write, decided once: concurrent
 * first accesses leave exactly one copy). After that the show's static data is cached
 * in process: a hold checks seat ids and prices without a query. A show is materialized once; later
 * catalog edits do not change what is already on sale. With replication only the master
 * materializes, as a replicated write; a slave gets the show from the log, and before that refuses
 * with MasterOnlyError (the forwarder then asks the master).
 */
export class Inventory {
  private readonly cache = new Map<string, Promise<ShowCatalog>>();

  constructor(
    private readonly pool: Pool,
    private readonly source: ShowSource,
    private readonly clock: () => number,
    private readonly logger: Logger,
    /** Materialising a show is a booking write: only the master's writer may (write/batcher.ts). */
    private readonly writer: WriteBatcher,
    private readonly maxCachedShows = 200,
  ) {}

  get(showId: string, deadline: Date | number): Promise<ShowCatalog> {
    const cached = this.cache.get(showId);
    if (cached) return cached;
    const loading = this.load(showId, deadline);
    this.cache.set(showId, loading);
    // A failed load (catalog down, unknown show) must not stick: the next call asks again.
    loading.catch(() => {
      if (this.cache.get(showId) === loading) this.cache.delete(showId);
    });
    if (this.cache.size > this.maxCachedShows) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return loading;
  }

  private async load(showId: string, deadline: Date | number): Promise<ShowCatalog> {
    const existing = await this.read(showId);
    if (existing) return existing;
    // Rows a slave wrote by itself would exist on it alone: every node's state comes from the log.
    if (!this.writer.isMaster())
      throw new MasterOnlyError(
        `this node is not the master and show ${JSON.stringify(showId)} is not materialized here yet; only the master materializes a show`,
      );
    const show = await this.source.getShow(showId, deadline);
    await this.materialize(show);
    const materialized = await this.read(showId);
    if (!materialized)
      throw new UnavailableError(`show ${JSON.stringify(showId)} could not be materialized; retry`);
    return materialized;
  }

  private async read(showId: string): Promise<ShowCatalog | undefined> {
    const [shows] = await this.pool.query<RowDataPacket[]>('SELECT currency FROM shows WHERE show_id = ?', [
      showId,
    ]);
    const show = shows[0];
    if (!show) return undefined;
    const [[seatRows], [poolRows]] = await Promise.all([
      this.pool.query<RowDataPacket[]>(
        'SELECT seat_id, label, price_tier, amount_cents FROM seats WHERE show_id = ? ORDER BY position',
        [showId],
      ),
      this.pool.query<RowDataPacket[]>(
        'SELECT area_id, name, price_tier, amount_cents, capacity FROM ga_pools WHERE show_id = ? ORDER BY position',
        [showId],
      ),
    ]);
    const seats = new Map<string, SeatInfo>();
    for (const r of seatRows)
      seats.set(r.seat_id as string, {
        label: r.label,
        priceTier: r.price_tier,
        amountCents: Number(r.amount_cents),
      });
    const pools = new Map<string, PoolInfo>();
    for (const r of poolRows) {
      pools.set(r.area_id as string, {
        name: r.name,
        priceTier: r.price_tier,
        amountCents: Number(r.amount_cents),
        capacity: Number(r.capacity),
      });
    }
    return { showId, currency: show.currency as string, seats, pools };
  }

  private async materialize(show: ShowInventory): Promise<void> {
    // Through the writer, whose batch appends the log entry: a node deposed since load() checked
    // fails the batch's fence and writes nothing, rather than the show without an entry.
    await this.writer.submit({
      kind: 'materialize',
      show: {
        show: {
          showId: show.showId,
          currency: show.currency,
          startsAt: show.startsAt,
          materializedAt: sqlTime(this.clock()),
        },
        seats: show.seats.map((s, j) => [s.id, j, s.label, s.priceTier, s.amountCents]),
        pools: show.pools.map((p, j) => [p.areaId, j, p.name, p.priceTier, p.amountCents, p.capacity]),
      },
    });
    this.logger.info(
      { showId: show.showId, seats: show.seats.length, pools: show.pools.length },
      'show materialized',
    );
  }
}

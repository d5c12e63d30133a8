import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from '../common/errors';
import { newId } from '../common/ids';
import { isDuplicateKey, withTransaction } from '../common/mysql';
import type { Pool, PoolConnection } from '../common/mysql';
import { nextPageToken } from '../common/pagination';
import type { Page } from '../common/pagination';
import type { Event, EventKind, Hall, Price, Show, Venue } from '../../proto/gen/marquee/catalog/v1/catalog';
import { checkShowFitsVenue, tiersOf } from './validation';
import type { EventData, SearchFilter, ShowData, VenueData } from './validation';

export interface PageOf<T> {
  items: T[];
  /** '' on the last page. */
  nextPageToken: string;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface Upserted {
  id: string;
  outcome: UpsertOutcome;
}

/** Writes matched by external_id, all inside one transaction (see CatalogStore.importAll). */
export interface ImportWriter {
  upsertVenue(data: VenueData): Promise<Upserted>;
  upsertEvent(data: EventData): Promise<Upserted>;
  /** `data.eventId` and `data.venueId` are catalog ids (already resolved from external ids). */
  upsertShow(data: ShowData): Promise<Upserted>;
}

/**
 * The catalog's storage. Inputs are already validated (validation.ts); the store checks what needs
 * the database (existence, references, shows that block a change) inside the write's transaction.
 */
export interface CatalogStore {
  getVenue(id: string): Promise<Venue | undefined>;
  listVenues(city: string, page: Page): Promise<PageOf<Venue>>;
  createVenue(data: VenueData): Promise<Venue>;
  updateVenue(id: string, data: VenueData): Promise<Venue>;
  deleteVenue(id: string): Promise<void>;

  getEvent(id: string): Promise<Event | undefined>;
  searchEvents(filter: SearchFilter, page: Page): Promise<PageOf<Event>>;
  createEvent(data: EventData): Promise<Event>;
  updateEvent(id: string, data: EventData): Promise<Event>;
  deleteEvent(id: string): Promise<void>;

  getShow(id: string): Promise<Show | undefined>;
  /** Shows of one event, earliest first. */
  listShows(eventId: string, page: Page): Promise<PageOf<Show>>;
  /** Every show of the catalog, by id (stable under new shows starting earlier): for mirrors. */
  listAllShows(page: Page): Promise<PageOf<Show>>;
  createShow(data: ShowData): Promise<Show>;
  updateShow(id: string, data: ShowData): Promise<Show>;
  deleteShow(id: string): Promise<void>;

  /** Runs `work` in one transaction: every upsert commits together or none does. */
  importAll<T>(work: (writer: ImportWriter) => Promise<T>): Promise<T>;
}

type Db = Pool | PoolConnection;

async function select(db: Db, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const [rows] = await db.query<RowDataPacket[]>(sql, params);
  return rows;
}

async function run(db: Db, sql: string, params: unknown[] = []): Promise<void> {
  await db.query(sql, params);
}

function parseJson<T>(value: unknown): T {
  // MariaDB's JSON is LONGTEXT on the wire, so it arrives as text; tolerate a parsed value too.
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** RFC 3339 in UTC, without a fractional part when there is none ("2026-12-31T20:00:00Z"). */
export function formatInstant(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** JSON with sorted keys, so two records compare equal whatever order their keys were built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

function venueFromRow(row: RowDataPacket): Venue {
  return {
    id: String(row.id),
    name: String(row.name),
    city: String(row.city),
    address: String(row.address),
    halls: parseJson<Hall[]>(row.halls),
    externalId: row.external_id === null ? '' : String(row.external_id),
  };
}

function eventFromRow(row: RowDataPacket): Event {
  return {
    id: String(row.id),
    title: String(row.title),
    kind: Number(row.kind) as EventKind,
    genres: parseJson<string[]>(row.genres_json),
    durationMinutes: Number(row.duration_minutes),
    description: String(row.description),
    cast: parseJson<string[]>(row.cast_json),
    artists: parseJson<string[]>(row.artists_json),
    posterUrl: String(row.poster_url),
    externalId: row.external_id === null ? '' : String(row.external_id),
  };
}

function showFromRow(row: RowDataPacket): Show {
  return {
    id: String(row.id),
    eventId: String(row.event_id),
    venueId: String(row.venue_id),
    hallId: String(row.hall_id),
    startsAt: formatInstant(row.starts_at as Date),
    currency: String(row.currency),
    prices: parseJson<Price[]>(row.prices),
    externalId: row.external_id === null ? '' : String(row.external_id),
  };
}

function withoutId<T extends { id: string }>(record: T): Omit<T, 'id'> {
  const { id: _id, ...rest } = record;
  return rest;
}

function showDataOf(show: Show): ShowData {
  return { ...withoutId(show), startsAt: new Date(show.startsAt) };
}

function searchText(data: EventData): string {
  return [data.title, data.description, ...data.cast, ...data.artists].join('\n');
}

function pageOf<T>(rows: RowDataPacket[], page: Page, map: (row: RowDataPacket) => T): PageOf<T> {
  return { items: rows.slice(0, page.size).map(map), nextPageToken: nextPageToken(page, rows.length) };
}

/** A few ids for an error message: enough to find the blockers, short enough to read. */
function sample(ids: string[], count: number): string {
  const shown = ids
    .slice(0, 3)
    .map((id) => JSON.stringify(id))
    .join(', ');
  return count > 3 ? `${shown} and ${count - 3} more` : shown;
}

const VENUE_COLUMNS = 'id, external_id, name, city, address, halls';
const EVENT_COLUMNS =
  'e.id, e.external_id, e.title, e.kind, e.duration_minutes, e.description, e.genres_json, e.cast_json, e.artists_json, e.poster_url';
const SHOW_COLUMNS = 'id, external_id, event_id, venue_id, hall_id, starts_at, currency, prices';

export class MysqlCatalogStore implements CatalogStore {
  constructor(
    private readonly pool: Pool,
    private readonly now: () => Date = () => new Date(),
  ) {}

  // ---- venues

  async getVenue(id: string): Promise<Venue | undefined> {
    const [row] = await select(this.pool, `SELECT ${VENUE_COLUMNS} FROM venues WHERE id = ?`, [id]);
    return row && venueFromRow(row);
  }

  async listVenues(city: string, page: Page): Promise<PageOf<Venue>> {
    const rows = await select(
      this.pool,
      `SELECT ${VENUE_COLUMNS} FROM venues ${city ? 'WHERE city = ?' : ''} ORDER BY name, id LIMIT ? OFFSET ?`,
      [...(city ? [city] : []), page.size + 1, page.offset],
    );
    return pageOf(rows, page, venueFromRow);
  }

  async createVenue(data: VenueData): Promise<Venue> {
    return withTransaction(this.pool, (tx) => this.insertVenue(tx, data, 'venue'));
  }

  async updateVenue(id: string, data: VenueData): Promise<Venue> {
    return withTransaction(this.pool, async (tx) => {
      const [row] = await select(tx, `SELECT ${VENUE_COLUMNS} FROM venues WHERE id = ? FOR UPDATE`, [id]);
      if (!row) throw new NotFoundError('venue', id, 'venue.id');
      return this.replaceVenue(tx, id, data, 'venue');
    });
  }

  async deleteVenue(id: string): Promise<void> {
    await this.deleteUnlessShows({ table: 'venues', showColumn: 'venue_id', what: 'venue' }, id);
  }

  private async insertVenue(tx: PoolConnection, data: VenueData, field: string): Promise<Venue> {
    const id = newId('ven');
    try {
      await run(
        tx,
        'INSERT INTO venues (id, external_id, name, city, address, halls, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [
          id,
          data.externalId || null,
          data.name,
          data.city,
          data.address,
          JSON.stringify(data.halls),
          this.now(),
        ],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'venue', data.externalId);
      throw error;
    }
    return { id, ...data };
  }

  /** Replaces a locked venue, refusing changes that would leave one of its shows without a hall or a price. */
  private async replaceVenue(tx: PoolConnection, id: string, data: VenueData, field: string): Promise<Venue> {
    const shows = await select(
      tx,
      'SELECT id, hall_id, prices FROM shows WHERE venue_id = ? ORDER BY starts_at, id LOCK IN SHARE MODE',
      [id],
    );
    const blocked = new Map<string, string[]>();
    for (const show of shows) {
      const hallId = String(show.hall_id);
      const hall = data.halls.find((h) => h.id === hallId);
      let problem: string | undefined;
      if (!hall) {
        problem = `hall ${JSON.stringify(hallId)} is used by`;
      } else {
        const prices = parseJson<Price[]>(show.prices);
        const unpriced = tiersOf(hall).find((tier) => !prices.some((p) => p.priceTier === tier));
        if (unpriced)
          problem = `hall ${JSON.stringify(hallId)} would use tier ${JSON.stringify(unpriced)}, which has no price in`;
      }
      if (problem) blocked.set(problem, [...(blocked.get(problem) ?? []), String(show.id)]);
    }
    const [first] = blocked;
    if (first) {
      const [problem, ids] = first;
      throw new FailedPreconditionError(
        `${field}.halls: ${problem} ${ids.length} show(s) (${sample(ids, ids.length)}); change or delete them first`,
        {
          field: `${field}.halls`,
        },
      );
    }
    try {
      await run(
        tx,
        'UPDATE venues SET external_id = ?, name = ?, city = ?, address = ?, halls = ?, updated_at = ? WHERE id = ?',
        [
          data.externalId || null,
          data.name,
          data.city,
          data.address,
          JSON.stringify(data.halls),
          this.now(),
          id,
        ],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'venue', data.externalId);
      throw error;
    }
    return { id, ...data };
  }

  // ---- events

  async getEvent(id: string): Promise<Event | undefined> {
    const [row] = await select(this.pool, `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = ?`, [id]);
    return row && eventFromRow(row);
  }

  async searchEvents(filter: SearchFilter, page: Page): Promise<PageOf<Event>> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const word of filter.words) {
      where.push('e.search_text LIKE ?');
      params.push(`%${escapeLike(word)}%`);
    }
    if (filter.kind !== undefined) {
      where.push('e.kind = ?');
      params.push(filter.kind);
    }
    if (filter.genre) {
      where.push('EXISTS (SELECT 1 FROM event_genres g WHERE g.event_id = e.id AND g.genre = ?)');
      params.push(filter.genre);
    }
    if (filter.city || filter.fromDate || filter.toDate) {
      // One show must satisfy every show condition: "in Lyon between the 3rd and the 5th".
      const conditions = ['s.event_id = e.id'];
      if (filter.city) {
        conditions.push('v.city = ?');
        params.push(filter.city);
      }
      if (filter.fromDate) {
        conditions.push('s.starts_at >= ?');
        params.push(new Date(`${filter.fromDate}T00:00:00Z`));
      }
      if (filter.toDate) {
        conditions.push('s.starts_at < ?');
        params.push(new Date(Date.parse(`${filter.toDate}T00:00:00Z`) + 86_400_000));
      }
      where.push(
        `EXISTS (SELECT 1 FROM shows s JOIN venues v ON v.id = s.venue_id WHERE ${conditions.join(' AND ')})`,
      );
    }
    const rows = await select(
      this.pool,
      `SELECT ${EVENT_COLUMNS} FROM events e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.title, e.id LIMIT ? OFFSET ?`,
      [...params, page.size + 1, page.offset],
    );
    return pageOf(rows, page, eventFromRow);
  }

  async createEvent(data: EventData): Promise<Event> {
    return withTransaction(this.pool, (tx) => this.insertEvent(tx, data, 'event'));
  }

  async updateEvent(id: string, data: EventData): Promise<Event> {
    return withTransaction(this.pool, async (tx) => {
      const [row] = await select(tx, 'SELECT id FROM events WHERE id = ? FOR UPDATE', [id]);
      if (!row) throw new NotFoundError('event', id, 'event.id');
      return this.replaceEvent(tx, id, data, 'event');
    });
  }

  async deleteEvent(id: string): Promise<void> {
    await this.deleteUnlessShows({ table: 'events', showColumn: 'event_id', what: 'event' }, id);
  }

  /**
   * Deletes a venue or event that no show refers to. The row is locked and its shows read under a
   * share lock in one transaction, so a show created concurrently cannot end up pointing at nothing.
   */
  private async deleteUnlessShows(
    target: { table: 'venues' | 'events'; showColumn: 'venue_id' | 'event_id'; what: 'venue' | 'event' },
    id: string,
  ): Promise<void> {
    const field = target.showColumn;
    await withTransaction(this.pool, async (tx) => {
      const [row] = await select(tx, `SELECT id FROM ${target.table} WHERE id = ? FOR UPDATE`, [id]);
      if (!row) throw new NotFoundError(target.what, id, field);
      const shows = await select(
        tx,
        `SELECT id FROM shows WHERE ${target.showColumn} = ? ORDER BY starts_at, id LOCK IN SHARE MODE`,
        [id],
      );
      if (shows.length > 0) {
        throw new FailedPreconditionError(
          `${field}: ${target.what} ${JSON.stringify(id)} still has ${shows.length} show(s) (${sample(
            shows.map((s) => String(s.id)),
            shows.length,
          )}); delete them first`,
          { field },
        );
      }
      await run(tx, `DELETE FROM ${target.table} WHERE id = ?`, [id]);
    });
  }

  private async insertEvent(tx: PoolConnection, data: EventData, field: string): Promise<Event> {
    const id = newId('evt');
    try {
      await run(
        tx,
        `INSERT INTO events (id, external_id, title, kind, duration_minutes, description, genres_json, cast_json, artists_json, poster_url, search_text, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, ...this.eventValues(data)],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'event', data.externalId);
      throw error;
    }
    await this.writeGenres(tx, id, data.genres);
    return { id, ...data };
  }

  private async replaceEvent(tx: PoolConnection, id: string, data: EventData, field: string): Promise<Event> {
    try {
      await run(
        tx,
        `UPDATE events SET external_id = ?, title = ?, kind = ?, duration_minutes = ?, description = ?, genres_json = ?, cast_json = ?,
         artists_json = ?, poster_url = ?, search_text = ?, updated_at = ? WHERE id = ?`,
        [...this.eventValues(data), id],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'event', data.externalId);
      throw error;
    }
    await run(tx, 'DELETE FROM event_genres WHERE event_id = ?', [id]);
    await this.writeGenres(tx, id, data.genres);
    return { id, ...data };
  }

  private eventValues(data: EventData): unknown[] {
    return [
      data.externalId || null,
      data.title,
      data.kind,
      data.durationMinutes,
      data.description,
      JSON.stringify(data.genres),
      JSON.stringify(data.cast),
      JSON.stringify(data.artists),
      data.posterUrl,
      searchText(data),
      this.now(),
    ];
  }

  private async writeGenres(tx: PoolConnection, eventId: string, genres: string[]): Promise<void> {
    if (genres.length === 0) return;
    await run(tx, 'INSERT INTO event_genres (event_id, position, genre) VALUES ?', [
      genres.map((genre, i) => [eventId, i, genre]),
    ]);
  }

  // ---- shows

  async getShow(id: string): Promise<Show | undefined> {
    const [row] = await select(this.pool, `SELECT ${SHOW_COLUMNS} FROM shows WHERE id = ?`, [id]);
    return row && showFromRow(row);
  }

  async listShows(eventId: string, page: Page): Promise<PageOf<Show>> {
    const rows = await select(
      this.pool,
      `SELECT ${SHOW_COLUMNS} FROM shows WHERE event_id = ? ORDER BY starts_at, id LIMIT ? OFFSET ?`,
      [eventId, page.size + 1, page.offset],
    );
    return pageOf(rows, page, showFromRow);
  }

  async listAllShows(page: Page): Promise<PageOf<Show>> {
    const rows = await select(this.pool, `SELECT ${SHOW_COLUMNS} FROM shows ORDER BY id LIMIT ? OFFSET ?`, [
      page.size + 1,
      page.offset,
    ]);
    return pageOf(rows, page, showFromRow);
  }

  async createShow(data: ShowData): Promise<Show> {
    return withTransaction(this.pool, (tx) => this.insertShow(tx, data, 'show'));
  }

  async updateShow(id: string, data: ShowData): Promise<Show> {
    return withTransaction(this.pool, async (tx) => {
      const [row] = await select(tx, 'SELECT id FROM shows WHERE id = ? FOR UPDATE', [id]);
      if (!row) throw new NotFoundError('show', id, 'show.id');
      return this.replaceShow(tx, id, data, 'show');
    });
  }

  async deleteShow(id: string): Promise<void> {
    const [result] = await this.pool.query<ResultSetHeader>('DELETE FROM shows WHERE id = ?', [id]);
    if (result.affectedRows === 0) throw new NotFoundError('show', id, 'show_id');
  }

  /** The show's event and venue exist and its hall and prices fit; both rows stay locked until commit. */
  private async checkShowReferences(tx: PoolConnection, data: ShowData, field: string): Promise<void> {
    const [event] = await select(tx, 'SELECT id FROM events WHERE id = ? LOCK IN SHARE MODE', [data.eventId]);
    if (!event) throw new NotFoundError('event', data.eventId, `${field}.event_id`);
    const [venue] = await select(tx, 'SELECT halls FROM venues WHERE id = ? LOCK IN SHARE MODE', [
      data.venueId,
    ]);
    if (!venue) throw new NotFoundError('venue', data.venueId, `${field}.venue_id`);
    checkShowFitsVenue(data, { halls: parseJson<Hall[]>(venue.halls) }, field);
  }

  private async insertShow(tx: PoolConnection, data: ShowData, field: string): Promise<Show> {
    await this.checkShowReferences(tx, data, field);
    const id = newId('shw');
    try {
      await run(
        tx,
        'INSERT INTO shows (id, external_id, event_id, venue_id, hall_id, starts_at, currency, prices, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          id,
          data.externalId || null,
          data.eventId,
          data.venueId,
          data.hallId,
          data.startsAt,
          data.currency,
          JSON.stringify(data.prices),
          this.now(),
        ],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'show', data.externalId);
      throw error;
    }
    return toShow(id, data);
  }

  private async replaceShow(tx: PoolConnection, id: string, data: ShowData, field: string): Promise<Show> {
    await this.checkShowReferences(tx, data, field);
    try {
      await run(
        tx,
        'UPDATE shows SET external_id = ?, event_id = ?, venue_id = ?, hall_id = ?, starts_at = ?, currency = ?, prices = ?, updated_at = ? WHERE id = ?',
        [
          data.externalId || null,
          data.eventId,
          data.venueId,
          data.hallId,
          data.startsAt,
          data.currency,
          JSON.stringify(data.prices),
          this.now(),
          id,
        ],
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateExternalId(`${field}.external_id`, 'show', data.externalId);
      throw error;
    }
    return toShow(id, data);
  }

  // ---- import

  async importAll<T>(work: (writer: ImportWriter) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (tx) => work(this.importWriter(tx)));
  }

  private importWriter(tx: PoolConnection): ImportWriter {
    // Each upsert finds its record by external_id (locking it), then writes only what differs.
    return {
      upsertVenue: async (data) => {
        const [row] = await select(
          tx,
          `SELECT ${VENUE_COLUMNS} FROM venues WHERE external_id = ? FOR UPDATE`,
          [data.externalId],
        );
        if (!row) return { id: (await this.insertVenue(tx, data, 'venue')).id, outcome: 'created' };
        const current = venueFromRow(row);
        if (canonical(withoutId(current)) === canonical(data))
          return { id: current.id, outcome: 'unchanged' };
        await this.replaceVenue(tx, current.id, data, 'venue');
        return { id: current.id, outcome: 'updated' };
      },
      upsertEvent: async (data) => {
        const [row] = await select(
          tx,
          `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.external_id = ? FOR UPDATE`,
          [data.externalId],
        );
        if (!row) return { id: (await this.insertEvent(tx, data, 'event')).id, outcome: 'created' };
        const current = eventFromRow(row);
        if (canonical(withoutId(current)) === canonical(data))
          return { id: current.id, outcome: 'unchanged' };
        await this.replaceEvent(tx, current.id, data, 'event');
        return { id: current.id, outcome: 'updated' };
      },
      upsertShow: async (data) => {
        const [row] = await select(tx, `SELECT ${SHOW_COLUMNS} FROM shows WHERE external_id = ? FOR UPDATE`, [
          data.externalId,
        ]);
        if (!row) return { id: (await this.insertShow(tx, data, 'show')).id, outcome: 'created' };
        const current = showFromRow(row);
        if (canonical(showDataOf(current)) === canonical(data))
          return { id: current.id, outcome: 'unchanged' };
        await this.replaceShow(tx, current.id, data, 'show');
        return { id: current.id, outcome: 'updated' };
      },
    };
  }
}

function toShow(id: string, data: ShowData): Show {
  return { id, ...data, startsAt: formatInstant(data.startsAt) };
}

function duplicateExternalId(field: string, what: string, externalId: string): AlreadyExistsError {
  return new AlreadyExistsError(
    `${field}: another ${what} already has external id ${JSON.stringify(externalId)}`,
  );
}

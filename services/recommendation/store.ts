import type { Pool, PoolConnection } from '../common/mysql';
import { withTransaction } from '../common/mysql';

/*
 * The recommendation service's own database: every booking it learned from (one row per booking, so
 * a change seen twice counts once), the change-stream position those rows reflect, and the last
 * trained model. Rows carry the stream position that added or cancelled them, so after a restart the
 * stored model (trained as of some position) is brought up to date with exactly the rows after it.
 */

export const RECOMMENDATION_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS rec_interactions (
    booking_id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(128) NOT NULL,
    event_id VARCHAR(128) NOT NULL,
    show_id VARCHAR(128) NOT NULL,
    quantity INT NOT NULL,
    booked_at DATETIME(3) NOT NULL,
    booked_position BIGINT UNSIGNED NOT NULL,
    cancelled_at DATETIME(3) NULL,
    cancelled_position BIGINT UNSIGNED NULL,
    KEY rec_interactions_user (user_id),
    KEY rec_interactions_booked (booked_position),
    KEY rec_interactions_cancelled (cancelled_position)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS rec_feed (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    position BIGINT UNSIGNED NOT NULL,
    resets INT UNSIGNED NOT NULL,
    reset_position BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB`,
  `INSERT IGNORE INTO rec_feed VALUES (1, 0, 0, 0, UTC_TIMESTAMP(3))`,
  `CREATE TABLE IF NOT EXISTS rec_model (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    version VARCHAR(64) NOT NULL,
    position BIGINT UNSIGNED NOT NULL,
    trained_at DATETIME(3) NOT NULL,
    snapshot LONGTEXT NOT NULL
  ) ENGINE=InnoDB`,
];

/** A booking as the model sees it: who booked which event, when; cancelled ones are kept, marked. */
export interface StoredBooking {
  bookingId: string;
  userId: string;
  eventId: string;
  showId: string;
  quantity: number;
  bookedAt: number;
  bookedPosition: number;
  cancelledAt: number | undefined;
  cancelledPosition: number | undefined;
}

/** A booking or cancellation to store, its show already resolved to its event. */
export interface ResolvedChange {
  kind: 'confirmed' | 'cancelled';
  bookingId: string;
  userId: string;
  eventId: string;
  showId: string;
  quantity: number;
  at: number;
  position: number;
}

/** What a stored batch changed: only these move the model (a repeat changes nothing). */
export interface AppliedChanges {
  booked: ResolvedChange[];
  cancelled: ResolvedChange[];
}

export interface StoredModel {
  version: string;
  position: number;
  trainedAt: number;
  snapshot: string;
}

interface BookingRow {
  booking_id: string;
  user_id: string;
  event_id: string;
  show_id: string;
  quantity: number;
  booked_at: Date;
  booked_position: number | string;
  cancelled_at: Date | null;
  cancelled_position: number | string | null;
}

function toBooking(row: BookingRow): StoredBooking {
  return {
    bookingId: row.booking_id,
    userId: row.user_id,
    eventId: row.event_id,
    showId: row.show_id,
    quantity: row.quantity,
    bookedAt: row.booked_at.getTime(),
    bookedPosition: Number(row.booked_position),
    cancelledAt: row.cancelled_at?.getTime(),
    cancelledPosition: row.cancelled_position === null ? undefined : Number(row.cancelled_position),
  };
}

export class RecommendationStore {
  constructor(private readonly pool: Pool) {}

  /**
   * The stream position the stored bookings reflect, and that of the last RESET: a stored model
   * trained before it must be retrained (the reset dropped rows it had counted).
   */
  async feed(): Promise<{ position: number; resetPosition: number; resets: number }> {
    const [rows] = await this.pool.query(
      'SELECT position, reset_position, resets FROM rec_feed WHERE id = 1',
    );
    const row = (rows as { position: number | string; reset_position: number | string; resets: number }[])[0];
    return {
      position: Number(row?.position ?? 0),
      resetPosition: Number(row?.reset_position ?? 0),
      resets: Number(row?.resets ?? 0),
    };
  }

  /** Stores a batch of changes and the new position together (a crash keeps both or neither). */
  async applyChanges(changes: readonly ResolvedChange[], position: number): Promise<AppliedChanges> {
    return withTransaction(this.pool, async (connection) => {
      const applied: AppliedChanges = { booked: [], cancelled: [] };
      for (const change of changes) {
        if (change.kind === 'confirmed') {
          const [result] = await connection.query(
            `INSERT IGNORE INTO rec_interactions
               (booking_id, user_id, event_id, show_id, quantity, booked_at, booked_position)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
            [
              change.bookingId,
              change.userId,
              change.eventId,
              change.showId,
              change.quantity,
              new Date(change.at),
              change.position,
            ],
          );
          if ((result as { affectedRows: number }).affectedRows === 1) applied.booked.push(change);
        } else {
          const [result] = await connection.query(
            `UPDATE rec_interactions SET cancelled_at = ?, cancelled_position = ?
              WHERE booking_id = ? AND cancelled_at IS NULL`,
            [new Date(change.at), change.position, change.bookingId],
          );
          if ((result as { affectedRows: number }).affectedRows === 1) applied.cancelled.push(change);
        }
      }
      await this.writePosition(connection, position);
      return applied;
    });
  }

  /** Replaces every stored booking with `bookings` (a RESET of the stream) at `position`. */
  async reset(bookings: readonly ResolvedChange[], position: number): Promise<void> {
    await withTransaction(this.pool, async (connection) => {
      await connection.query('DELETE FROM rec_interactions');
      for (let i = 0; i < bookings.length; i += 500) {
        const chunk = bookings.slice(i, i + 500);
        await connection.query(
          `INSERT IGNORE INTO rec_interactions
             (booking_id, user_id, event_id, show_id, quantity, booked_at, booked_position) VALUES ?`,
          [
            chunk.map((b) => [
              b.bookingId,
              b.userId,
              b.eventId,
              b.showId,
              b.quantity,
              new Date(b.at),
              position,
            ]),
          ],
        );
      }
      await connection.query('UPDATE rec_feed SET resets = resets + 1, reset_position = ? WHERE id = 1', [
        position,
      ]);
      await this.writePosition(connection, position);
    });
  }

  /** Every stored booking (cancelled ones included), oldest first. */
  async bookings(): Promise<StoredBooking[]> {
    const [rows] = await this.pool.query(
      'SELECT * FROM rec_interactions ORDER BY booked_position, booking_id',
    );
    return (rows as BookingRow[]).map(toBooking);
  }

  /** Every stored booking and the position they reflect, from one consistent read (for a retrain). */
  async snapshot(): Promise<{ position: number; bookings: StoredBooking[] }> {
    const connection = await this.pool.getConnection();
    try {
      await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      try {
        const [feed] = await connection.query('SELECT position FROM rec_feed WHERE id = 1');
        const [rows] = await connection.query(
          'SELECT * FROM rec_interactions ORDER BY booked_position, booking_id',
        );
        return {
          position: Number((feed as { position: number | string }[])[0]?.position ?? 0),
          bookings: (rows as BookingRow[]).map(toBooking),
        };
      } finally {
        await connection.query('COMMIT');
      }
    } finally {
      connection.release();
    }
  }

  /** The events a user has booked and not cancelled (to leave them out of the user's answers). */
  async bookedEvents(userId: string): Promise<string[]> {
    const [rows] = await this.pool.query(
      'SELECT DISTINCT event_id FROM rec_interactions WHERE user_id = ? AND cancelled_at IS NULL',
      [userId],
    );
    return (rows as { event_id: string }[]).map((r) => r.event_id);
  }

  /** Bookings added or cancelled after `position` (to bring a stored model up to date). */
  async bookingsChangedAfter(position: number): Promise<StoredBooking[]> {
    const [rows] = await this.pool.query(
      `SELECT * FROM rec_interactions WHERE booked_position > ? OR cancelled_position > ?
        ORDER BY booked_position, booking_id`,
      [position, position],
    );
    return (rows as BookingRow[]).map(toBooking);
  }

  async saveModel(model: StoredModel): Promise<void> {
    await this.pool.query(
      `INSERT INTO rec_model (id, version, position, trained_at, snapshot) VALUES (1, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE version = VALUES(version), position = VALUES(position),
         trained_at = VALUES(trained_at), snapshot = VALUES(snapshot)`,
      [model.version, model.position, new Date(model.trainedAt), model.snapshot],
    );
  }

  async loadModel(): Promise<StoredModel | undefined> {
    const [rows] = await this.pool.query(
      'SELECT version, position, trained_at, snapshot FROM rec_model WHERE id = 1',
    );
    const row = (
      rows as { version: string; position: number | string; trained_at: Date; snapshot: string }[]
    )[0];
    if (!row) return undefined;
    return {
      version: row.version,
      position: Number(row.position),
      trainedAt: row.trained_at.getTime(),
      snapshot: row.snapshot,
    };
  }

  private async writePosition(connection: PoolConnection, position: number): Promise<void> {
    await connection.query('UPDATE rec_feed SET position = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = 1', [
      position,
    ]);
  }
}

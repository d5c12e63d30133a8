/**
 * The catalog's tables (its own database; nothing else reads them). Re-running is harmless.
 *
 * - A venue's halls (sections, rows, GA areas) are one JSON document: a seat map is always read
 *   and written whole, never queried inside, and JSON keeps it exactly as validated.
 * - Text that people search or sort by uses a case- and accent-insensitive collation; ids and
 *   external ids keep the database's binary one.
 * - external_id is NULL for records made here (UNIQUE allows many NULLs) and unique per table for
 *   imported ones, which is what makes a re-import find what it created.
 * - Show starts are DATETIME(3) in UTC (the pool's timezone is 'Z').
 * - Foreign keys back up the explicit "still has shows" checks, which exist to give a clear error.
 */
export const CATALOG_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS venues (
    id VARCHAR(64) NOT NULL,
    external_id VARCHAR(128) NULL,
    name VARCHAR(200) COLLATE utf8mb4_unicode_ci NOT NULL,
    city VARCHAR(100) COLLATE utf8mb4_unicode_ci NOT NULL,
    address VARCHAR(300) NOT NULL,
    halls JSON NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_venues_external_id (external_id),
    KEY ix_venues_city_name (city, name)
  ) ENGINE=InnoDB`,

  `CREATE TABLE IF NOT EXISTS events (
    id VARCHAR(64) NOT NULL,
    external_id VARCHAR(128) NULL,
    title VARCHAR(200) COLLATE utf8mb4_unicode_ci NOT NULL,
    kind TINYINT UNSIGNED NOT NULL,
    duration_minutes SMALLINT UNSIGNED NOT NULL,
    description TEXT NOT NULL,
    genres_json JSON NOT NULL,
    cast_json JSON NOT NULL,
    artists_json JSON NOT NULL,
    poster_url VARCHAR(500) NOT NULL,
    -- title, description, cast and artists in one column, so a word is one LIKE per event
    search_text MEDIUMTEXT COLLATE utf8mb4_unicode_ci NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_events_external_id (external_id),
    KEY ix_events_title (title, id),
    KEY ix_events_kind_title (kind, title, id)
  ) ENGINE=InnoDB`,

  // Genres again, one row each, so "events of genre X" is an index lookup.
  `CREATE TABLE IF NOT EXISTS event_genres (
    event_id VARCHAR(64) NOT NULL,
    position TINYINT UNSIGNED NOT NULL,
    genre VARCHAR(40) COLLATE utf8mb4_unicode_ci NOT NULL,
    PRIMARY KEY (event_id, position),
    KEY ix_event_genres_genre (genre, event_id),
    CONSTRAINT fk_event_genres_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
  ) ENGINE=InnoDB`,

  `CREATE TABLE IF NOT EXISTS shows (
    id VARCHAR(64) NOT NULL,
    external_id VARCHAR(128) NULL,
    event_id VARCHAR(64) NOT NULL,
    venue_id VARCHAR(64) NOT NULL,
    hall_id VARCHAR(16) NOT NULL,
    starts_at DATETIME(3) NOT NULL,
    currency CHAR(3) NOT NULL,
    prices JSON NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_shows_external_id (external_id),
    KEY ix_shows_event_start (event_id, starts_at, id),
    KEY ix_shows_venue_hall (venue_id, hall_id),
    KEY ix_shows_start (starts_at),
    CONSTRAINT fk_shows_event FOREIGN KEY (event_id) REFERENCES events (id),
    CONSTRAINT fk_shows_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
  ) ENGINE=InnoDB`,
];

/**
 * The booking node's tables. Times are UTC DATETIME(3) written from the service clock (never NOW()),
 * so expiry is decided by one clock that tests can move.
 *
 * Invariants the database itself enforces: a seat row has one state and at most one hold or
 * booking; a pool never has negative counts nor more held+sold than capacity (CHECK).
 */
export const BOOKING_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS users (
    id VARCHAR(40) NOT NULL PRIMARY KEY,
    email VARCHAR(254) NOT NULL,
    display_name VARCHAR(100) NOT NULL,
    password_hash VARBINARY(64) NOT NULL,
    password_salt VARBINARY(32) NOT NULL,
    password_params VARCHAR(64) NOT NULL,
    role ENUM('user','admin') NOT NULL,
    created_at DATETIME(3) NOT NULL,
    UNIQUE KEY users_email (email)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS shows (
    show_id VARCHAR(64) NOT NULL PRIMARY KEY,
    currency CHAR(3) NOT NULL,
    starts_at VARCHAR(40) NOT NULL,
    materialized_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS seats (
    show_id VARCHAR(64) NOT NULL,
    seat_id VARCHAR(64) NOT NULL,
    position INT NOT NULL DEFAULT 0, -- catalog order, for seat maps
    label VARCHAR(100) NOT NULL,
    price_tier VARCHAR(64) NOT NULL,
    amount_cents BIGINT NOT NULL,
    state ENUM('FREE','HELD','SOLD') NOT NULL DEFAULT 'FREE',
    hold_id VARCHAR(40) NULL,
    held_until DATETIME(3) NULL,
    booking_id VARCHAR(40) NULL,
    PRIMARY KEY (show_id, seat_id),
    -- No index on hold_id/booking_id: every seat write goes through the primary key (the seat ids
    -- are in hold_items), and such indexes would be rewritten on each hold and sale.
    KEY seats_position (show_id, position)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ga_pools (
    show_id VARCHAR(64) NOT NULL,
    area_id VARCHAR(64) NOT NULL,
    position INT NOT NULL DEFAULT 0,
    name VARCHAR(100) NOT NULL,
    price_tier VARCHAR(64) NOT NULL,
    amount_cents BIGINT NOT NULL,
    capacity INT NOT NULL,
    held INT NOT NULL DEFAULT 0,
    sold INT NOT NULL DEFAULT 0,
    PRIMARY KEY (show_id, area_id),
    CONSTRAINT ga_pools_counts CHECK (held >= 0 AND sold >= 0 AND held + sold <= capacity)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS holds (
    id VARCHAR(40) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    show_id VARCHAR(64) NOT NULL,
    state ENUM('ACTIVE','CONFIRMED','RELEASED','EXPIRED') NOT NULL,
    total_cents BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    expires_at DATETIME(3) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    booking_id VARCHAR(40) NULL,
    -- One index for both lapse queries (the sweeper's and the per-show GA one): each extra index
    -- would be rewritten on every hold and every state change.
    KEY holds_due (state, expires_at)
  ) ENGINE=InnoDB`,
  // kind SEAT: item_id is a seat id, quantity 1; kind GA: item_id is an area id.
  `CREATE TABLE IF NOT EXISTS hold_items (
    hold_id VARCHAR(40) NOT NULL,
    kind ENUM('SEAT','GA') NOT NULL,
    item_id VARCHAR(64) NOT NULL,
    label VARCHAR(100) NOT NULL,
    quantity INT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (hold_id, kind, item_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS bookings (
    id VARCHAR(40) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    show_id VARCHAR(64) NOT NULL,
    hold_id VARCHAR(40) NOT NULL,
    state ENUM('CONFIRMED','CANCELLED') NOT NULL,
    total_cents BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    payment_id VARCHAR(40) NOT NULL,
    refund_id VARCHAR(40) NULL,
    created_at DATETIME(3) NOT NULL,
    cancelled_at DATETIME(3) NULL,
    UNIQUE KEY bookings_hold (hold_id),
    KEY bookings_user (user_id, created_at)
  ) ENGINE=InnoDB`,
  // Charges and refunds as the processor reported them; a refund points at its charge.
  `CREATE TABLE IF NOT EXISTS payments (
    id VARCHAR(40) NOT NULL PRIMARY KEY,
    kind ENUM('CHARGE','REFUND') NOT NULL,
    booking_id VARCHAR(40) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    amount_cents BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    card_last4 CHAR(4) NULL,
    charge_id VARCHAR(40) NULL,
    created_at DATETIME(3) NOT NULL,
    KEY payments_booking (booking_id)
  ) ENGINE=InnoDB`,
  // user_id is the caller's id, or "email:<address>" for Register, which has no caller yet.
  `CREATE TABLE IF NOT EXISTS idempotency (
    user_id VARCHAR(300) NOT NULL,
    \`key\` VARCHAR(128) NOT NULL,
    method VARCHAR(40) NOT NULL,
    request_hash BINARY(32) NOT NULL,
    response BLOB NULL,
    created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (user_id, \`key\`),
    KEY idempotency_age (created_at)
  ) ENGINE=InnoDB`,
];

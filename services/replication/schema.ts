/*
 * Replication's tables in each node's own database. One state row holds every position, so each
 * transaction that moves positions takes exactly one row lock (no lock-order deadlocks), and that
 * lock is also the index counter: the master's appends serialise on it until they commit, which
 * keeps the committed log a dense prefix 1..last.
 */
export const REPLICATION_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS replication_log (
    log_index BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    term BIGINT UNSIGNED NOT NULL,
    lamport BIGINT UNSIGNED NOT NULL,
    op VARCHAR(191) NOT NULL,
    payload LONGTEXT NOT NULL,
    trace_parent VARCHAR(55) NOT NULL DEFAULT '',
    KEY replication_log_term (term, log_index)
  ) ENGINE=InnoDB`,
  // Logs created before entries carried their request's trace (an instant change in MariaDB).
  `ALTER TABLE replication_log ADD COLUMN IF NOT EXISTS trace_parent VARCHAR(55) NOT NULL DEFAULT ''`,
  `CREATE TABLE IF NOT EXISTS replication_state (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    current_term BIGINT UNSIGNED NOT NULL,
    leader_id INT UNSIGNED NOT NULL,
    last_index BIGINT UNSIGNED NOT NULL,
    last_term BIGINT UNSIGNED NOT NULL,
    commit_index BIGINT UNSIGNED NOT NULL,
    applied_index BIGINT UNSIGNED NOT NULL,
    snapshot_index BIGINT UNSIGNED NOT NULL,
    snapshot_term BIGINT UNSIGNED NOT NULL
  ) ENGINE=InnoDB`,
  `INSERT IGNORE INTO replication_state VALUES (1, 0, 0, 0, 0, 0, 0, 0, 0)`,
  // The snapshot this node is receiving into its staging tables (snapshot-install.ts): at most one
  // row. The cursor moves in the same transaction as the rows it covers, so a resumed transfer
  // continues exactly after the last stored row; `complete` says every row is staged and the swap is
  // due (a crash after it is finished by recovery at start).
  `CREATE TABLE IF NOT EXISTS replication_snapshot_receive (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    snapshot_id VARCHAR(64) NOT NULL,
    term BIGINT UNSIGNED NOT NULL,
    leader_id INT UNSIGNED NOT NULL,
    last_index BIGINT UNSIGNED NOT NULL,
    last_term BIGINT UNSIGNED NOT NULL,
    commit_index BIGINT UNSIGNED NOT NULL,
    cursor_table VARCHAR(64) NOT NULL,
    cursor_key LONGTEXT NULL,
    row_count BIGINT UNSIGNED NOT NULL,
    complete TINYINT UNSIGNED NOT NULL
  ) ENGINE=InnoDB`,
];

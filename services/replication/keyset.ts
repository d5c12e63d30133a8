import type { SnapshotKey } from './types';

/*
 * Keyset pagination over a primary key: "the rows after this key" as a condition MariaDB answers with
 * a range scan of the primary key, so reading a table in batches costs one pass, not one pass per
 * batch (OFFSET would). The row-constructor form `(a, b) > (?, ?)` is not turned into a range by
 * every MariaDB version, hence the spelled-out form, led by `a >= ?` so the range is certain.
 */

export interface SqlCondition {
  readonly sql: string;
  readonly values: unknown[];
}

/** `columns > key` in the primary key's order; `columns` are quoted identifiers. */
export function keyAfter(columns: readonly string[], key: SnapshotKey): SqlCondition {
  if (columns.length === 0 || columns.length !== key.length)
    throw new Error(`a key of ${key.length} values for ${columns.length} key columns`);
  const [first] = columns;
  const strictly = (i: number): string => {
    const column = columns[i]!;
    if (i === columns.length - 1) return `${column} > ?`;
    return `${column} > ? OR (${column} = ? AND (${strictly(i + 1)}))`;
  };
  const values: unknown[] = [key[0]];
  key.forEach((value, i) => {
    values.push(value);
    if (i < key.length - 1) values.push(value);
  });
  return { sql: `${first} >= ? AND (${strictly(0)})`, values };
}

/** One page of `table` after `key` (or from its start), in key order. */
export function pageQuery(
  table: string,
  select: string,
  columns: readonly string[],
  after: SnapshotKey | undefined,
  limit: number,
): SqlCondition {
  const order = columns.join(', ');
  if (after === undefined)
    return { sql: `SELECT ${select} FROM ${table} ORDER BY ${order} LIMIT ?`, values: [limit] };
  const where = keyAfter(columns, after);
  return {
    sql: `SELECT ${select} FROM ${table} WHERE ${where.sql} ORDER BY ${order} LIMIT ?`,
    values: [...where.values, limit],
  };
}

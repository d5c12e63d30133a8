import pino from 'pino';
import type { Pool, PoolConnection } from '../../common/mysql';
import type { ReplicationLog } from '../log-store';
import { START, SnapshotSource } from '../snapshot-source';
import type { SnapshotChunk, SnapshotKey, SnapshotRow, StateMachine } from '../types';

/*
 * The sender's chunking, against a state machine whose reads resolve at once (no I/O to give the
 * event loop back): chunks stay under the byte bound, cover every row once in key order, resume after
 * a key, and the reader yields to the event loop between batches.
 */

const logger = pino({ level: 'silent' });

/** Two tables of numbered rows; `reads` counts the batches. */
function machine(rowsPerTable: number, rowBytes: number) {
  const counter = { reads: 0 };
  const tableRows = (table: string): SnapshotRow[] =>
    Array.from({ length: rowsPerTable }, (_, i) => ({
      key: [`${table}-${String(i).padStart(5, '0')}`],
      row: { id: i, pad: 'p'.repeat(rowBytes) },
    }));
  const state: StateMachine = {
    snapshotTables: ['a', 'b'],
    apply: () => Promise.resolve(),
    writeSnapshot: () => Promise.resolve(),
    readSnapshot: (_connection, table, after: SnapshotKey | undefined, limit) => {
      counter.reads += 1;
      const rows = tableRows(table).filter(
        (row) => after === undefined || String(row.key[0]) > String(after[0]),
      );
      return Promise.resolve(rows.slice(0, limit));
    },
  };
  return { state, counter };
}

/** A log whose pool hands out a connection that accepts any statement. */
function fakeLog(): ReplicationLog {
  const connection = {
    query: () => Promise.resolve([[]]),
    release: () => undefined,
    destroy: () => undefined,
  };
  return {
    pool: {
      getConnection: () => Promise.resolve(connection as unknown as PoolConnection),
    } as unknown as Pool,
    snapshotPoint: () => Promise.resolve({ lastIndex: 9, lastTerm: 2, commitIndex: 9 }),
  } as unknown as ReplicationLog;
}

async function collect(chunks: AsyncIterable<SnapshotChunk>): Promise<SnapshotChunk[]> {
  const all: SnapshotChunk[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

describe('snapshot source', () => {
  it('cuts every row, once and in key order, into chunks under the byte bound, then a done chunk', async () => {
    const { state } = machine(250, 100);
    const source = new SnapshotSource({
      log: fakeLog(),
      machine: state,
      logger,
      batchRows: 40,
      chunkBytes: 2000,
      lingerMs: 1000,
    });
    const point = await source.open('test');
    const chunks = await collect(source.chunks(point, START));
    const done = chunks.at(-1);
    expect(done).toMatchObject({ done: true, table: 'b', after: ['b-00249'], rows: [] });
    const data = chunks.slice(0, -1);
    expect(data.every((chunk) => chunk.rows.join('').length <= 2000)).toBe(true);
    expect(
      data.flatMap((chunk) =>
        chunk.rows.map((row) => `${chunk.table}:${(JSON.parse(row) as { id: number }).id}`),
      ),
    ).toEqual([
      ...Array.from({ length: 250 }, (_, i) => `a:${i}`),
      ...Array.from({ length: 250 }, (_, i) => `b:${i}`),
    ]);
    // Each chunk continues where the previous one of its table ended.
    data.forEach((chunk, i) => {
      const previous = data[i - 1];
      expect(chunk.after).toEqual(previous?.table === chunk.table ? previous.lastKey : undefined);
    });
  });

  it('resumes after a stored key, on the same read point, which stays open until finished', async () => {
    const { state } = machine(50, 10);
    const source = new SnapshotSource({
      log: fakeLog(),
      machine: state,
      logger,
      batchRows: 20,
      chunkBytes: 10_000,
      lingerMs: 1000,
    });
    const point = await source.open('test');
    const chunks = await collect(source.chunks(point, { table: 'a', key: ['a-00044'] }));
    expect(chunks[0]).toMatchObject({ table: 'a', after: ['a-00044'], lastKey: ['a-00049'] });
    expect(chunks[0]?.rows).toHaveLength(5);
    expect(chunks[1]).toMatchObject({ table: 'b', after: undefined });
    // The point outlives `done` (its answer may be lost) until the sender finishes it.
    expect(source.find(point.header.snapshotId)).toBeDefined();
    await source.finish(point.header.snapshotId);
    expect(source.find(point.header.snapshotId)).toBeUndefined();
  });

  it('gives the event loop back between batches, even when reads need no I/O', async () => {
    const { state, counter } = machine(1000, 10);
    const source = new SnapshotSource({
      log: fakeLog(),
      machine: state,
      logger,
      batchRows: 10,
      chunkBytes: 1_000_000,
      lingerMs: 1000,
    });
    const point = await source.open('test');
    const readsWhenTimerRan: number[] = [];
    const timer = setInterval(() => readsWhenTimerRan.push(counter.reads), 0);
    try {
      await collect(source.chunks(point, START));
    } finally {
      clearInterval(timer);
    }
    // 200 batches: a timer due all along ran while they were read, not only after.
    expect(counter.reads).toBeGreaterThan(200);
    expect(readsWhenTimerRan.some((reads) => reads > 0 && reads < counter.reads)).toBe(true);
  });
});

import type {
  AppendRequest,
  LogEntry as WireLogEntry,
} from '../../../proto/gen/marquee/cluster/v1/replication';
import { InvalidArgumentError } from '../../common/errors';
import {
  fromAppendRequest,
  fromFetchResponse,
  fromWireChunk,
  toAppendRequest,
  toFetchResponse,
  toWireChunk,
} from '../wire';

/*
 * The wire layer checks a batch from the network before anything touches the log: each bad field is
 * named. An entry's traceparent is '' on the wire when its request was not traced, and absent in
 * the log's own entries then.
 */

const TRACE_PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function entry(index: number, fields: Partial<WireLogEntry> = {}): WireLogEntry {
  return { term: 2, index, lamport: 10 + index, op: 'kv.put', payload: '{}', traceParent: '', ...fields };
}

function request(entries: WireLogEntry[], fields: Partial<AppendRequest> = {}): AppendRequest {
  return { term: 2, leaderId: 3, prevIndex: 4, prevTerm: 1, entries, commitIndex: 4, ...fields };
}

function fieldOf(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.field;
    throw error;
  }
  throw new Error('no error was thrown');
}

describe('replication wire: Append', () => {
  it('keeps an entry’s traceparent and drops the empty one', () => {
    const args = fromAppendRequest(request([entry(5, { traceParent: TRACE_PARENT }), entry(6)]));
    expect(args.entries[0]).toEqual({
      term: 2,
      index: 5,
      lamport: 15,
      op: 'kv.put',
      payload: '{}',
      traceParent: TRACE_PARENT,
    });
    expect(args.entries[1]).not.toHaveProperty('traceParent');
    // And back: an untraced entry goes out as ''.
    expect(toAppendRequest(args).entries.map((e) => e.traceParent)).toEqual([TRACE_PARENT, '']);
  });

  it('names the entry whose traceparent is not a W3C traceparent', () => {
    for (const bad of ['garbage', `${TRACE_PARENT}-extra`, TRACE_PARENT.toUpperCase(), '00-abc-def-01'])
      expect(fieldOf(() => fromAppendRequest(request([entry(5), entry(6, { traceParent: bad })])))).toBe(
        'entries[1].trace_parent',
      );
  });

  it('names every other malformed field', () => {
    expect(fieldOf(() => fromAppendRequest(request([], { term: 0 })))).toBe('term');
    expect(fieldOf(() => fromAppendRequest(request([], { leaderId: 0 })))).toBe('leader_id');
    expect(fieldOf(() => fromAppendRequest(request([], { prevTerm: 3 })))).toBe('prev_term');
    expect(fieldOf(() => fromAppendRequest(request([entry(5), entry(7)])))).toBe('entries[1].index');
    expect(fieldOf(() => fromAppendRequest(request([entry(5, { term: 3 })])))).toBe('entries[0].term');
    expect(fieldOf(() => fromAppendRequest(request([entry(5, { op: '' })])))).toBe('entries[0].op');
  });
});

describe('replication wire: Fetch', () => {
  it('carries traceparents both ways and names a bad one', () => {
    const result = {
      term: 2,
      snapshotNeeded: false,
      prevTerm: 1,
      lastIndex: 6,
      commitIndex: 6,
      entries: [entry(5, { traceParent: TRACE_PARENT }), entry(6)],
    };
    const parsed = fromFetchResponse(toFetchResponse(fromFetchResponse(result)));
    expect(parsed.entries.map((e) => e.traceParent)).toEqual([TRACE_PARENT, undefined]);
    expect(fieldOf(() => fromFetchResponse({ ...result, entries: [entry(5, { traceParent: 'x' })] }))).toBe(
      'entries[0].trace_parent',
    );
  });
});

describe('replication wire: snapshot chunks', () => {
  const chunk = {
    snapshotId: 'p1',
    lastIndex: 9,
    lastTerm: 2,
    commitIndex: 9,
    table: 'kv',
    after: ['a', 3] as const,
    lastKey: ['b', 1] as const,
    rows: ['{"k":"b"}'],
    done: false,
  };

  it('round-trips a chunk, keys included', () => {
    expect(fromWireChunk(toWireChunk({ term: 2, senderId: 1, chunk }))).toEqual({
      term: 2,
      senderId: 1,
      chunk,
    });
    const first = { ...chunk, after: undefined };
    expect(fromWireChunk(toWireChunk({ term: 2, senderId: 1, chunk: first })).chunk.after).toBeUndefined();
  });

  it('names a malformed key, a key without rows, and rows in the done chunk', () => {
    const wire = toWireChunk({ term: 2, senderId: 1, chunk });
    const field = (bad: Partial<typeof wire>) => {
      try {
        fromWireChunk({ ...wire, ...bad });
      } catch (error) {
        return error instanceof InvalidArgumentError ? error.field : 'not a field error';
      }
      return 'accepted';
    };
    expect(field({ afterKey: '{"a":1}' })).toBe('after_key');
    expect(field({ afterKey: 'not json' })).toBe('after_key');
    expect(field({ rows: [] })).toBe('last_key');
    expect(field({ done: true })).toBe('rows');
    expect(field({ snapshotId: '' })).toBe('snapshot_id');
    expect(field({ lastTerm: 3 })).toBe('last_term');
  });
});

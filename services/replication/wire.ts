import type {
  AppendRequest,
  AppendResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  LogEntry as WireLogEntry,
  SnapshotRequest,
  SnapshotResponse,
} from '../../proto/gen/marquee/cluster/v1/replication';
import { InvalidArgumentError } from '../common/errors';
import type { FetchArgs, FetchResult, FetchSnapshotArgs, FetchSnapshotResult } from './catch-up';
import type { AppendArgs, AppendResult, SnapshotArgs, SnapshotResult } from './follower';
import type { LogEntry } from './types';

/*
 * Proto messages ⇄ the follower's arguments. Requests come from the network, so they are checked
 * here before anything touches the database: a malformed batch must not reach the log.
 */

export function toAppendRequest(args: AppendArgs): AppendRequest {
  return { ...args, entries: args.entries.map(toWireEntry) };
}

function toWireEntry(entry: LogEntry): WireLogEntry {
  return { ...entry, traceParent: entry.traceParent ?? '' };
}

/** '' on the wire is "made outside a traced request"; anything else must be a W3C traceparent. */
function fromWireEntry(entry: WireLogEntry, field: string): LogEntry {
  const { traceParent, ...rest } = entry;
  if (traceParent === '') return rest;
  if (!TRACE_PARENT.test(traceParent))
    throw new InvalidArgumentError(
      `${field}.trace_parent`,
      'must be a W3C traceparent (version-trace-span-flags)',
    );
  return { ...rest, traceParent };
}

/** version-traceid-spanid-flags, lower-case hex (W3C Trace Context, level 1). */
const TRACE_PARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function fromAppendRequest(request: AppendRequest): AppendArgs {
  if (request.term < 1) throw new InvalidArgumentError('term', 'must be at least 1');
  if (request.leaderId < 1) throw new InvalidArgumentError('leader_id', 'must be a node id');
  if (request.prevTerm > request.term) throw new InvalidArgumentError('prev_term', 'is above term');
  let previousTerm = request.prevTerm;
  request.entries.forEach((entry, i) => {
    const field = `entries[${i}]`;
    if (entry.index !== request.prevIndex + 1 + i)
      throw new InvalidArgumentError(`${field}.index`, `must be ${request.prevIndex + 1 + i} (consecutive)`);
    if (entry.term < previousTerm || entry.term > request.term)
      throw new InvalidArgumentError(
        `${field}.term`,
        'must not decrease and must not exceed the request term',
      );
    if (entry.op.length === 0) throw new InvalidArgumentError(`${field}.op`, 'must not be empty');
    previousTerm = entry.term;
  });
  return { ...request, entries: request.entries.map((entry, i) => fromWireEntry(entry, `entries[${i}]`)) };
}

export function toAppendResponse(result: AppendResult): AppendResponse {
  return { ...result };
}

export function fromAppendResponse(response: AppendResponse): AppendResult {
  return { ...response };
}

export function toSnapshotRequest(args: SnapshotArgs): SnapshotRequest {
  return { ...args, rows: args.rows.map((row) => JSON.stringify(row)) };
}

export function fromSnapshotRequest(request: SnapshotRequest): SnapshotArgs {
  if (request.term < 1) throw new InvalidArgumentError('term', 'must be at least 1');
  if (request.leaderId < 1) throw new InvalidArgumentError('leader_id', 'must be a node id');
  if (request.lastTerm > request.term) throw new InvalidArgumentError('last_term', 'is above term');
  const rows = request.rows.map((row, i) => {
    try {
      return JSON.parse(row) as unknown;
    } catch {
      throw new InvalidArgumentError(`rows[${i}]`, 'is not JSON');
    }
  });
  return { ...request, rows };
}

export function toSnapshotResponse(result: SnapshotResult): SnapshotResponse {
  return { ...result };
}

export function fromSnapshotResponse(response: SnapshotResponse): SnapshotResult {
  return { ...response };
}

export function toFetchRequest(args: FetchArgs): FetchRequest {
  return { ...args };
}

export function fromFetchRequest(request: FetchRequest): FetchArgs {
  if (request.term < 1) throw new InvalidArgumentError('term', 'must be at least 1');
  if (request.requesterId < 1) throw new InvalidArgumentError('requester_id', 'must be a node id');
  if (request.maxEntries < 1) throw new InvalidArgumentError('max_entries', 'must be at least 1');
  return { ...request, maxEntries: Math.min(request.maxEntries, MAX_FETCH_ENTRIES) };
}

/** A source sends at most this many entries per Fetch, whatever the caller asks for. */
export const MAX_FETCH_ENTRIES = 1024;

export function toFetchResponse(result: FetchResult): FetchResponse {
  return { ...result, entries: result.entries.map(toWireEntry) };
}

export function fromFetchResponse(response: FetchResponse): FetchResult {
  return { ...response, entries: response.entries.map((entry, i) => fromWireEntry(entry, `entries[${i}]`)) };
}

export function fromFetchSnapshotRequest(request: FetchSnapshotRequest): FetchSnapshotArgs {
  if (request.term < 1) throw new InvalidArgumentError('term', 'must be at least 1');
  if (request.requesterId < 1) throw new InvalidArgumentError('requester_id', 'must be a node id');
  return request;
}

export function toFetchSnapshotResponse(result: FetchSnapshotResult): FetchSnapshotResponse {
  return { ...result, rows: result.rows.map((row) => JSON.stringify(row)) };
}

export function fromFetchSnapshotResponse(response: FetchSnapshotResponse): FetchSnapshotResult {
  const rows = response.rows.map((row, i) => {
    try {
      return JSON.parse(row) as unknown;
    } catch {
      throw new InvalidArgumentError(`rows[${i}]`, 'is not JSON');
    }
  });
  return { ...response, rows };
}

import type {
  AppendRequest,
  AppendResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  LogEntry as WireLogEntry,
  OfferSnapshotRequest,
  OfferSnapshotResponse,
  SnapshotChunk as WireSnapshotChunk,
  SnapshotResponse,
} from '../../proto/gen/marquee/cluster/v1/replication';
import { InvalidArgumentError } from '../common/errors';
import type { FetchArgs, FetchResult, FetchSnapshotArgs } from './catch-up';
import type { AppendArgs, AppendResult } from './follower';
import type { ChunkResult, OfferResult } from './snapshot-install';
import type { LogEntry, NodeId, SnapshotChunk, SnapshotCursor, SnapshotKey } from './types';

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

/** A master's offer of a snapshot (OfferSnapshot). */
export interface OfferArgs {
  readonly term: number;
  readonly leaderId: NodeId;
  readonly snapshotId: string;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export function toOfferRequest(args: OfferArgs): OfferSnapshotRequest {
  return { ...args };
}

export function fromOfferRequest(request: OfferSnapshotRequest): OfferArgs {
  checkSender(request.term, request.leaderId, 'leader_id');
  if (request.snapshotId.length === 0) throw new InvalidArgumentError('snapshot_id', 'must not be empty');
  if (request.lastTerm > request.term) throw new InvalidArgumentError('last_term', 'is above term');
  return request;
}

export function toOfferResponse(result: OfferResult): OfferSnapshotResponse {
  return {
    term: result.term,
    accepted: result.accepted,
    resumeTable: result.resume.table,
    resumeKey: encodeKey(result.resume.key),
    installed: result.installed,
  };
}

export function fromOfferResponse(response: OfferSnapshotResponse): OfferResult {
  return {
    term: response.term,
    accepted: response.accepted,
    installed: response.installed,
    resume: { table: response.resumeTable, key: decodeKey(response.resumeKey, 'resume_key') },
  };
}

/** A chunk as it travels: the snapshot's piece and who sent it in which term. */
export interface SentChunk {
  readonly term: number;
  readonly senderId: NodeId;
  readonly chunk: SnapshotChunk;
}

export function toWireChunk({ term, senderId, chunk }: SentChunk): WireSnapshotChunk {
  return {
    term,
    leaderId: senderId,
    snapshotId: chunk.snapshotId,
    lastIndex: chunk.lastIndex,
    lastTerm: chunk.lastTerm,
    commitIndex: chunk.commitIndex,
    table: chunk.table,
    afterKey: encodeKey(chunk.after),
    lastKey: encodeKey(chunk.lastKey),
    rows: [...chunk.rows],
    done: chunk.done,
  };
}

/** Checks a chunk from the network; its rows stay JSON text until the state machine validates them. */
export function fromWireChunk(wire: WireSnapshotChunk): SentChunk {
  checkSender(wire.term, wire.leaderId, 'leader_id');
  if (wire.snapshotId.length === 0) throw new InvalidArgumentError('snapshot_id', 'must not be empty');
  if (wire.lastTerm > wire.term) throw new InvalidArgumentError('last_term', 'is above term');
  if (wire.commitIndex > wire.lastIndex)
    throw new InvalidArgumentError('commit_index', 'is above last_index');
  const lastKey = decodeKey(wire.lastKey, 'last_key');
  if ((lastKey === undefined) !== (wire.rows.length === 0))
    throw new InvalidArgumentError('last_key', 'must be set exactly when the chunk has rows');
  if (wire.done && wire.rows.length > 0)
    throw new InvalidArgumentError('rows', 'must be empty in the done chunk');
  return {
    term: wire.term,
    senderId: wire.leaderId,
    chunk: {
      snapshotId: wire.snapshotId,
      lastIndex: wire.lastIndex,
      lastTerm: wire.lastTerm,
      commitIndex: wire.commitIndex,
      table: wire.table,
      after: decodeKey(wire.afterKey, 'after_key'),
      lastKey,
      rows: wire.rows,
      done: wire.done,
    },
  };
}

export function toSnapshotResponse(result: ChunkResult): SnapshotResponse {
  return { ...result };
}

export function fromSnapshotResponse(response: SnapshotResponse): ChunkResult {
  return { ...response };
}

function checkSender(term: number, senderId: number, field: string): void {
  if (term < 1) throw new InvalidArgumentError('term', 'must be at least 1');
  if (senderId < 1) throw new InvalidArgumentError(field, 'must be a node id');
}

/** '' on the wire is "no key" (the start of a table); anything else a JSON array of strings and numbers. */
function encodeKey(key: SnapshotKey | undefined): string {
  return key === undefined ? '' : JSON.stringify(key);
}

function decodeKey(text: string, field: string): SnapshotKey | undefined {
  if (text === '') return undefined;
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(field, 'is not JSON');
  }
  if (
    !Array.isArray(key) ||
    key.length === 0 ||
    !key.every((v) => typeof v === 'string' || typeof v === 'number')
  )
    throw new InvalidArgumentError(field, 'must be a JSON array of strings and numbers');
  return key as SnapshotKey;
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

export function toFetchSnapshotRequest(args: FetchSnapshotArgs): FetchSnapshotRequest {
  return {
    term: args.term,
    requesterId: args.requesterId,
    resumeSnapshotId: args.resume?.snapshotId ?? '',
    resumeTable: args.resume?.cursor.table ?? '',
    resumeKey: encodeKey(args.resume?.cursor.key),
  };
}

export function fromFetchSnapshotRequest(request: FetchSnapshotRequest): FetchSnapshotArgs {
  checkSender(request.term, request.requesterId, 'requester_id');
  if (request.resumeSnapshotId === '') return { term: request.term, requesterId: request.requesterId };
  const cursor: SnapshotCursor = {
    table: request.resumeTable,
    key: decodeKey(request.resumeKey, 'resume_key'),
  };
  return {
    term: request.term,
    requesterId: request.requesterId,
    resume: { snapshotId: request.resumeSnapshotId, cursor },
  };
}

import type { Entry } from './merge';

/*
 * Which entries the operator asked to see. Every option narrows; none given keeps everything.
 * Filters look at an entry after it was placed, so a stack trace line that borrowed its place from
 * the line before it is judged by the time and stamp it borrowed.
 */

export interface FilterOptions {
  /** `booking-2` (a source, i.e. a file name) or `2` (booking node 2); any of them matches. */
  nodes?: readonly string[];
  /** `service` of the line (`booking`, `gateway`, `catalog`; `mariadb` for its plain log); any matches. */
  services?: readonly string[];
  /** That level and above. Lines with no level (a stack trace on stderr) always pass: they are usually the reason you are looking. */
  minLevel?: number;
  /** A `traceId` or `trace_id` field equal to it; a plain line passes when its text contains it. */
  trace?: string;
  /** Wall time bounds, inclusive, in ms since the epoch. */
  sinceMs?: number;
  untilMs?: number;
  /** Lamport stamp (own or borrowed) at or above. */
  fromLamport?: number;
}

export type EntryFilter = (entry: Entry) => boolean;

export function entryFilter(options: FilterOptions): EntryFilter {
  const tests: EntryFilter[] = [];
  const { nodes, services, minLevel, trace, sinceMs, untilMs, fromLamport } = options;
  if (nodes !== undefined && nodes.length > 0) tests.push((e) => nodes.some((node) => isNode(e, node)));
  if (services !== undefined && services.length > 0) tests.push((e) => services.includes(e.record.service));
  if (minLevel !== undefined) tests.push((e) => e.record.level === undefined || e.record.level >= minLevel);
  if (trace !== undefined) tests.push((e) => hasTrace(e, trace));
  if (sinceMs !== undefined) tests.push((e) => e.wallMs >= sinceMs);
  if (untilMs !== undefined) tests.push((e) => e.wallMs <= untilMs);
  if (fromLamport !== undefined) tests.push((e) => e.lamport >= fromLamport);
  return (entry) => tests.every((test) => test(entry));
}

// A bare number names a booking node (the only processes with a node id): its nodeId field, or its
// file, for the lines of that file that are not JSON.
function isNode(entry: Entry, node: string): boolean {
  const { source, nodeId } = entry.record;
  if (!/^[0-9]+$/.test(node)) return source === node;
  return nodeId === Number(node) || source === `booking-${node}`;
}

function hasTrace(entry: Entry, trace: string): boolean {
  const { fields, text } = entry.record;
  if (fields === undefined) return text.includes(trace);
  return [fields.traceId, fields.trace_id].some(
    (id) => (typeof id === 'string' || typeof id === 'number') && String(id) === trace,
  );
}

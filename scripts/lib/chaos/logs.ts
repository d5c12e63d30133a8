import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ElectionEvent } from '../invariants';
import type { RoleName, TimelineEvent } from './timeline';

/*
 * The booking nodes' own election log lines (booking-N.log in stack.json's logsDir, pino JSON),
 * turned into timeline events stamped by the node that wrote them: role changes and catch-ups, with
 * the node's Lamport clock. `electionEvents` is pure; `LogFollower` only remembers where each file ended when
 * the chaos run began and reads what was appended since.
 */

interface LogLine {
  event?: unknown;
  time?: unknown;
  lamport?: unknown;
  role?: unknown;
  term?: unknown;
  masterId?: unknown;
  fromNode?: unknown;
  upToIndex?: unknown;
}

const ROLES: readonly string[] = ['master', 'slave', 'candidate'];

/** Election events from a chunk of one node's log; lines that are not JSON or not election events are skipped. */
export function electionEvents(text: string, node: number): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      continue; // a line cut at the end of the chunk, or not JSON
    }
    const wallMs = typeof line.time === 'number' ? line.time : Date.parse(String(line.time));
    if (!Number.isFinite(wallMs)) continue;
    const lamport = typeof line.lamport === 'number' ? line.lamport : undefined;
    if (line.event === 'role' && typeof line.role === 'string' && ROLES.includes(line.role)) {
      const term = typeof line.term === 'number' ? line.term : undefined;
      const masterId = typeof line.masterId === 'number' ? line.masterId : undefined;
      const whose = line.role === 'slave' && masterId !== undefined ? ` (master node ${masterId})` : '';
      events.push({
        wallMs,
        lamport,
        node,
        kind: 'election',
        role: line.role as RoleName,
        term,
        masterId,
        text: `log: became ${line.role} in term ${term ?? '?'}${whose}`,
      });
    } else if (line.event === 'catch-up') {
      events.push({
        wallMs,
        lamport,
        node,
        kind: 'election',
        text: `log: catch-up needed from node ${String(line.fromNode)} up to index ${String(line.upToIndex)}`,
      });
    }
  }
  return events;
}

/** (term, master) pairs the nodes' logs announce, for the one-master-per-term rule. */
export function electionsFromEvents(events: readonly TimelineEvent[]): ElectionEvent[] {
  return events
    .filter(
      (e) => e.kind === 'election' && e.role === 'master' && e.term !== undefined && e.node !== undefined,
    )
    .map((e) => ({ term: e.term!, masterId: e.node! }));
}

/** Node `node`'s log in `logsDir` (stack.json's logsDir: where the stack or the target writes it). */
export function bookingLogFile(logsDir: string, node: number): string {
  return path.join(logsDir, `booking-${node}.log`);
}

/** Reads what each node's log gained since the follower was made (a restarted node appends to the same file). */
export class LogFollower {
  private readonly offsets = new Map<number, number>();

  constructor(
    private readonly logsDir: string,
    private readonly nodes: readonly number[],
  ) {
    for (const node of nodes) this.offsets.set(node, sizeOf(bookingLogFile(logsDir, node)));
  }

  events(): TimelineEvent[] {
    const events: TimelineEvent[] = [];
    for (const node of this.nodes) {
      const file = bookingLogFile(this.logsDir, node);
      if (!existsSync(file)) continue;
      const from = this.offsets.get(node) ?? 0;
      const to = sizeOf(file);
      if (to <= from) continue;
      const buffer = Buffer.alloc(to - from);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, from);
      } finally {
        closeSync(fd);
      }
      events.push(...electionEvents(buffer.toString('utf8'), node));
    }
    return events;
  }
}

function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

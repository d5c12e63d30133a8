import { FailedPreconditionError } from '../../common/errors';
import { normalizeContent, upsertContent } from './content';
import type { EventInfo } from './content';
import { buildNeighbours, ensurePair, entryRoot } from './cooccurrence';
import type { HistoryEntry } from './cooccurrence';
import { createModel } from './model';
import type { Model, ModelOptions } from './model';

/*
 * Model snapshots: plain JSON-safe data (arrays, no Maps), so the service can store one in its
 * database and a restart does not start cold. Only the counts are stored; the neighbour lists and
 * IDF weights are derived and rebuilt on load, so a snapshot cannot disagree with itself. Numbers
 * survive JSON exactly (JavaScript prints the shortest string that reads back as the same double),
 * so a loaded model answers exactly as the saved one did.
 */

/** Bump when the shape or the meaning of a field changes; old snapshots are then refused. */
export const SNAPSHOT_VERSION = 1;

export interface ModelSnapshot {
  readonly version: number;
  readonly options: ModelOptions;
  readonly anchor: number;
  readonly events: readonly EventInfo[];
  /** [eventId, decayed weight, users] */
  readonly items: readonly (readonly [string, number, number])[];
  /** [eventA, eventB, decayed together, users], each pair once with eventA < eventB */
  readonly pairs: readonly (readonly [string, string, number, number])[];
  /** [userId, [[eventId, at, weight, bookings], ...] oldest first] */
  readonly users: readonly (readonly [string, readonly (readonly [string, number, number, number])[]])[];
  readonly retired: readonly string[];
}

/** The snapshot cannot be loaded (other version, or damaged): retrain from the interactions. */
export class SnapshotError extends FailedPreconditionError {
  constructor(problem: string) {
    super(`model snapshot: ${problem}`);
  }
}

export function serializeModel(model: Model): ModelSnapshot {
  const { collaborative } = model;
  const { rows, together, users } = collaborative.pairs;
  const pairs: [string, string, number, number][] = [];
  for (const [a, row] of rows)
    for (const [b, slot] of row) if (a < b) pairs.push([a, b, together[slot]!, users[slot]!]);
  return {
    version: SNAPSHOT_VERSION,
    options: model.options,
    anchor: collaborative.anchor,
    events: [...model.content.events.values()],
    items: [...collaborative.items].map(([id, item]) => [id, item.weight, item.users] as const),
    pairs,
    users: [...collaborative.users].map(
      ([userId, history]) =>
        [userId, history.map((e) => [e.eventId, e.at, e.weight, e.bookings] as const)] as const,
    ),
    retired: [...collaborative.retired],
  };
}

/** Reads a snapshot (as parsed from JSON) back into a model. Throws SnapshotError naming the problem. */
export function deserializeModel(snapshot: unknown): Model {
  const s = record(snapshot, 'snapshot');
  if (s.version !== SNAPSHOT_VERSION)
    throw new SnapshotError(
      `version ${JSON.stringify(s.version)} is not ${SNAPSHOT_VERSION}, which this build reads`,
    );
  let model: Model;
  try {
    model = createModel(record(s.options, 'options') as Partial<ModelOptions>);
  } catch (error) {
    throw new SnapshotError(`options: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { collaborative } = model;
  collaborative.anchor = finite(s.anchor, 'anchor');
  list(s.events, 'events').forEach((event, i) => {
    try {
      upsertContent(model.content, normalizeContent(event as EventInfo, `events[${i}]`));
    } catch (error) {
      throw new SnapshotError(error instanceof Error ? error.message : String(error));
    }
  });
  list(s.items, 'items').forEach((row, i) => {
    const [id, weight, users] = tuple(row, 3, `items[${i}]`);
    collaborative.items.set(text(id, `items[${i}][0]`), {
      weight: finite(weight, `items[${i}][1]`),
      users: count(users, `items[${i}][2]`),
    });
  });
  list(s.pairs, 'pairs').forEach((row, i) => {
    const [a, b, together, users] = tuple(row, 4, `pairs[${i}]`);
    const slot = ensurePair(collaborative.pairs, text(a, `pairs[${i}][0]`), text(b, `pairs[${i}][1]`));
    collaborative.pairs.together[slot] = finite(together, `pairs[${i}][2]`);
    collaborative.pairs.users[slot] = count(users, `pairs[${i}][3]`);
  });
  list(s.users, 'users').forEach((row, i) => {
    const [userId, entries] = tuple(row, 2, `users[${i}]`);
    const history: HistoryEntry[] = list(entries, `users[${i}][1]`).map((entry, j) => {
      const where = `users[${i}][1][${j}]`;
      const [eventId, at, weight, bookings] = tuple(entry, 4, where);
      const time = finite(at, `${where}[1]`);
      const strength = finite(weight, `${where}[2]`);
      return {
        eventId: text(eventId, `${where}[0]`),
        at: time,
        weight: strength,
        bookings: count(bookings, `${where}[3]`),
        root: entryRoot(collaborative, model.options, time, strength),
      };
    });
    collaborative.users.set(text(userId, `users[${i}][0]`), history);
  });
  list(s.retired, 'retired').forEach((id, i) => collaborative.retired.add(text(id, `retired[${i}]`)));
  buildNeighbours(collaborative, model.options);
  return model;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SnapshotError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new SnapshotError(`${where} must be a list`);
  return value;
}

function tuple(value: unknown, length: number, where: string): unknown[] {
  const items = list(value, where);
  if (items.length !== length) throw new SnapshotError(`${where} must have ${length} items`);
  return items;
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '')
    throw new SnapshotError(`${where} must be a non-empty string`);
  return value;
}

function finite(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new SnapshotError(`${where} must be a number`);
  return value;
}

function count(value: unknown, where: string): number {
  if (!Number.isInteger(value) || (value as number) < 0) throw new SnapshotError(`${where} must be a count`);
  return value as number;
}

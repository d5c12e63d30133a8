import type { EventInfo } from './content';
import type { HistoryEntry, ItemCount, Neighbour } from './cooccurrence';
import type { Model, ModelOptions } from './model';

/*
 * Handing a model trained on a worker thread to the serving thread without stalling it. Posting the
 * Model whole makes the receiving thread rebuild every Map and object of it in ONE task (about 100 ms
 * for 3,000 users), which is exactly the pause a worker retrain is meant to avoid. So the worker cuts
 * the model into parts of bounded size; each arrives as its own message, is put in place in its own
 * short task, and Recommend calls run in between. Derived data (neighbour lists, content vectors) is
 * sent as it is, not rebuilt. The pair counts are typed arrays: sent in the head, copied once.
 */

export type HandoverPart =
  | {
      kind: 'head';
      options: ModelOptions;
      anchor: number;
      retired: string[];
      together: Float64Array;
      pairUsers: Int32Array;
      used: number;
      free: number[];
      events: EventInfo[];
      documentFrequency: [string, number][];
    }
  | { kind: 'items'; rows: [string, ItemCount][] }
  | { kind: 'pairRows'; rows: [string, [string, number][]][] }
  | { kind: 'users'; rows: [string, HistoryEntry[]][] }
  | { kind: 'neighbours'; rows: [string, Neighbour[]][] }
  | { kind: 'vectors'; rows: [string, [string, number][]][] };

/** How many inner entries (history entries, neighbours, pair partners) go in one part. */
export const PART_ENTRIES = 1500;

/** Rows grouped so that each group holds about `budget` inner entries (at least one row each). */
function chunks<T>(rows: Iterable<T>, size: (row: T) => number, budget: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let entries = 0;
  for (const row of rows) {
    current.push(row);
    entries += Math.max(1, size(row));
    if (entries >= budget) {
      out.push(current);
      current = [];
      entries = 0;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The model as parts; `new ModelAssembler()` fed every part, in order, rebuilds it. */
export function handoverParts(model: Model, budget = PART_ENTRIES): HandoverPart[] {
  const { collaborative: c, content } = model;
  const parts: HandoverPart[] = [
    {
      kind: 'head',
      options: model.options,
      anchor: c.anchor,
      retired: [...c.retired],
      together: c.pairs.together.slice(0, c.pairs.used),
      pairUsers: c.pairs.users.slice(0, c.pairs.used),
      used: c.pairs.used,
      free: [...c.pairs.free],
      events: [...content.events.values()],
      documentFrequency: [...content.documentFrequency],
    },
  ];
  for (const rows of chunks(c.items, () => 1, budget)) parts.push({ kind: 'items', rows });
  const pairRows = [...c.pairs.rows].map(([a, row]): [string, [string, number][]] => [a, [...row]]);
  for (const rows of chunks(pairRows, ([, row]) => row.length, budget))
    parts.push({ kind: 'pairRows', rows });
  for (const rows of chunks(c.users, ([, history]) => history.length, budget))
    parts.push({ kind: 'users', rows });
  for (const rows of chunks(c.neighbours, ([, list]) => list.length, budget))
    parts.push({ kind: 'neighbours', rows });
  const vectors = [...content.vectors].map(([id, vector]): [string, [string, number][]] => [id, [...vector]]);
  for (const rows of chunks(vectors, ([, vector]) => vector.length, budget))
    parts.push({ kind: 'vectors', rows });
  return parts;
}

/** Rebuilds a model from its parts, one part per call (each a short piece of work). */
export class ModelAssembler {
  private model: Model | undefined;

  add(part: HandoverPart): void {
    if (part.kind === 'head') {
      // Typed arrays keep the capacity the table grows into: room for the pairs it already has.
      const capacity = Math.max(1024, part.used * 2);
      const together = new Float64Array(capacity);
      together.set(part.together);
      const users = new Int32Array(capacity);
      users.set(part.pairUsers);
      this.model = {
        options: part.options,
        collaborative: {
          anchor: part.anchor,
          items: new Map(),
          pairs: { rows: new Map(), together, users, used: part.used, free: part.free },
          users: new Map(),
          retired: new Set(part.retired),
          neighbours: new Map(),
        },
        content: {
          events: new Map(part.events.map((event) => [event.eventId, event])),
          documentFrequency: new Map(part.documentFrequency),
          vectors: new Map(),
        },
      };
      return;
    }
    const model = this.model;
    if (!model) throw new Error('handover: the head part must come first');
    const c = model.collaborative;
    if (part.kind === 'items') for (const [id, item] of part.rows) c.items.set(id, item);
    else if (part.kind === 'pairRows') for (const [a, row] of part.rows) c.pairs.rows.set(a, new Map(row));
    else if (part.kind === 'users') for (const [id, history] of part.rows) c.users.set(id, history);
    else if (part.kind === 'neighbours') for (const [id, list] of part.rows) c.neighbours.set(id, list);
    else for (const [id, vector] of part.rows) model.content.vectors.set(id, new Map(vector));
  }

  finish(): Model {
    if (!this.model) throw new Error('handover: no parts were received');
    return this.model;
  }
}

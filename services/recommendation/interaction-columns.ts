import type { Interaction } from './model';

/*
 * Interactions as columns, for handing a training set to a worker thread. Posting 70,000 objects
 * makes the sending thread serialise every one of them in one go (a pause of about 100 ms, the very
 * stall the worker is there to avoid); typed arrays are moved to the worker without a copy, and the
 * ids go once each in two string tables. Encoding yields to the event loop every few thousand rows.
 */

export interface InteractionColumns {
  userIds: string[];
  eventIds: string[];
  /** Per interaction: index into userIds / eventIds, time (ms), weight. */
  user: Int32Array;
  event: Int32Array;
  at: Float64Array;
  weight: Float64Array;
}

const ROWS_PER_TURN = 5000;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Encodes `interactions`, giving the event loop a turn every ROWS_PER_TURN rows. */
export async function encodeColumns(interactions: readonly Interaction[]): Promise<InteractionColumns> {
  const n = interactions.length;
  const columns: InteractionColumns = {
    userIds: [],
    eventIds: [],
    user: new Int32Array(n),
    event: new Int32Array(n),
    at: new Float64Array(n),
    weight: new Float64Array(n),
  };
  const users = new Map<string, number>();
  const events = new Map<string, number>();
  const indexOf = (ids: Map<string, number>, table: string[], id: string): number => {
    let index = ids.get(id);
    if (index === undefined) {
      index = table.length;
      table.push(id);
      ids.set(id, index);
    }
    return index;
  };
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % ROWS_PER_TURN === 0) await turn();
    const interaction = interactions[i]!;
    columns.user[i] = indexOf(users, columns.userIds, interaction.userId);
    columns.event[i] = indexOf(events, columns.eventIds, interaction.eventId);
    columns.at[i] = interaction.at;
    columns.weight[i] = interaction.weight ?? 1;
  }
  return columns;
}

/** The buffers to move (not copy) to the worker in postMessage's transfer list. */
export function transferables(columns: InteractionColumns): ArrayBuffer[] {
  return [columns.user, columns.event, columns.at, columns.weight].map(
    (array) => array.buffer as ArrayBuffer,
  );
}

export function decodeColumns(columns: InteractionColumns): Interaction[] {
  const out: Interaction[] = new Array<Interaction>(columns.user.length);
  for (let i = 0; i < columns.user.length; i++)
    out[i] = {
      userId: columns.userIds[columns.user[i]!]!,
      eventId: columns.eventIds[columns.event[i]!]!,
      at: columns.at[i]!,
      weight: columns.weight[i]!,
    };
  return out;
}

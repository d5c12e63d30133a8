import { growth, rebaseHalfLives } from './decay';

/*
 * The collaborative model: item-to-item similarity from booking co-occurrence (Linden, Smith, York,
 * "Amazon.com recommendations: item-to-item collaborative filtering", 2003), with time decay.
 *
 * Each user u and event i give a decayed weight a_ui = w_ui · 2^(−age/halfLife). Per event we keep
 * n_i = Σ_u a_ui (its decayed popularity) and per pair s_ij = Σ_u sqrt(a_ui · a_uj) plus the plain
 * number of users behind it. The similarity is the cosine of the vectors sqrt(a_·i) and sqrt(a_·j):
 *
 *     sim(i, j) = s_ij / sqrt(n_i · n_j) · users_ij / (users_ij + shrink)
 *
 * With forward decay (decay.ts) every sum is stored as of a fixed anchor, so a booking updates them
 * in O(window) and the cosine does not depend on when it is read; an old co-booking counts less
 * because it weighs less in both sums. The shrink factor uses the undecayed user count: it measures
 * evidence (one user who booked both is a coincidence), not recency, and keeps similarities
 * independent of the clock, so neighbour lists never go stale as time passes.
 *
 * Each user's most recent `historyWindow` bookings are kept to pair new bookings with. That bounds
 * the work per booking and the state per user (a heavy user would otherwise add O(n²) pairs); a
 * booking pairs with the window as it is when the booking arrives.
 */

export interface CollaborativeOptions {
  readonly halfLifeMs: number;
  /** Neighbours kept per event. */
  readonly neighbours: number;
  /** Bookings per user kept to pair new bookings with. */
  readonly historyWindow: number;
  /** Users of co-booking evidence at which a similarity is shrunk to half (Koren's shrinkage). */
  readonly shrink: number;
}

export interface ItemCount {
  /** Forward-decayed booking weight (n_i above). */
  weight: number;
  /** Users who currently book it (undecayed). */
  users: number;
}

/**
 * Pair counts live in two typed arrays indexed by a slot, and each event's row maps its partners to
 * slots (both directions share one slot). Millions of pairs are common, and as objects they would
 * cost several times the memory and most of the training time in garbage collection.
 */
export interface PairTable {
  /** eventA → eventB → slot; symmetric. */
  readonly rows: Map<string, Map<string, number>>;
  /** Forward-decayed co-booking weight (s_ij above), by slot. */
  together: Float64Array;
  /** Users who book both (undecayed), by slot. */
  users: Int32Array;
  /** Slots handed out so far; freed slots are reused first. */
  used: number;
  readonly free: number[];
}

export interface HistoryEntry {
  readonly eventId: string;
  readonly at: number;
  readonly weight: number;
  /** How many bookings of this event the user holds; the entry goes when the last is cancelled. */
  bookings: number;
  /** sqrt(weight · growth(at)) at the current anchor, cached: a pair adds the product of two roots. */
  root: number;
}

export interface Neighbour {
  readonly eventId: string;
  readonly similarity: number;
}

export interface CollaborativeState {
  /** Time (ms) at which stored weights are 1× (decay.ts). */
  anchor: number;
  readonly items: Map<string, ItemCount>;
  readonly pairs: PairTable;
  /** Each user's most recent bookings, oldest first. */
  readonly users: Map<string, HistoryEntry[]>;
  /** Events whose shows are all over: kept as history, never offered as neighbours. */
  readonly retired: Set<string>;
  /** Derived from the counts: each event's top neighbours, best first. */
  readonly neighbours: Map<string, Neighbour[]>;
}

export function emptyCollaborativeState(anchor = 0): CollaborativeState {
  return {
    anchor,
    items: new Map(),
    pairs: emptyPairTable(),
    users: new Map(),
    retired: new Set(),
    neighbours: new Map(),
  };
}

export function emptyPairTable(capacity = 1024): PairTable {
  return {
    rows: new Map(),
    together: new Float64Array(capacity),
    users: new Int32Array(capacity),
    used: 0,
    free: [],
  };
}

/** The slot of the pair {a, b}, or undefined when nobody booked both. */
export function pairSlot(table: PairTable, a: string, b: string): number | undefined {
  return table.rows.get(a)?.get(b);
}

/** The slot of the pair {a, b}, created with zero counts when missing. */
export function ensurePair(table: PairTable, a: string, b: string): number {
  const found = pairSlot(table, a, b);
  if (found !== undefined) return found;
  let slot = table.free.pop();
  if (slot === undefined) {
    if (table.used === table.together.length) grow(table);
    slot = table.used++;
  }
  table.together[slot] = 0;
  table.users[slot] = 0;
  rowOf(table, a).set(b, slot);
  rowOf(table, b).set(a, slot);
  return slot;
}

function grow(table: PairTable): void {
  const together = new Float64Array(table.together.length * 2);
  together.set(table.together);
  const users = new Int32Array(table.users.length * 2);
  users.set(table.users);
  table.together = together;
  table.users = users;
}

function rowOf(table: PairTable, id: string): Map<string, number> {
  let row = table.rows.get(id);
  if (!row) {
    row = new Map();
    table.rows.set(id, row);
  }
  return row;
}

function deletePair(table: PairTable, a: string, b: string): void {
  const slot = pairSlot(table, a, b);
  if (slot === undefined) return;
  table.free.push(slot);
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const row = table.rows.get(from);
    row?.delete(to);
    if (row?.size === 0) table.rows.delete(from);
  }
}

/** Best first; ties by id so that every way of building a list gives the same list. */
export function compareNeighbours(a: Neighbour, b: Neighbour): number {
  return b.similarity - a.similarity || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

export function similarity(state: CollaborativeState, a: string, b: string, shrink: number): number {
  const slot = pairSlot(state.pairs, a, b);
  if (slot === undefined) return 0;
  return slotSimilarity(
    state,
    slot,
    state.items.get(a)?.weight ?? 0,
    state.items.get(b)?.weight ?? 0,
    shrink,
  );
}

function slotSimilarity(
  state: CollaborativeState,
  slot: number,
  na: number,
  nb: number,
  shrink: number,
): number {
  const together = state.pairs.together[slot]!;
  const users = state.pairs.users[slot]!;
  if (together <= 0 || na <= 0 || nb <= 0) return 0;
  // ≤ 1 by Cauchy–Schwarz; the min only absorbs rounding and pairs left by a window eviction.
  const cosine = Math.min(1, together / Math.sqrt(na * nb));
  return (cosine * users) / (users + shrink);
}

/** What a booking or cancellation changed, for neighbour maintenance. */
export interface Change {
  readonly eventId: string;
  /** Events that lost their last co-booking with eventId (their rows no longer list it). */
  readonly unpaired: readonly string[];
}

/**
 * Records a booking. Returns what changed, or undefined when nothing did (the user already holds
 * a booking of this event: set semantics).
 */
export function addBooking(
  state: CollaborativeState,
  options: CollaborativeOptions,
  userId: string,
  eventId: string,
  at: number,
  weight: number,
): Change | undefined {
  const history = state.users.get(userId) ?? [];
  const existing = history.find((entry) => entry.eventId === eventId);
  if (existing) {
    existing.bookings += 1;
    return undefined;
  }
  // An empty model takes its anchor from its first booking, as a retrain on the same data would.
  if (state.items.size === 0) state.anchor = at;
  rebaseIfNeeded(state, options, at);
  const own = weight * growth(at, state.anchor, options.halfLifeMs);
  const root = Math.sqrt(own);
  const item = state.items.get(eventId) ?? { weight: 0, users: 0 };
  item.weight += own;
  item.users += 1;
  state.items.set(eventId, item);
  const { pairs } = state;
  const row = history.length > 0 ? rowOf(pairs, eventId) : undefined;
  for (const other of history) {
    const slot = row?.get(other.eventId) ?? ensurePair(pairs, eventId, other.eventId);
    pairs.together[slot] = pairs.together[slot]! + root * other.root;
    pairs.users[slot] = pairs.users[slot]! + 1;
  }
  history.push({ eventId, at, weight, bookings: 1, root });
  if (history.length > options.historyWindow) history.shift();
  state.users.set(userId, history);
  return { eventId, unpaired: [] };
}

/**
 * Records a cancellation: undoes the booking's contributions against the user's current window.
 * A cancellation of a booking the window no longer holds (or never held) changes nothing: it has
 * either decayed or was never counted. Co-bookings with events that have since left the window stay
 * (they are not recorded per user); they are old by then, and a full retrain keeps them too.
 */
export function removeBooking(
  state: CollaborativeState,
  options: CollaborativeOptions,
  userId: string,
  eventId: string,
): Change | undefined {
  const history = state.users.get(userId);
  const index = history?.findIndex((entry) => entry.eventId === eventId) ?? -1;
  const entry = history?.[index];
  if (!history || !entry) return undefined;
  if (entry.bookings > 1) {
    entry.bookings -= 1;
    return undefined;
  }
  history.splice(index, 1);
  if (history.length === 0) state.users.delete(userId);
  const own = entry.weight * growth(entry.at, state.anchor, options.halfLifeMs);
  const { pairs } = state;
  const unpaired: string[] = [];
  for (const other of history) {
    const slot = pairSlot(pairs, eventId, other.eventId);
    if (slot === undefined) continue;
    pairs.users[slot] = pairs.users[slot]! - 1;
    pairs.together[slot] = pairs.together[slot]! - entry.root * other.root;
    if (pairs.users[slot]! <= 0) {
      deletePair(pairs, eventId, other.eventId);
      unpaired.push(other.eventId);
    }
  }
  const item = state.items.get(eventId);
  if (item) {
    item.users -= 1;
    item.weight -= own;
    if (item.users <= 0) {
      // Nobody books it any more: drop it and whatever pairs evicted windows left behind, so that no
      // float residue survives.
      for (const other of [...(pairs.rows.get(eventId)?.keys() ?? [])]) {
        deletePair(pairs, eventId, other);
        unpaired.push(other);
      }
      state.items.delete(eventId);
    }
  }
  return { eventId, unpaired };
}

/** Moves the anchor forward by whole half-lives before stored weights could overflow. */
function rebaseIfNeeded(state: CollaborativeState, options: CollaborativeOptions, at: number): void {
  const halfLives = rebaseHalfLives(at, state.anchor, options.halfLifeMs);
  if (halfLives === 0) return;
  const factor = Math.pow(2, -halfLives);
  for (const item of state.items.values()) item.weight *= factor;
  const { together, used } = state.pairs;
  for (let slot = 0; slot < used; slot++) together[slot] = together[slot]! * factor;
  const rootFactor = Math.sqrt(factor);
  for (const history of state.users.values()) for (const entry of history) entry.root *= rootFactor;
  state.anchor += halfLives * options.halfLifeMs;
}

/** The top neighbours of one event, computed from its row. */
function scanNeighbours(state: CollaborativeState, options: CollaborativeOptions, id: string): Neighbour[] {
  const list: Neighbour[] = [];
  const own = state.items.get(id)?.weight ?? 0;
  for (const [other, slot] of state.pairs.rows.get(id) ?? []) {
    if (state.retired.has(other)) continue;
    const s = slotSimilarity(state, slot, own, state.items.get(other)?.weight ?? 0, options.shrink);
    if (s > 0) list.push({ eventId: other, similarity: s });
  }
  return list.sort(compareNeighbours).slice(0, options.neighbours);
}

function setNeighbours(state: CollaborativeState, id: string, list: Neighbour[]): void {
  if (list.length === 0) state.neighbours.delete(id);
  else state.neighbours.set(id, list);
}

/** Builds every neighbour list from the counts (after training or loading a snapshot). */
export function buildNeighbours(
  state: CollaborativeState,
  options: CollaborativeOptions,
  onProgress?: (done: number, total: number) => void,
): void {
  state.neighbours.clear();
  const ids = [...state.pairs.rows.keys()];
  ids.forEach((id, i) => {
    setNeighbours(state, id, scanNeighbours(state, options, id));
    if (onProgress && (i % 500 === 499 || i === ids.length - 1)) onProgress(i + 1, ids.length);
  });
}

/**
 * Brings the neighbour lists up to date after a change to one event, touching only what can have
 * moved. A change to event e alters n_e and e's pairs, so only sim(e, ·) changes: e's own list is
 * rescanned, and in every other list only e's entry is moved. That is exact unless e sinks to the
 * last place of a full list (or leaves it) while the row holds events outside the list, which might
 * now rank higher: then that list is rescanned too. Lists therefore equal a full rebuild.
 */
export function updateNeighbours(
  state: CollaborativeState,
  options: CollaborativeOptions,
  change: Change,
): void {
  const { eventId } = change;
  setNeighbours(state, eventId, scanNeighbours(state, options, eventId));
  const partners = new Set([...(state.pairs.rows.get(eventId)?.keys() ?? []), ...change.unpaired]);
  for (const other of partners) moveEntry(state, options, other, eventId);
}

/** Re-places `moved` in `id`'s list after sim(id, moved) changed (see updateNeighbours). */
function moveEntry(
  state: CollaborativeState,
  options: CollaborativeOptions,
  id: string,
  moved: string,
): void {
  const list = state.neighbours.get(id) ?? [];
  const index = list.findIndex((n) => n.eventId === moved);
  const s = state.retired.has(moved) ? 0 : similarity(state, id, moved, options.shrink);
  const entry: Neighbour = { eventId: moved, similarity: s };
  if (index === -1) {
    // Not listed before: it enters only if it now beats the last place (or there is room).
    const full = list.length >= options.neighbours;
    if (s <= 0 || (full && compareNeighbours(entry, list[list.length - 1]!) > 0)) return;
    insertSorted(list, entry);
    if (list.length > options.neighbours) list.length = options.neighbours;
    state.neighbours.set(id, list);
    return;
  }
  list.splice(index, 1);
  if (s > 0) insertSorted(list, entry);
  const rowSize = state.pairs.rows.get(id)?.size ?? 0;
  const mayHaveOutsiders = rowSize > list.length;
  const sankToLast = list.length === options.neighbours && list[list.length - 1]?.eventId === moved;
  if (mayHaveOutsiders && (list.length < options.neighbours || sankToLast))
    setNeighbours(state, id, scanNeighbours(state, options, id));
  else setNeighbours(state, id, list);
}

function insertSorted(list: Neighbour[], entry: Neighbour): void {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareNeighbours(list[middle]!, entry) < 0) low = middle + 1;
    else high = middle;
  }
  list.splice(low, 0, entry);
}

/** Stops offering an event as a neighbour (all its shows are over), or offers it again. */
export function setRetired(
  state: CollaborativeState,
  options: CollaborativeOptions,
  eventId: string,
  retired: boolean,
): void {
  if (state.retired.has(eventId) === retired) return;
  if (retired) state.retired.add(eventId);
  else state.retired.delete(eventId);
  for (const other of state.pairs.rows.get(eventId)?.keys() ?? []) moveEntry(state, options, other, eventId);
}

/** Divide a stored weight by this to get its decayed value at `now`. */
export function decayDivisor(state: CollaborativeState, options: CollaborativeOptions, now: number): number {
  return growth(now, state.anchor, options.halfLifeMs);
}

/** The cached root of a history entry, computed from its booking (after loading a snapshot). */
export function entryRoot(
  state: CollaborativeState,
  options: CollaborativeOptions,
  at: number,
  weight: number,
): number {
  return Math.sqrt(weight * growth(at, state.anchor, options.halfLifeMs));
}

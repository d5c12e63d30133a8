/*
 * The pure parts of the flash-sale bench (scripts/bench/flash-sale.ts): how a buyer picks seats from
 * what it saw, the sale's curve per second, and the final check of the nodes' SOLD seats against
 * what the buyers were told. No clock, no randomness, no I/O: time and random numbers come in.
 */

/** Seats per booking: a whole number, or a range "1..4" drawn uniformly per booking. */
export interface SeatRange {
  min: number;
  max: number;
}

export function parseSeatRange(text: string): SeatRange {
  const match = /^(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  const min = Number(match?.[1]);
  const max = Number(match?.[2] ?? match?.[1]);
  // HoldSeats takes at most 10 seats.
  if (!match || min < 1 || max < min || max > 10)
    throw new Error(`seats per booking: "${text}" is not N or A..B with 1 ≤ A ≤ B ≤ 10`);
  return { min, max };
}

/** A whole number in the range, from `random()` in [0, 1). */
export function drawCount(range: SeatRange, random: () => number): number {
  return range.min + Math.min(range.max - range.min, Math.floor(random() * (range.max - range.min + 1)));
}

/**
 * Up to `count` distinct seats of `free`, at random, none that `skip` rules out (the seats this buyer
 * was refused since its view was read): fewer when fewer are left. Random draws while most seats are
 * still candidates (cheap on a 5,000-seat list), then a pass over what is left.
 */
export function pickSeats(
  free: readonly string[],
  count: number,
  skip: (seatId: string) => boolean,
  random: () => number,
): string[] {
  const picked = new Set<string>();
  for (let tries = 0; tries < count * 8 && picked.size < count && free.length > 0; tries++) {
    const seat = free[Math.floor(random() * free.length)]!;
    if (!skip(seat)) picked.add(seat);
  }
  if (picked.size < count) {
    const rest = free.filter((seat) => !picked.has(seat) && !skip(seat));
    while (picked.size < count && rest.length > 0) {
      const at = Math.floor(random() * rest.length);
      picked.add(rest[at]!);
      rest[at] = rest[rest.length - 1]!;
      rest.pop();
    }
  }
  return [...picked];
}

/** Something that happened `n` times at `atMs` (a booking of n seats). */
export interface Tally {
  atMs: number;
  n: number;
}

/** The sums of `tallies` per whole second after `startMs`, for `seconds` seconds (later ones count in the last). */
export function perSecond(tallies: readonly Tally[], startMs: number, seconds: number): number[] {
  const buckets = new Array<number>(Math.max(1, Math.ceil(seconds))).fill(0);
  for (const { atMs, n } of tallies) {
    const at = Math.min(buckets.length - 1, Math.max(0, Math.floor((atMs - startMs) / 1000)));
    buckets[at]! += n;
  }
  return buckets;
}

/**
 * The running total of `tallies` as (seconds after `startMs`, total) points, one at the end of each
 * `stepMs` in which something happened, from (0, 0): a line of hundreds of points for thousands of
 * tallies.
 */
export function cumulative(
  tallies: readonly Tally[],
  startMs: number,
  stepMs = 100,
): { t: number; v: number }[] {
  const steps = new Map<number, number>();
  for (const { atMs, n } of tallies) {
    const step = Math.max(0, Math.ceil((atMs - startMs) / stepMs));
    steps.set(step, (steps.get(step) ?? 0) + n);
  }
  const points = [{ t: 0, v: 0 }];
  let total = 0;
  for (const [step, n] of [...steps].sort((a, b) => a[0] - b[0])) {
    total += n;
    points.push({ t: (step * stepMs) / 1000, v: total });
  }
  return points;
}

export interface SoldCheckInput {
  /** SOLD seats of the show in each node's database, by node id. */
  soldPerNode: ReadonlyMap<number, number>;
  /** Seats of the bookings whose confirmation a buyer saw. */
  acknowledgedSeats: number;
  /**
   * Seats of bookings whose confirmation was sent but never answered (the buyer gave up, or the sale
   * ended first): each may or may not have been sold.
   */
  inDoubtSeats: number;
  /** Seats of the show. */
  totalSeats: number;
}

/**
 * Every node sold the same number of seats, at least the acknowledged ones and at most those plus
 * the seats in doubt, and no more than the show has. (That no seat went to two bookings is the
 * invariant checker's rule 2, run beside this.)
 */
export function checkSold(input: SoldCheckInput): { ok: boolean; text: string } {
  const counts = [...input.soldPerNode.values()];
  const first = counts[0];
  const problems: string[] = [];
  if (first === undefined) problems.push('no node was read');
  if (counts.some((n) => n !== first)) problems.push('the nodes disagree');
  const high = input.acknowledgedSeats + input.inDoubtSeats;
  if (counts.some((n) => n < input.acknowledgedSeats)) problems.push('fewer SOLD than acknowledged');
  if (counts.some((n) => n > high)) problems.push('more SOLD than acknowledged (and in doubt)');
  if (counts.some((n) => n > input.totalSeats)) problems.push('more SOLD than the show has');
  const perNode = [...input.soldPerNode].map(([id, n]) => `node ${id} ${n}`).join(', ');
  const doubt = input.inDoubtSeats > 0 ? ` (+${input.inDoubtSeats} in doubt)` : '';
  return {
    ok: problems.length === 0,
    text:
      `SOLD seats: ${perNode || 'none read'}; seats of acknowledged bookings: ${input.acknowledgedSeats}${doubt}` +
      (problems.length > 0 ? ` — ${problems.join('; ')}` : ''),
  };
}

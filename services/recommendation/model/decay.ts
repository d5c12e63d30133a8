/*
 * Forward exponential decay (Cormode, Shkapenyuk, Srivastava, Xu: "Forward Decay: A Practical Time
 * Decay Model for Streaming Systems", ICDE 2009). A booking at time t is stored with the weight
 * 2^((t − anchor) / halfLife), which never changes afterwards; its decayed weight at any later time T
 * is that value divided by 2^((T − anchor) / halfLife). So counts are plain sums that a new booking
 * updates in O(1), nothing has to be re-decayed as time passes, and ratios of two counts (the
 * similarities) do not depend on T at all.
 *
 * The stored values grow with t, so when they approach the double range the caller rebases: moves
 * the anchor forward by a whole number of half-lives and multiplies everything by the same power of
 * two, which is exact in floating point.
 */

/** Rebase before stored weights pass 2^this (doubles overflow just past 2^1023; pair sums add more). */
export const MAX_GROWTH_EXPONENT = 600;

/** The stored (forward) weight of something that happened at `at`. */
export function growth(at: number, anchor: number, halfLifeMs: number): number {
  return Math.pow(2, (at - anchor) / halfLifeMs);
}

/** Turns a stored sum into its decayed value at `now`. */
export function decayedAt(stored: number, now: number, anchor: number, halfLifeMs: number): number {
  return stored / growth(now, anchor, halfLifeMs);
}

/**
 * How many whole half-lives the anchor must move so that an event at `at` stays far from overflow,
 * or 0 when no rebase is needed.
 */
export function rebaseHalfLives(at: number, anchor: number, halfLifeMs: number): number {
  const exponent = (at - anchor) / halfLifeMs;
  return exponent > MAX_GROWTH_EXPONENT ? Math.floor(exponent) : 0;
}

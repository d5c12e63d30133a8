// @ts-check
/*
 * The show page's hold, kept in sessionStorage: the API cannot say who holds a seat, so a reload
 * learns which seats are "mine" (and the countdown) from here.
 */
import * as api from '../api.js';

/** @typedef {import('../../../schemas/answers').Answer<'hold'>} Hold */

/** @param {string} showId */
const holdKey = (showId) => `marquee.hold.${showId}`;

/**
 * The hold this tab made for the show, unless it has expired.
 * @param {string} showId
 * @returns {Hold | null}
 */
export function storedHold(showId) {
  try {
    const hold = JSON.parse(sessionStorage.getItem(holdKey(showId)) ?? 'null');
    return hold && Date.parse(hold.expiresAt) > api.serverNow() ? hold : null;
  } catch {
    return null;
  }
}

/**
 * @param {string} showId
 * @param {Hold | null} hold null forgets it
 */
export function storeHold(showId, hold) {
  if (hold) sessionStorage.setItem(holdKey(showId), JSON.stringify(hold));
  else sessionStorage.removeItem(holdKey(showId));
}

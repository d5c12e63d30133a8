// @ts-check
/*
 * The seat map's "Live" badge: how the show's event stream is doing. While the stream reports the
 * booking group not answering, the map may be stale ("Paused"); it says `upstream-ok` when the
 * group answers again (or sends changes, or a snapshot after a reconnect).
 */
import { h } from '../dom.js';

/** @typedef {import('../sse.js').FeedState | 'paused'} LiveState */

/** @type {Record<LiveState, string>} */
const LIVE_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  paused: 'Paused — the booking system is switching over',
  stopped: 'Live updates stopped',
};

export function createLiveStatus() {
  const element = h('span', { class: 'live', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  let pausedNow = false;
  /** @param {LiveState} state */
  const set = (state) => {
    element.dataset.state = state;
    element.textContent = LIVE_TEXT[state] ?? state;
  };
  return {
    element,
    /** The stream's own state; 'live' does not end a pause (only news from the group does). */
    /** @param {import('../sse.js').FeedState} state */
    streamState(state) {
      if (state === 'live' && pausedNow) return;
      set(state);
    },
    paused() {
      pausedNow = true;
      set('paused');
    },
    resumed() {
      if (!pausedNow) return;
      pausedNow = false;
      set('live');
    },
  };
}

// @ts-check
/*
 * The show's seat-map event stream (GET /api/shows/:showId/events), turned into calls on the page:
 * a snapshot, changed seats and pools, the group pausing and resuming, the stream ending.
 */
import * as api from '../api.js';
import { isUnavailable } from '../explain.js';
import * as messages from '../messages.js';
import { subscribe } from '../sse.js';

/**
 * @typedef {import('../../../schemas/models').Availability} Availability
 * @typedef {{ seats: { seatId: string, state: Availability['seats'][number]['state'] }[], pools: Partial<Availability['pools'][number]>[] }} SeatChanges
 */

/**
 * @param {string} showId
 * @param {{
 *   snapshot: (availability: Availability) => void,
 *   changes: (changes: SeatChanges) => void,
 *   live: ReturnType<typeof import('./show-live-status.js').createLiveStatus>,
 *   signal: AbortSignal,
 * }} page
 */
export function watchShow(showId, { snapshot, changes, live, signal }) {
  subscribe(
    () => api.showEventsUrl(showId),
    {
      snapshot: (data) => {
        live.resumed();
        snapshot(data);
      },
      seats: (data) => {
        live.resumed();
        changes(data);
      },
      'upstream-error': () => live.paused(),
      'upstream-ok': () => live.resumed(),
      error: (data) => {
        if (data?.error?.code === 'NOT_FOUND') messages.error('This show is no longer on sale.');
        else messages.error('Live seat updates stopped: please sign in again.');
      },
    },
    {
      signal,
      onState: (state) => live.streamState(state),
      // A refused reconnect: go on only while the session still works.
      canRetry: async () => {
        try {
          await api.me(signal);
          return true;
        } catch (error) {
          return isUnavailable(error);
        }
      },
    },
  );
}

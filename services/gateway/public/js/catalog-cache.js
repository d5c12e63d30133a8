// @ts-check
/*
 * Catalog answers remembered for the tab, for lists that need names the API does not put in them:
 * shows carry only venue and hall ids (and the API has no venue route), bookings only a show id. A
 * show's details (GET /api/shows/:id) name its event, venue and hall.
 */
import * as api from './api.js';

const shows = new Map(); // showId → Promise<detail>
const places = new Map(); // 'venueId|hallId' → Promise<{venue, hallName}>

const placeKey = (venueId, hallId) => `${venueId}|${hallId}`;

/** The show's details, fetched once; a failed fetch is forgotten so the next caller tries again. */
export function showDetail(showId, signal) {
  let known = shows.get(showId);
  if (!known) {
    known = api.getShow(showId, signal);
    shows.set(showId, known);
    known.then(remember, () => shows.delete(showId));
  }
  return known;
}

/** Where `show` ({id, venueId, hallId}) plays: {venue, hallName}, or null when it cannot be read. */
export function placeOf(show, signal) {
  const key = placeKey(show.venueId, show.hallId);
  if (!places.has(key))
    places.set(
      key,
      showDetail(show.id, signal).then((d) => ({ venue: d.venue, hallName: d.hall?.name ?? show.hallId })),
    );
  return places.get(key).catch(() => {
    places.delete(key);
    return null;
  });
}

/** Details fetched elsewhere (the show page) fill the caches too. */
export function remember(detail) {
  if (detail?.show?.id && !shows.has(detail.show.id)) shows.set(detail.show.id, Promise.resolve(detail));
  const key = detail?.show && placeKey(detail.show.venueId, detail.show.hallId);
  if (key && detail.venue && !places.has(key))
    places.set(
      key,
      Promise.resolve({ venue: detail.venue, hallName: detail.hall?.name ?? detail.show.hallId }),
    );
}

import type { Logger } from 'pino';
import { requireAdmin } from '../common/auth';
import { NotFoundError } from '../common/errors';
import type { AsyncHandlers, CallContext } from '../common/grpc-server';
import { readPage } from '../common/pagination';
import { optionalString, requiredId } from '../common/validate';
import type { CatalogServiceServer, ShowDetail } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ReadCache } from './cache';
import { expandSeats, gaAreaPrices } from './seat-map';
import type { CatalogStore } from './store';
import {
  LIMITS,
  requireNoId,
  validateEvent,
  validateSearch,
  validateShow,
  validateVenue,
} from './validation';

export interface CatalogHandlerDeps {
  store: CatalogStore;
  cache: ReadCache;
  tokenSecret: string;
  logger: Logger;
  now?: () => number;
}

/**
 * The unary CatalogService methods. Reads are public and go through the cache; writes need the
 * admin role, are validated whole before the store is touched, and clear the cache once they have
 * committed so the caller's next read sees them.
 */
export function catalogHandlers(deps: CatalogHandlerDeps): AsyncHandlers<CatalogServiceServer> {
  const { store, cache, logger } = deps;
  const now = deps.now ?? Date.now;
  const admin = (context: CallContext): string =>
    requireAdmin(context.metadata, deps.tokenSecret, now()).userId;
  const wrote = (what: string, fields: Record<string, string>, by: string): void => {
    cache.clear();
    logger.info({ ...fields, by }, what);
  };

  return {
    // ---- reads

    searchEvents: async (request) => {
      const filter = validateSearch(request);
      const page = readPage(request.pageSize, request.pageToken);
      return cache.getOrLoad(`search:${JSON.stringify([filter, page])}`, async () => {
        const found = await store.searchEvents(filter, page);
        return { events: found.items, nextPageToken: found.nextPageToken };
      });
    },

    getEvent: async (request) => {
      const id = requiredId(request.eventId, 'event_id');
      const event = await cache.getOrLoad(`event:${id}`, () => store.getEvent(id));
      if (!event) throw new NotFoundError('event', id, 'event_id');
      return event;
    },

    listShows: async (request) => {
      const page = readPage(request.pageSize, request.pageToken);
      // No event: the whole catalog's shows, for a reader that mirrors it (the recommendation
      // service), in a few pages instead of one call per event. Not cached: read rarely and whole.
      if (request.eventId === '') {
        const all = await store.listAllShows(page);
        return { shows: all.items, nextPageToken: all.nextPageToken };
      }
      const id = requiredId(request.eventId, 'event_id');
      return cache.getOrLoad(`shows:${id}:${page.offset}:${page.size}`, async () => {
        // An unknown event is an error, not an empty list: the caller most likely has a wrong id.
        if (!(await store.getEvent(id))) throw new NotFoundError('event', id, 'event_id');
        const found = await store.listShows(id, page);
        return { shows: found.items, nextPageToken: found.nextPageToken };
      });
    },

    getShow: async (request) => {
      const id = requiredId(request.showId, 'show_id');
      const detail = await cache.getOrLoad(`show:${id}`, () => loadShowDetail(store, id));
      if (!detail) throw new NotFoundError('show', id, 'show_id');
      return detail;
    },

    listVenues: async (request) => {
      const city = optionalString(request.city, 'city', { max: LIMITS.cityLength });
      const page = readPage(request.pageSize, request.pageToken);
      const found = await store.listVenues(city, page);
      return { venues: found.items, nextPageToken: found.nextPageToken };
    },

    getVenue: async (request) => {
      const id = requiredId(request.venueId, 'venue_id');
      const venue = await store.getVenue(id);
      if (!venue) throw new NotFoundError('venue', id, 'venue_id');
      return venue;
    },

    // ---- writes (admin)

    createVenue: async (request, context) => {
      const by = admin(context);
      requireNoId(request.venue?.id, 'venue.id');
      const venue = await store.createVenue(validateVenue(request.venue));
      wrote('venue created', { venueId: venue.id }, by);
      return venue;
    },

    updateVenue: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.venue?.id, 'venue.id');
      const venue = await store.updateVenue(id, validateVenue(request.venue));
      wrote('venue updated', { venueId: id }, by);
      return venue;
    },

    deleteVenue: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.venueId, 'venue_id');
      await store.deleteVenue(id);
      wrote('venue deleted', { venueId: id }, by);
      return {};
    },

    createEvent: async (request, context) => {
      const by = admin(context);
      requireNoId(request.event?.id, 'event.id');
      const event = await store.createEvent(validateEvent(request.event));
      wrote('event created', { eventId: event.id }, by);
      return event;
    },

    updateEvent: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.event?.id, 'event.id');
      const event = await store.updateEvent(id, validateEvent(request.event));
      wrote('event updated', { eventId: id }, by);
      return event;
    },

    deleteEvent: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.eventId, 'event_id');
      await store.deleteEvent(id);
      wrote('event deleted', { eventId: id }, by);
      return {};
    },

    createShow: async (request, context) => {
      const by = admin(context);
      requireNoId(request.show?.id, 'show.id');
      const show = await store.createShow(validateShow(request.show));
      wrote('show created', { showId: show.id }, by);
      return show;
    },

    updateShow: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.show?.id, 'show.id');
      const show = await store.updateShow(id, validateShow(request.show));
      wrote('show updated', { showId: id }, by);
      return show;
    },

    deleteShow: async (request, context) => {
      const by = admin(context);
      const id = requiredId(request.showId, 'show_id');
      await store.deleteShow(id);
      wrote('show deleted', { showId: id }, by);
      return {};
    },
  };
}

/** A show with its event, venue (without halls), hall and priced seat map; undefined when unknown. */
export async function loadShowDetail(store: CatalogStore, id: string): Promise<ShowDetail | undefined> {
  const show = await store.getShow(id);
  if (!show) return undefined;
  const [event, venue] = await Promise.all([store.getEvent(show.eventId), store.getVenue(show.venueId)]);
  const hall = venue?.halls.find((h) => h.id === show.hallId);
  // The store refuses deletes and venue changes that would orphan a show, so this is a broken invariant.
  if (!event || !venue || !hall) throw new Error(`show ${id} refers to a missing event, venue or hall`);
  return {
    show,
    event,
    venue: { ...venue, halls: [] },
    hall,
    seats: expandSeats(hall, show.prices),
    gaAreas: gaAreaPrices(hall, show.prices),
  };
}

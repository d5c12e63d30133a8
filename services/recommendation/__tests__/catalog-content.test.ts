import type { Metadata } from '@grpc/grpc-js';
import type {
  CatalogServiceClient,
  Event,
  ListShowsRequest,
  SearchEventsRequest,
  Show,
  Venue,
} from '../../../proto/gen/marquee/catalog/v1/catalog';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { loadCatalogContent } from '../catalog-content';

/*
 * The catalog read the recommendation service repeats every 15 s: with a large catalog it must cost
 * a few calls per hundred rows (venues, events, every show at once), never one call per event. A
 * fake catalog answers the paged listings and counts the calls.
 */

type Callback<Res> = (error: Error | null, response: Res) => void;

function pageOf<T>(items: readonly T[], pageToken: string, pageSize: number) {
  const offset = pageToken === '' ? 0 : Number(pageToken);
  const next = offset + pageSize;
  return { items: items.slice(offset, next), nextPageToken: next < items.length ? String(next) : '' };
}

function fakeCatalog(venues: Venue[], events: Event[], shows: Show[]) {
  const calls = { listVenues: 0, searchEvents: 0, listShows: 0, showsOfOneEvent: 0 };
  const client = {
    listVenues: (
      request: { pageSize: number; pageToken: string },
      _m: Metadata,
      _o: unknown,
      done: Callback<unknown>,
    ) => {
      calls.listVenues++;
      const page = pageOf(venues, request.pageToken, request.pageSize);
      done(null, { venues: page.items, nextPageToken: page.nextPageToken });
    },
    searchEvents: (request: SearchEventsRequest, _m: Metadata, _o: unknown, done: Callback<unknown>) => {
      calls.searchEvents++;
      const page = pageOf(events, request.pageToken, request.pageSize);
      done(null, { events: page.items, nextPageToken: page.nextPageToken });
    },
    listShows: (request: ListShowsRequest, _m: Metadata, _o: unknown, done: Callback<unknown>) => {
      calls.listShows++;
      if (request.eventId !== '') calls.showsOfOneEvent++;
      const matching = shows.filter((s) => request.eventId === '' || s.eventId === request.eventId);
      const page = pageOf(matching, request.pageToken, request.pageSize);
      done(null, { shows: page.items, nextPageToken: page.nextPageToken });
    },
  };
  return { client: client as unknown as CatalogServiceClient, calls };
}

const venue = (i: number): Venue =>
  ({ id: `ven_${i}`, name: `Venue ${i}`, city: i % 2 === 0 ? 'Lyon' : 'Porto' }) as Venue;
const event = (i: number): Event => ({
  id: `evt_${i}`,
  title: `Event ${i}`,
  kind: EventKind.EVENT_KIND_MOVIE,
  genres: ['Drama'],
  durationMinutes: 90,
  description: '',
  cast: [],
  artists: [],
  posterUrl: '',
  externalId: '',
});
const show = (i: number, eventIndex: number, venueIndex: number): Show => ({
  id: `shw_${String(i).padStart(5, '0')}`,
  eventId: `evt_${eventIndex}`,
  venueId: `ven_${venueIndex}`,
  hallId: 'main',
  startsAt: new Date(Date.UTC(2031, 0, 1) + i * 3_600_000).toISOString(),
  currency: 'EUR',
  prices: [],
  externalId: '',
});

describe('loadCatalogContent', () => {
  it('reads 1,000 events and 3,000 shows in a few dozen calls, with each event’s venues, cities and times', async () => {
    const venues = Array.from({ length: 4 }, (_, i) => venue(i));
    const events = Array.from({ length: 1000 }, (_, i) => event(i));
    // Three shows per event (event 999 has none), show i at venue i % 4.
    const shows = Array.from({ length: 3000 }, (_, i) => show(i, Math.floor(i / 3) % 999, i % 4));
    const { client, calls } = fakeCatalog(venues, events, shows);

    const content = await loadCatalogContent(client);

    expect(calls).toEqual({ listVenues: 1, searchEvents: 10, listShows: 30, showsOfOneEvent: 0 });
    expect(content.events).toHaveLength(1000);
    expect(content.showEvents.size).toBe(3000);
    expect(content.showEvents.get('shw_00004')).toBe('evt_1');
    const first = content.events.find((e) => e.eventId === 'evt_1')!;
    expect(first.showStarts).toEqual([shows[3]!.startsAt, shows[4]!.startsAt, shows[5]!.startsAt]);
    expect([...(first.venueIds ?? [])].sort()).toEqual(['ven_0', 'ven_1', 'ven_3']);
    expect([...(first.cities ?? [])].sort()).toEqual(['Lyon', 'Porto']);
    const showless = content.events.find((e) => e.eventId === 'evt_999')!;
    expect(showless).toMatchObject({ venueIds: [], cities: [], showStarts: [] });
  });
});

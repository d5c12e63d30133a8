import { status } from '@grpc/grpc-js';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { Event, Show, ShowDetail, Venue } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { aShow, aVenue, anEvent, expectGrpcError, startHarness } from './harness';
import type { Harness } from './harness';

let h: Harness;
let c: Harness['client'];

beforeAll(async () => {
  h = await startHarness('catalog_crud');
  c = h.client;
});
afterAll(async () => {
  await h.close();
});

describe('venues', () => {
  it('creates a venue with normalized codes and reads it back exactly', async () => {
    const created = await h.call(c.createVenue, { venue: aVenue() }, h.adminToken);
    expect(created.id).toMatch(/^ven_[0-9a-f]{32}$/);
    expect(created.halls).toEqual([
      {
        id: 'MAIN',
        name: 'Main Hall',
        sections: [
          {
            id: 'ORCH',
            name: 'Orchestra',
            priceTier: 'premium',
            rows: [
              { label: 'A', seatCount: 3 },
              { label: 'B', seatCount: 2 },
            ],
          },
          { id: 'BALC', name: 'Balcony', priceTier: 'standard', rows: [{ label: '1', seatCount: 2 }] },
        ],
        gaAreas: [{ id: 'FLOOR', name: 'Standing floor', priceTier: 'standing', capacity: 150 }],
      },
    ]);
    const read = await h.call(c.getVenue, { venueId: created.id });
    expect(read).toEqual(created);
  });

  it('updates a venue as a whole and lists venues by city, a page at a time', async () => {
    const venue = await h.call(
      c.createVenue,
      { venue: aVenue({ name: 'Zenith', city: 'Bergen' }) },
      h.adminToken,
    );
    const second: Venue = {
      ...venue,
      name: 'Zenith Arena',
      halls: [
        ...venue.halls,
        {
          id: 'SIDE',
          name: 'Side Room',
          sections: [],
          gaAreas: [{ id: 'ALL', name: 'All', priceTier: 'standard', capacity: 40 }],
        },
      ],
    };
    const updated = await h.call(c.updateVenue, { venue: second }, h.adminToken);
    expect(updated).toEqual(second);
    expect(await h.call(c.getVenue, { venueId: venue.id })).toEqual(second);

    await h.call(c.createVenue, { venue: aVenue({ name: 'Alpha Stage', city: 'bergen' }) }, h.adminToken);
    const first = await h.call(c.listVenues, { city: 'Bergen', pageSize: 1, pageToken: '' });
    expect(first.venues.map((v) => v.name)).toEqual(['Alpha Stage']);
    expect(first.nextPageToken).not.toBe('');
    const last = await h.call(c.listVenues, { city: 'Bergen', pageSize: 1, pageToken: first.nextPageToken });
    expect(last.venues.map((v) => v.name)).toEqual(['Zenith Arena']);
    expect(last.nextPageToken).toBe('');
  });

  it('refuses a second venue with the same external id', async () => {
    await h.call(c.createVenue, { venue: aVenue({ externalId: 'ext-v1' }) }, h.adminToken);
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ externalId: 'ext-v1' }) }, h.adminToken),
      status.ALREADY_EXISTS,
      'venue.external_id',
      'ext-v1',
    );
  });
});

describe('events and shows', () => {
  let venue: Venue;
  let event: Event;
  let show: Show;

  beforeAll(async () => {
    venue = await h.call(c.createVenue, { venue: aVenue({ name: 'Show Palace' }) }, h.adminToken);
    event = await h.call(
      c.createEvent,
      { event: anEvent({ genres: ['Drama', 'drama', 'Mystery'] }) },
      h.adminToken,
    );
    show = await showAt(event.id, '2031-06-01T21:30:00+02:00');
  });

  /** A show of `eventId` in the Show Palace starting at `startsAt`, created as admin. */
  const showAt = (eventId: string, startsAt: string): Promise<Show> =>
    h.call(c.createShow, { show: aShow(eventId, venue.id, { startsAt }) }, h.adminToken);

  it('creates an event and reads it back, genres deduplicated', async () => {
    expect(event.id).toMatch(/^evt_/);
    expect(event.genres).toEqual(['Drama', 'Mystery']);
    expect(await h.call(c.getEvent, { eventId: event.id })).toEqual(event);
  });

  it('stores show starts in UTC', () => {
    expect(show.startsAt).toBe('2031-06-01T19:30:00Z');
    expect(show.hallId).toBe('MAIN');
  });

  it('returns a show with its event, venue without halls, hall, priced seats and GA areas', async () => {
    const detail: ShowDetail = await h.call(c.getShow, { showId: show.id });
    expect(detail.show).toEqual(show);
    expect(detail.show?.currency).toBe('EUR');
    expect(detail.event).toEqual(event);
    expect(detail.venue).toEqual({ ...venue, halls: [] });
    expect(detail.hall).toEqual(venue.halls[0]);
    expect(detail.seats.map((s) => [s.id, s.label, s.amountCents])).toEqual([
      ['ORCH-A-1', 'Orchestra A1', 4500],
      ['ORCH-A-2', 'Orchestra A2', 4500],
      ['ORCH-A-3', 'Orchestra A3', 4500],
      ['ORCH-B-1', 'Orchestra B1', 4500],
      ['ORCH-B-2', 'Orchestra B2', 4500],
      ['BALC-1-1', 'Balcony 1-1', 2500],
      ['BALC-1-2', 'Balcony 1-2', 2500],
    ]);
    expect(detail.gaAreas).toEqual([
      { id: 'FLOOR', name: 'Standing floor', priceTier: 'standing', capacity: 150, amountCents: 1500 },
    ]);
  });

  it("lists an event's shows earliest first across pages", async () => {
    const later = await showAt(event.id, '2031-06-03T19:30:00Z');
    const earlier = await showAt(event.id, '2031-05-30T19:30:00Z');
    const page1 = await h.call(c.listShows, { eventId: event.id, pageSize: 2, pageToken: '' });
    const page2 = await h.call(c.listShows, {
      eventId: event.id,
      pageSize: 2,
      pageToken: page1.nextPageToken,
    });
    expect([...page1.shows, ...page2.shows].map((s) => s.id)).toEqual([earlier.id, show.id, later.id]);
    expect(page2.nextPageToken).toBe('');
    await h.call(c.deleteShow, { showId: later.id }, h.adminToken);
    await h.call(c.deleteShow, { showId: earlier.id }, h.adminToken);
  });

  it('lists every show of the catalog by id, across events and pages, without an event id', async () => {
    const other = await h.call(c.createEvent, { event: anEvent({ title: 'A Second Event' }) }, h.adminToken);
    const second = await showAt(other.id, '2031-07-01T19:30:00Z');
    const third = await showAt(event.id, '2031-07-02T19:30:00Z');
    const all: { id: string; eventId: string }[] = [];
    let pageToken = '';
    do {
      const page = await h.call(c.listShows, { eventId: '', pageSize: 2, pageToken });
      expect(page.shows.length).toBeLessThanOrEqual(2);
      all.push(...page.shows);
      pageToken = page.nextPageToken;
    } while (pageToken);
    const expected = [show.id, second.id, third.id].sort();
    expect(all.map((s) => s.id)).toEqual(expected);
    expect(all.find((s) => s.id === second.id)?.eventId).toBe(other.id);
    await h.call(c.deleteShow, { showId: third.id }, h.adminToken);
    await h.call(c.deleteShow, { showId: second.id }, h.adminToken);
    await h.call(c.deleteEvent, { eventId: other.id }, h.adminToken);
  });

  it('updates an event and a show', async () => {
    const changed = await h.call(
      c.updateEvent,
      { event: { ...event, title: "The Lighthouse (Director's Cut)", kind: EventKind.EVENT_KIND_OTHER } },
      h.adminToken,
    );
    expect(await h.call(c.getEvent, { eventId: event.id })).toEqual(changed);
    const moved = await h.call(
      c.updateShow,
      { show: { ...show, startsAt: '2031-07-01T18:00:00.250Z', currency: 'usd' } },
      h.adminToken,
    );
    expect(moved.startsAt).toBe('2031-07-01T18:00:00.250Z');
    expect(moved.currency).toBe('USD');
    expect((await h.call(c.getShow, { showId: show.id })).show).toEqual(moved);
  });

  it('refuses venue changes that would strand a show', async () => {
    const noHall = { ...venue, halls: [{ ...venue.halls[0]!, id: 'OTHER' }] };
    await expectGrpcError(
      h.call(c.updateVenue, { venue: noHall }, h.adminToken),
      status.FAILED_PRECONDITION,
      'venue.halls',
      'hall "MAIN" is used by 1 show',
      show.id,
    );
    const newTier = {
      ...venue,
      halls: [
        { ...venue.halls[0]!, gaAreas: [{ id: 'FLOOR', name: 'Floor', priceTier: 'vip', capacity: 10 }] },
      ],
    };
    await expectGrpcError(
      h.call(c.updateVenue, { venue: newTier }, h.adminToken),
      status.FAILED_PRECONDITION,
      'tier "vip"',
      show.id,
    );
    expect(await h.call(c.getVenue, { venueId: venue.id })).toEqual(venue);
  });

  it('refuses to delete a venue or event that still has shows, naming the show', async () => {
    await expectGrpcError(
      h.call(c.deleteVenue, { venueId: venue.id }, h.adminToken),
      status.FAILED_PRECONDITION,
      'venue_id',
      'still has 1 show',
      show.id,
    );
    await expectGrpcError(
      h.call(c.deleteEvent, { eventId: event.id }, h.adminToken),
      status.FAILED_PRECONDITION,
      'event_id',
      'still has 1 show',
      show.id,
    );
  });

  it('deletes a show, then its event and venue', async () => {
    await h.call(c.deleteShow, { showId: show.id }, h.adminToken);
    await expectGrpcError(h.call(c.getShow, { showId: show.id }), status.NOT_FOUND, 'show_id', show.id);
    await h.call(c.deleteEvent, { eventId: event.id }, h.adminToken);
    await expectGrpcError(h.call(c.getEvent, { eventId: event.id }), status.NOT_FOUND, 'event_id');
    await h.call(c.deleteVenue, { venueId: venue.id }, h.adminToken);
    await expectGrpcError(h.call(c.getVenue, { venueId: venue.id }), status.NOT_FOUND, 'venue_id');
    await expectGrpcError(
      h.call(c.deleteShow, { showId: show.id }, h.adminToken),
      status.NOT_FOUND,
      'show_id',
    );
  });
});

describe('the read cache', () => {
  it('serves repeated reads from the cache and shows a write as soon as it returns', async () => {
    const venue = await h.call(
      c.createVenue,
      { venue: aVenue({ name: 'Cache Hall', city: 'Cachetown' }) },
      h.adminToken,
    );
    const event = await h.call(c.createEvent, { event: anEvent({ title: 'Cached Title' }) }, h.adminToken);
    const show = await h.call(c.createShow, { show: aShow(event.id, venue.id) }, h.adminToken);
    const search = {
      query: '',
      genre: '',
      city: 'Cachetown',
      fromDate: '',
      toDate: '',
      kind: 0,
      pageSize: 10,
      pageToken: '',
    };

    expect((await h.call(c.getEvent, { eventId: event.id })).title).toBe('Cached Title');
    expect((await h.call(c.searchEvents, search)).events.map((e) => e.title)).toEqual(['Cached Title']);
    expect((await h.call(c.getShow, { showId: show.id })).seats[0]?.amountCents).toBe(4500);
    expect(
      (await h.call(c.listShows, { eventId: event.id, pageSize: 0, pageToken: '' })).shows[0]?.startsAt,
    ).toBe(show.startsAt);
    const before = h.server.cacheStats();
    await h.call(c.getEvent, { eventId: event.id });
    await h.call(c.searchEvents, search);
    await h.call(c.getShow, { showId: show.id });
    await h.call(c.listShows, { eventId: event.id, pageSize: 0, pageToken: '' });
    expect(h.server.cacheStats().hits).toBe(before.hits + 4);

    await h.call(c.updateEvent, { event: { ...event, title: 'Fresh Title' } }, h.adminToken);
    expect((await h.call(c.getEvent, { eventId: event.id })).title).toBe('Fresh Title');
    expect((await h.call(c.searchEvents, search)).events.map((e) => e.title)).toEqual(['Fresh Title']);

    const repriced = aShow(event.id, venue.id, { id: show.id, startsAt: '2031-08-01T10:00:00Z' });
    repriced.prices[0]!.amountCents = 9900;
    await h.call(c.updateShow, { show: repriced }, h.adminToken);
    expect((await h.call(c.getShow, { showId: show.id })).seats[0]?.amountCents).toBe(9900);
    expect(
      (await h.call(c.listShows, { eventId: event.id, pageSize: 0, pageToken: '' })).shows[0]?.startsAt,
    ).toBe('2031-08-01T10:00:00Z');
  });
});

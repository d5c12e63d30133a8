import { status } from '@grpc/grpc-js';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { SearchEventsRequest } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { aShow, aVenue, anEvent, expectGrpcError, startHarness } from './harness';
import type { Harness } from './harness';

let h: Harness;

const search = (request: Partial<SearchEventsRequest>): SearchEventsRequest => ({
  query: '',
  genre: '',
  city: '',
  fromDate: '',
  toDate: '',
  kind: EventKind.EVENT_KIND_UNSPECIFIED,
  pageSize: 0,
  pageToken: '',
  ...request,
});

async function titles(request: Partial<SearchEventsRequest>): Promise<string[]> {
  return (await h.call(h.client.searchEvents, search(request))).events.map((e) => e.title);
}

beforeAll(async () => {
  h = await startHarness('catalog_search');
  const c = h.client;
  const lyon = await h.call(c.createVenue, { venue: aVenue({ name: 'Aurora', city: 'Lyon' }) }, h.adminToken);
  const oslo = await h.call(
    c.createVenue,
    { venue: aVenue({ name: 'Nordlys', city: 'Oslo' }) },
    h.adminToken,
  );
  const events = [
    anEvent({
      title: 'Arctic Echo',
      genres: ['Drama', 'Thriller'],
      description: 'Ice, radio silence and a keeper.',
      cast: ['Ines Marlow'],
    }),
    anEvent({
      title: 'Bakery Heist',
      genres: ['Comedy'],
      description: 'Croissants go missing.',
      cast: ['Rosa Quill'],
    }),
    anEvent({ title: 'Coral Kingdom', genres: ['Documentary'], description: 'Reefs 100% alive.', cast: [] }),
    anEvent({
      title: 'Dust Devils',
      genres: ['Western', 'drama'],
      description: 'Two riders, one well.',
      cast: ['Teodor Brandt'],
    }),
    anEvent({
      title: 'Echo Chamber Live',
      kind: EventKind.EVENT_KIND_CONCERT,
      genres: ['Electronic'],
      description: 'A night of synths.',
      cast: [],
      artists: ['The Tidal Lights'],
    }),
    anEvent({ title: 'Fjord Blues', genres: ['Drama'], description: 'No shows yet.', cast: [] }),
  ];
  const [arctic, bakery, coral, dust, echo] = await Promise.all(
    events.map((event) => h.call(c.createEvent, { event }, h.adminToken)),
  );
  const shows: [string, string, string][] = [
    [arctic!.id, lyon.id, '2031-03-01T20:00:00Z'],
    [bakery!.id, oslo.id, '2031-03-02T23:30:00Z'],
    [coral!.id, lyon.id, '2031-03-03T10:00:00Z'],
    [dust!.id, oslo.id, '2031-03-04T00:00:00Z'],
    [echo!.id, lyon.id, '2031-03-05T21:00:00Z'],
    [echo!.id, oslo.id, '2031-03-09T21:00:00Z'],
  ];
  for (const [eventId, venueId, startsAt] of shows) {
    await h.call(c.createShow, { show: aShow(eventId, venueId, { startsAt }) }, h.adminToken);
  }
});
afterAll(async () => {
  await h.close();
});

describe('SearchEvents', () => {
  it('lists every event by title when no filter is given', async () => {
    expect(await titles({})).toEqual([
      'Arctic Echo',
      'Bakery Heist',
      'Coral Kingdom',
      'Dust Devils',
      'Echo Chamber Live',
      'Fjord Blues',
    ]);
  });

  it('matches words in title, description, cast and artists, case-insensitively, all words required', async () => {
    expect(await titles({ query: 'echo' })).toEqual(['Arctic Echo', 'Echo Chamber Live']);
    expect(await titles({ query: 'croissants' })).toEqual(['Bakery Heist']);
    expect(await titles({ query: 'teodor' })).toEqual(['Dust Devils']);
    expect(await titles({ query: 'tidal LIGHTS' })).toEqual(['Echo Chamber Live']);
    expect(await titles({ query: 'echo synths' })).toEqual(['Echo Chamber Live']);
    expect(await titles({ query: 'echo nowhere' })).toEqual([]);
  });

  it('treats LIKE wildcards in the query as plain characters', async () => {
    expect(await titles({ query: '100%' })).toEqual(['Coral Kingdom']);
    expect(await titles({ query: '%' })).toEqual(['Coral Kingdom']);
    expect(await titles({ query: '_' })).toEqual([]);
  });

  it('filters by genre, case-insensitively', async () => {
    expect(await titles({ genre: 'DRAMA' })).toEqual(['Arctic Echo', 'Dust Devils', 'Fjord Blues']);
    expect(await titles({ genre: 'Comedy' })).toEqual(['Bakery Heist']);
  });

  it('filters by the city of a venue with a show of the event', async () => {
    expect(await titles({ city: 'oslo' })).toEqual(['Bakery Heist', 'Dust Devils', 'Echo Chamber Live']);
    expect(await titles({ city: 'Lyon', genre: 'drama' })).toEqual(['Arctic Echo']);
    expect(await titles({ city: 'Paris' })).toEqual([]);
  });

  it('filters by show days (UTC, inclusive) and combines city and days on the same show', async () => {
    expect(await titles({ fromDate: '2031-03-02', toDate: '2031-03-03' })).toEqual([
      'Bakery Heist',
      'Coral Kingdom',
    ]);
    expect(await titles({ fromDate: '2031-03-04' })).toEqual(['Dust Devils', 'Echo Chamber Live']);
    expect(await titles({ toDate: '2031-03-01' })).toEqual(['Arctic Echo']);
    // Echo plays Lyon on the 5th and Oslo on the 9th: no single show is in Lyon on the 9th.
    expect(await titles({ city: 'Lyon', fromDate: '2031-03-09' })).toEqual([]);
    expect(await titles({ city: 'Oslo', fromDate: '2031-03-09' })).toEqual(['Echo Chamber Live']);
  });

  it('filters by kind', async () => {
    expect(await titles({ kind: EventKind.EVENT_KIND_CONCERT })).toEqual(['Echo Chamber Live']);
    expect(await titles({ kind: EventKind.EVENT_KIND_SPORT })).toEqual([]);
  });

  it('pages through results with page tokens until the token is empty', async () => {
    const seen: string[] = [];
    const tokens: string[] = [];
    let pageToken = '';
    do {
      const page = await h.call(h.client.searchEvents, search({ pageSize: 4, pageToken, genre: '' }));
      seen.push(...page.events.map((e) => e.title));
      tokens.push(page.nextPageToken);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(seen).toEqual([
      'Arctic Echo',
      'Bakery Heist',
      'Coral Kingdom',
      'Dust Devils',
      'Echo Chamber Live',
      'Fjord Blues',
    ]);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe('');

    const filtered = await h.call(h.client.searchEvents, search({ genre: 'drama', pageSize: 2 }));
    expect(filtered.events.map((e) => e.title)).toEqual(['Arctic Echo', 'Dust Devils']);
    const rest = await h.call(
      h.client.searchEvents,
      search({ genre: 'drama', pageSize: 2, pageToken: filtered.nextPageToken }),
    );
    expect(rest.events.map((e) => e.title)).toEqual(['Fjord Blues']);
    expect(rest.nextPageToken).toBe('');
  });

  it('rejects bad page tokens, page sizes, dates, kinds and overlong queries, naming the field', async () => {
    const bad = (request: Partial<SearchEventsRequest>) => h.call(h.client.searchEvents, search(request));
    await expectGrpcError(bad({ pageToken: 'not-a-token' }), status.INVALID_ARGUMENT, 'page_token');
    await expectGrpcError(
      bad({ pageToken: Buffer.from('o-5').toString('base64url') }),
      status.INVALID_ARGUMENT,
      'page_token',
    );
    await expectGrpcError(
      bad({ pageSize: 101 }),
      status.INVALID_ARGUMENT,
      'page_size: must be an integer between 0 and 100',
    );
    await expectGrpcError(bad({ pageSize: -1 }), status.INVALID_ARGUMENT, 'page_size');
    await expectGrpcError(
      bad({ fromDate: '2031-13-01' }),
      status.INVALID_ARGUMENT,
      'from_date',
      '2031-13-01',
    );
    await expectGrpcError(
      bad({ fromDate: '2031-03-05', toDate: '2031-03-04' }),
      status.INVALID_ARGUMENT,
      'to_date: must be on or after from_date',
    );
    await expectGrpcError(
      bad({ kind: 42 as EventKind }),
      status.INVALID_ARGUMENT,
      'kind: must be one of EVENT_KIND_MOVIE',
    );
    await expectGrpcError(
      bad({ query: 'x'.repeat(201) }),
      status.INVALID_ARGUMENT,
      'query: must be at most 200 characters',
    );
    await expectGrpcError(bad({ genre: 'g'.repeat(41) }), status.INVALID_ARGUMENT, 'genre');
  });
});

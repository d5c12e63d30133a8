import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportProgress, SearchEventsRequest } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportDocument } from '../importer';
import { expectGrpcError, startHarness } from './harness';
import type { Harness } from './harness';

const FIXTURE = readFileSync(path.join(__dirname, '../../../test/fixtures/catalog-import.json'), 'utf8');
const fixture = (): ImportDocument => JSON.parse(FIXTURE) as ImportDocument;

let h: Harness;
let web: http.Server;
let base: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  h = await startHarness('catalog_import', { fetchLimits: { timeoutMs: 500, maxBytes: 64 * 1024 } });
  web = http.createServer((request, response) => {
    if (request.url === '/catalog.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(FIXTURE);
    } else if (request.url === '/big.json') {
      // No Content-Length: the cap must hold while streaming.
      response.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 100; i++) response.write(' '.repeat(1024));
      response.end('{}');
    } else if (request.url === '/slow.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{'); // and never finish
    } else {
      response.writeHead(404);
      response.end('no such document');
    }
  });
  web.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => web.close(resolve));
  await h.close();
});

const search = (request: Partial<SearchEventsRequest>): Promise<{ titles: string[] }> =>
  h
    .call(h.client.searchEvents, {
      query: '',
      genre: '',
      city: '',
      fromDate: '',
      toDate: '',
      kind: 0,
      pageSize: 100,
      pageToken: '',
      ...request,
    })
    .then((r) => ({ titles: r.events.map((e) => e.title) }));

const last = (messages: ImportProgress[]): ImportProgress => {
  const final = messages[messages.length - 1];
  if (!final) throw new Error('no progress messages');
  return final;
};

describe('ImportCatalog', () => {
  it('imports a document fetched from a URL, streaming progress through every phase', async () => {
    const messages = await h.importCatalog({ sourceUrl: `${base}/catalog.json` }, h.adminToken);
    expect(messages[0]).toEqual({ phase: 'fetch', done: 0, total: 0, created: 0, updated: 0, unchanged: 0 });
    expect([...new Set(messages.map((m) => m.phase))]).toEqual([
      'fetch',
      'venues',
      'events',
      'shows',
      'done',
    ]);
    expect(last(messages)).toEqual({
      phase: 'done',
      done: 9,
      total: 9,
      created: 9,
      updated: 0,
      unchanged: 0,
    });
    const dones = messages.map((m) => m.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
  });

  it('maps movies, theaters and showtimes onto events, venues and shows', async () => {
    expect((await search({})).titles).toEqual([
      'Orchestra of Ashes',
      'Quantum Picnic',
      "The Lighthouse Keeper's Daughter",
    ]);
    expect((await search({ city: 'Hamburg' })).titles).toEqual([
      'Orchestra of Ashes',
      "The Lighthouse Keeper's Daughter",
    ]);
    expect((await search({ kind: EventKind.EVENT_KIND_CONCERT })).titles).toEqual(['Orchestra of Ashes']);

    const venues = await h.call(h.client.listVenues, { city: 'Lyon', pageSize: 0, pageToken: '' });
    expect(venues.venues).toHaveLength(1);
    const aurora = venues.venues[0]!;
    expect(aurora).toMatchObject({
      name: 'Cinema Aurora',
      city: 'Lyon',
      address: '12 Rue de la Lumière',
      externalId: 't1',
    });
    expect(aurora.halls[0]).toEqual({
      id: 'S1',
      name: 'Screen 1',
      sections: [
        {
          id: 'STD',
          name: 'Standard',
          priceTier: 'standard',
          rows: ['A', 'B', 'C'].map((label) => ({ label, seatCount: 8 })),
        },
        {
          id: 'PRM',
          name: 'Premium',
          priceTier: 'premium',
          rows: ['D', 'E'].map((label) => ({ label, seatCount: 8 })),
        },
      ],
      gaAreas: [],
    });
    expect(aurora.halls[1]?.sections.map((s) => s.id)).toEqual(['STD']);

    const quantum = (
      await h.call(h.client.searchEvents, {
        query: 'quantum',
        genre: '',
        city: '',
        fromDate: '',
        toDate: '',
        kind: 0,
        pageSize: 0,
        pageToken: '',
      })
    ).events[0]!;
    expect(quantum).toMatchObject({
      kind: EventKind.EVENT_KIND_MOVIE,
      genres: ['Comedy', 'Sci-Fi'],
      durationMinutes: 95,
      cast: ['Rosa Quill', 'Bastian Oyelaran'],
      externalId: 'm2',
    });
    const shows = await h.call(h.client.listShows, { eventId: quantum.id, pageSize: 0, pageToken: '' });
    // 21:00 at +02:00 is 19:00 UTC.
    expect(shows.shows.map((s) => [s.startsAt, s.hallId, s.externalId])).toEqual([
      ['2031-05-01T19:00:00Z', 'S2', 'st2'],
    ]);
    const detail = await h.call(h.client.getShow, { showId: shows.shows[0]!.id });
    expect(detail.seats).toHaveLength(18);
    expect(detail.seats.every((s) => s.amountCents === 900)).toBe(true);

    const concert = (
      await h.call(h.client.searchEvents, {
        query: 'ashes',
        genre: '',
        city: '',
        fromDate: '',
        toDate: '',
        kind: 0,
        pageSize: 0,
        pageToken: '',
      })
    ).events[0]!;
    expect(concert).toMatchObject({ cast: [], artists: ['The Ember Ensemble'] });
    const concertShow = (
      await h.call(h.client.listShows, { eventId: concert.id, pageSize: 0, pageToken: '' })
    ).shows[0]!;
    const seats = (await h.call(h.client.getShow, { showId: concertShow.id })).seats;
    expect(seats.filter((s) => s.sectionId === 'PRM').map((s) => [s.id, s.amountCents])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`PRM-D-${i + 1}`, 5000]),
    );
  });

  it('creates nothing when the same document is imported again', async () => {
    const messages = await h.importCatalog({ documentJson: FIXTURE }, h.adminToken);
    expect(messages[0]?.phase).toBe('venues');
    expect(last(messages)).toEqual({
      phase: 'done',
      done: 9,
      total: 9,
      created: 0,
      updated: 0,
      unchanged: 9,
    });
  });

  it('updates only what changed', async () => {
    const document = fixture();
    document.movies[1]!.title = 'Quantum Picnic II';
    document.showtimes[0]!.prices.premium = 1600;
    const result = last(await h.importCatalog({ documentJson: JSON.stringify(document) }, h.adminToken));
    expect(result).toEqual({ phase: 'done', done: 9, total: 9, created: 0, updated: 2, unchanged: 7 });
    expect((await search({ query: 'quantum' })).titles).toEqual(['Quantum Picnic II']);
  });

  it('refuses a bad document with the JSON path and writes nothing', async () => {
    const document = fixture();
    document.movies.push({ id: 'm4', title: 'Never Imported' });
    document.theaters.push({
      id: 't9',
      name: 'Nowhere',
      city: 'Atlantis',
      screens: [{ id: 'x', name: 'X', rows: 1, seatsPerRow: 1 }],
    });
    document.showtimes[3]!.movieId = 'm9';
    await expectGrpcError(
      h.importCatalog({ documentJson: JSON.stringify(document) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'showtimes[3].movieId: unknown movie "m9"',
    );
    expect((await search({ query: 'never' })).titles).toEqual([]);
    expect(
      (await h.call(h.client.listVenues, { city: 'Atlantis', pageSize: 0, pageToken: '' })).venues,
    ).toEqual([]);
  });

  it('rolls the whole import back when a write fails part-way', async () => {
    // Valid as a document, but it drops the screen that imported shows st3 and st4 use.
    const document = fixture();
    document.movies.push({ id: 'm5', title: 'Rolled Back' });
    document.theaters[1]!.screens = [{ id: 'other', name: 'Other', rows: 2, seatsPerRow: 2 }];
    document.showtimes = document.showtimes.filter((s) => s.theaterId !== 't2');
    await expectGrpcError(
      h.importCatalog({ documentJson: JSON.stringify(document) }, h.adminToken),
      status.FAILED_PRECONDITION,
      'hall "MAIN" is used by 2 show(s)',
    );
    expect((await search({ query: 'rolled' })).titles).toEqual([]);
    const hamburg = await h.call(h.client.listVenues, { city: 'Hamburg', pageSize: 0, pageToken: '' });
    expect(hamburg.venues[0]?.halls.map((hall) => hall.id)).toEqual(['MAIN']);
  });

  it('reports fetch problems: HTTP errors, oversize documents, timeouts, bad JSON', async () => {
    await expectGrpcError(
      h.importCatalog({ sourceUrl: `${base}/missing.json` }, h.adminToken),
      status.FAILED_PRECONDITION,
      'source_url',
      'HTTP 404',
    );
    await expectGrpcError(
      h.importCatalog({ sourceUrl: `${base}/big.json` }, h.adminToken),
      status.INVALID_ARGUMENT,
      'source_url: the document is larger than the 65536 bytes limit',
    );
    await expectGrpcError(
      h.importCatalog({ sourceUrl: `${base}/slow.json` }, h.adminToken),
      status.UNAVAILABLE,
      'source_url',
      'did not answer within 500 ms',
    );
    await expectGrpcError(
      h.importCatalog({ sourceUrl: 'http://127.0.0.1:1/none.json' }, h.adminToken),
      status.UNAVAILABLE,
      'source_url: could not fetch',
    );
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { DomainError } from '../../common/errors';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportProgress } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { hallCode, parseDocument } from '../import-document';
import {
  ImportCancelledError,
  planImport,
  readImportSource,
  rowLabel,
  runImport,
  screenToHall,
} from '../importer';
import type { ImportDocument } from '../importer';
import type { CatalogStore, ImportWriter, UpsertOutcome, Upserted } from '../store';

const fixture = (): ImportDocument =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../../test/fixtures/catalog-import.json'), 'utf8'),
  ) as ImportDocument;

function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError && error.code === status.INVALID_ARGUMENT) return error.message;
    throw error;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

/** The fixture with one change applied. */
function changed(change: (document: ImportDocument & Record<string, unknown>) => void): unknown {
  const document = fixture() as ImportDocument & Record<string, unknown>;
  change(document);
  return document;
}

describe('mapping', () => {
  it('labels rows like spreadsheet columns', () => {
    expect([0, 1, 25, 26, 27, 51, 52, 99].map(rowLabel)).toEqual([
      'A',
      'B',
      'Z',
      'AA',
      'AB',
      'AZ',
      'BA',
      'CV',
    ]);
  });

  it('turns screen ids into hall codes', () => {
    expect(hallCode('s1')).toBe('S1');
    expect(hallCode('imax-3')).toBe('IMAX_3');
  });

  it('puts the back premiumRows rows in PRM and the rest in STD', () => {
    expect(screenToHall({ id: 's1', name: 'One', rows: 4, seatsPerRow: 3, premiumRows: 1 })).toEqual({
      id: 'S1',
      name: 'One',
      sections: [
        {
          id: 'STD',
          name: 'Standard',
          priceTier: 'standard',
          rows: ['A', 'B', 'C'].map((label) => ({ label, seatCount: 3 })),
        },
        { id: 'PRM', name: 'Premium', priceTier: 'premium', rows: [{ label: 'D', seatCount: 3 }] },
      ],
      gaAreas: [],
    });
    expect(screenToHall({ id: 'x', name: 'X', rows: 2, seatsPerRow: 1 }).sections.map((s) => s.id)).toEqual([
      'STD',
    ]);
    expect(
      screenToHall({ id: 'x', name: 'X', rows: 2, seatsPerRow: 1, premiumRows: 2 }).sections.map((s) => s.id),
    ).toEqual(['PRM']);
  });

  it('plans venues, events and shows from the fixture', () => {
    const plan = planImport(fixture());
    expect(plan.venues.map((v) => [v.externalId, v.name, v.city, v.halls.map((h) => h.id)])).toEqual([
      ['t1', 'Cinema Aurora', 'Lyon', ['S1', 'S2']],
      ['t2', 'Kino Nordlicht', 'Hamburg', ['MAIN']],
    ]);
    expect(plan.events[0]).toEqual({
      title: "The Lighthouse Keeper's Daughter",
      kind: EventKind.EVENT_KIND_MOVIE,
      genres: ['Drama', 'Mystery'],
      durationMinutes: 118,
      description: 'A coastal town, a missing ship and a keeper who kept one log too many.',
      cast: ['Ines Marlow', 'Teodor Brandt'],
      artists: [],
      posterUrl: 'https://posters.example.com/m1.jpg',
      externalId: 'm1',
    });
    expect(plan.events[2]).toMatchObject({
      kind: EventKind.EVENT_KIND_CONCERT,
      cast: [],
      artists: ['The Ember Ensemble'],
    });
    expect(plan.shows[1]).toEqual({
      data: {
        hallId: 'S2',
        startsAt: new Date('2031-05-01T19:00:00Z'),
        currency: 'EUR',
        prices: [{ priceTier: 'standard', amountCents: 900 }],
        externalId: 'st2',
      },
      eventExternalId: 'm2',
      venueExternalId: 't1',
    });
  });

  it('drops a premium price for a screen without premium rows', () => {
    const plan = planImport(changed((d) => (d.showtimes[1]!.prices.premium = 1234)));
    expect(plan.shows[1]?.data.prices).toEqual([{ priceTier: 'standard', amountCents: 900 }]);
  });
});

describe('document errors name the JSON path', () => {
  const cases: [string, (d: ImportDocument & Record<string, unknown>) => void, string][] = [
    ['unknown movie', (d) => (d.showtimes[3]!.movieId = 'm9'), 'showtimes[3].movieId: unknown movie "m9"'],
    [
      'unknown theater',
      (d) => (d.showtimes[0]!.theaterId = 't7'),
      'showtimes[0].theaterId: unknown theater "t7"',
    ],
    [
      'unknown screen',
      (d) => (d.showtimes[2]!.screenId = 's1'),
      'showtimes[2].screenId: theater "t2" has no screen "s1"',
    ],
    [
      'missing premium price',
      (d) => delete d.showtimes[0]!.prices.premium,
      'showtimes[0].prices.premium: is required: screen "s1" has 2 premium row(s)',
    ],
    [
      'negative price',
      (d) => (d.showtimes[0]!.prices.standard = -5),
      'showtimes[0].prices.standard: must be between 0 and 10000000 (got -5)',
    ],
    [
      'bad time',
      (d) => (d.showtimes[1]!.startsAt = '2031-05-01 21:00'),
      'showtimes[1].startsAt: must be an RFC 3339 time',
    ],
    [
      'bad currency',
      (d) => (d.showtimes[1]!.currency = 'E1'),
      'showtimes[1].currency: "E1" is not an ISO 4217 code',
    ],
    ['duplicate movie', (d) => (d.movies[1]!.id = 'm1'), 'movies[1].id: duplicate movie id "m1"'],
    [
      'duplicate showtime',
      (d) => (d.showtimes[2]!.id = 'st1'),
      'showtimes[2].id: duplicate showtime id "st1"',
    ],
    [
      'missing title',
      (d) => delete (d.movies[0] as unknown as Record<string, unknown>).title,
      'movies[0].title: must be a string',
    ],
    [
      'long title',
      (d) => (d.movies[2]!.title = 'x'.repeat(201)),
      'movies[2].title: must be at most 200 characters',
    ],
    ['runtime', (d) => (d.movies[0]!.runtime = 1441), 'movies[0].runtime: must be between 0 and 1440'],
    [
      'genres type',
      (d) => ((d.movies[0] as unknown as Record<string, unknown>).genres = 'Drama'),
      'movies[0].genres: must be a list',
    ],
    ['kind', (d) => (d.movies[0]!.kind = 'opera'), 'movies[0].kind: must be one of movie, concert'],
    [
      'kind that is an object key',
      (d) => (d.movies[0]!.kind = 'constructor'),
      'movies[0].kind: must be one of movie',
    ],
    [
      'typo in a key',
      (d) => ((d.theaters[0]!.screens[0] as unknown as Record<string, unknown>).seatPerRow = 3),
      'theaters[0].screens[0].seatPerRow: unknown field',
    ],
    ['typo at the top', (d) => (d.movie = []), 'movie: unknown field (expected movies, theaters, showtimes)'],
    [
      'too many seats',
      (d) => Object.assign(d.theaters[1]!.screens[0]!, { rows: 30, seatsPerRow: 200 }),
      'theaters[1].screens[0]: has 6000 seats; at most 5000',
    ],
    [
      'premium rows above rows',
      (d) => (d.theaters[1]!.screens[0]!.premiumRows = 5),
      'theaters[1].screens[0].premiumRows: must be between 0 and 4',
    ],
    [
      'screens clash as halls',
      (d) => (d.theaters[0]!.screens[1]!.id = 'S1'),
      'theaters[0].screens[1].id: becomes hall "S1" like another screen',
    ],
    ['no screens', (d) => (d.theaters[0]!.screens = []), 'theaters[0].screens: needs at least one screen'],
    [
      'bad poster',
      (d) => (d.movies[0]!.posterUrl = 'javascript:alert(1)'),
      'movies[0].posterUrl: must be an http(s) URL',
    ],
  ];

  it.each(cases)('%s', (_name, change, message) => {
    expect(failure(() => planImport(changed(change)))).toContain(message);
  });

  it('refuses a document that is not an object', () => {
    expect(failure(() => parseDocument([]))).toBe('document: must be an object');
  });

  it('accepts a document with only some collections', () => {
    expect(parseDocument({ movies: [{ id: 'x', title: 'Only a movie' }] }).theaters).toEqual([]);
  });
});

describe('readImportSource', () => {
  it('needs exactly one source', () => {
    expect(readImportSource({ sourceUrl: ' https://example.com/c.json ', documentJson: '' })).toEqual({
      kind: 'url',
      url: 'https://example.com/c.json',
    });
    expect(readImportSource({ sourceUrl: '', documentJson: '{}' })).toEqual({ kind: 'json', text: '{}' });
    expect(failure(() => readImportSource({ sourceUrl: '', documentJson: '  ' }))).toBe(
      'source_url: give exactly one of source_url and document_json',
    );
    expect(failure(() => readImportSource({ sourceUrl: 'ftp://x', documentJson: '' }))).toContain(
      'source_url: must be an http(s) URL',
    );
  });
});

describe('runImport', () => {
  /** A store whose transaction fails part-way once (as a deadlock would), then runs again. */
  function retryingStore(outcome: UpsertOutcome): { store: CatalogStore; attempts: () => number } {
    let attempts = 0;
    const writer = (failAfter: number): ImportWriter => {
      let writes = 0;
      const upsert = async (): Promise<Upserted> => {
        if (++writes > failAfter) throw Object.assign(new Error('deadlock'), { errno: 1213 });
        return { id: `id${writes}`, outcome };
      };
      return { upsertVenue: upsert, upsertEvent: upsert, upsertShow: upsert };
    };
    const store = {
      importAll: async <T>(work: (w: ImportWriter) => Promise<T>): Promise<T> => {
        attempts += 1;
        await work(writer(4)).catch(() => undefined);
        attempts += 1;
        return work(writer(Infinity));
      },
    } as unknown as CatalogStore;
    return { store, attempts: () => attempts };
  }

  it('counts each record once even when the store retries the transaction', async () => {
    const { store, attempts } = retryingStore('created');
    const messages: ImportProgress[] = [];
    const result = await runImport(
      store,
      { kind: 'json', text: JSON.stringify(fixture()) },
      { fetchDocument: async () => '', onProgress: (p) => messages.push(p) },
    );
    expect(attempts()).toBe(2);
    expect(result).toEqual({ phase: 'done', done: 9, total: 9, created: 9, updated: 0, unchanged: 0 });
    expect(messages[messages.length - 1]).toEqual(result);
  });

  it('fetches a URL source first and reports the fetch phase', async () => {
    const { store } = retryingStore('unchanged');
    const phases: string[] = [];
    const fetched: string[] = [];
    const result = await runImport(
      store,
      { kind: 'url', url: 'http://catalog.example/doc.json' },
      {
        fetchDocument: async (url) => {
          fetched.push(url);
          return JSON.stringify(fixture());
        },
        onProgress: (p) => phases.push(p.phase),
      },
    );
    expect(fetched).toEqual(['http://catalog.example/doc.json']);
    expect([...new Set(phases)]).toEqual(['fetch', 'venues', 'events', 'shows', 'done']);
    expect(result.unchanged).toBe(9);
  });

  it('stops between records when the caller has gone', async () => {
    const { store } = retryingStore('created');
    await expect(
      runImport(
        store,
        { kind: 'json', text: JSON.stringify(fixture()) },
        { fetchDocument: async () => '', onProgress: () => undefined, cancelled: () => true },
      ),
    ).rejects.toBeInstanceOf(ImportCancelledError);
  });
});

import { status } from '@grpc/grpc-js';
import { DomainError } from '../../common/errors';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import {
  checkShowFitsVenue,
  tiersOf,
  validateEvent,
  validateSearch,
  validateShow,
  validateVenue,
} from '../validation';
import { aShow, aVenue, anEvent } from './harness';

/** The error `run` throws, as code name and message, so a test asserts both. */
function failure(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return { code: status[error.code], message: error.message };
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('validateVenue', () => {
  it('trims text, uppercases codes and row labels, lowercases tiers', () => {
    const venue = validateVenue(aVenue({ name: '  Grand Hall ', city: ' Lyon ' }));
    expect(venue.name).toBe('Grand Hall');
    expect(venue.city).toBe('Lyon');
    expect(venue.halls[0]?.id).toBe('MAIN');
    expect(venue.halls[0]?.sections.map((s) => [s.id, s.priceTier, s.rows.map((r) => r.label)])).toEqual([
      ['ORCH', 'premium', ['A', 'B']],
      ['BALC', 'standard', ['1']],
    ]);
    expect(venue.halls[0]?.gaAreas[0]?.id).toBe('FLOOR');
  });

  it('names the exact path of a bad seat count', () => {
    const input = aVenue();
    input.halls[0]!.sections[1]!.rows = [
      { label: 'A', seatCount: 1 },
      { label: 'B', seatCount: 1 },
      { label: 'C', seatCount: 0 },
    ];
    expect(failure(() => validateVenue(input))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'venue.halls[0].sections[1].rows[2].seat_count: must be between 1 and 200 (got 0)',
    });
  });

  it('allows 5000 seats in a hall and refuses 5001', () => {
    const hall = (lastRow: number) => {
      const input = aVenue();
      const rows = Array.from({ length: 25 }, (_, i) => ({ label: `R${i}`, seatCount: 200 }));
      rows[24]!.seatCount = lastRow;
      input.halls[0]!.sections = [{ id: 'S', name: 'S', priceTier: 'std', rows }];
      return input;
    };
    expect(validateVenue(hall(200)).halls[0]?.sections[0]?.rows).toHaveLength(25);
    const bigger = hall(200);
    bigger.halls[0]!.sections.push({
      id: 'T',
      name: 'T',
      priceTier: 'std',
      rows: [{ label: 'A', seatCount: 1 }],
    });
    expect(failure(() => validateVenue(bigger)).message).toBe(
      'venue.halls[0].sections: the hall has 5001 seats; at most 5000 are allowed',
    );
  });

  it('refuses duplicate hall ids, row labels and a hall with nothing to sell', () => {
    const twoHalls = aVenue();
    twoHalls.halls.push({ ...twoHalls.halls[0]!, id: 'Main' });
    expect(failure(() => validateVenue(twoHalls)).message).toBe(
      'venue.halls[1].id: duplicate hall id "MAIN"',
    );
    const rows = aVenue();
    rows.halls[0]!.sections[0]!.rows = [
      { label: 'a', seatCount: 1 },
      { label: 'A', seatCount: 1 },
    ];
    expect(failure(() => validateVenue(rows)).message).toBe(
      'venue.halls[0].sections[0].rows[1].label: duplicate row label "A"',
    );
    const empty = aVenue();
    empty.halls[0] = { id: 'E', name: 'Empty', sections: [], gaAreas: [] };
    expect(failure(() => validateVenue(empty)).message).toBe(
      'venue.halls[0]: needs at least one section or general-admission area',
    );
  });

  it('refuses row labels that would break seat ids and codes outside the pattern', () => {
    const dash = aVenue();
    dash.halls[0]!.sections[0]!.rows[0]!.label = 'A-1';
    expect(failure(() => validateVenue(dash)).message).toContain('venue.halls[0].sections[0].rows[0].label');
    const long = aVenue();
    long.halls[0]!.gaAreas[0]!.id = 'X'.repeat(17);
    expect(failure(() => validateVenue(long)).message).toContain('venue.halls[0].ga_areas[0].id');
  });

  it('bounds GA capacity to 1..100000', () => {
    const input = aVenue();
    input.halls[0]!.gaAreas[0]!.capacity = 0;
    expect(failure(() => validateVenue(input)).message).toBe(
      'venue.halls[0].ga_areas[0].capacity: must be between 1 and 100000 (got 0)',
    );
    input.halls[0]!.gaAreas[0]!.capacity = 100_000;
    expect(validateVenue(input).halls[0]?.gaAreas[0]?.capacity).toBe(100_000);
  });
});

describe('validateEvent', () => {
  it('keeps the first spelling of a genre and refuses UNSPECIFIED and unknown kinds', () => {
    expect(validateEvent(anEvent({ genres: ['Drama', 'DRAMA', 'Comedy'] })).genres).toEqual([
      'Drama',
      'Comedy',
    ]);
    expect(failure(() => validateEvent(anEvent({ kind: EventKind.EVENT_KIND_UNSPECIFIED })))).toEqual({
      code: 'INVALID_ARGUMENT',
      message:
        'event.kind: must be one of EVENT_KIND_MOVIE, EVENT_KIND_CONCERT, EVENT_KIND_THEATRE, EVENT_KIND_SPORT, EVENT_KIND_COMEDY, EVENT_KIND_OTHER',
    });
    expect(failure(() => validateEvent(anEvent({ kind: 17 as EventKind }))).message).toContain('event.kind');
  });

  it('limits titles to 200 and descriptions to 4000 characters', () => {
    expect(
      validateEvent(anEvent({ title: 't'.repeat(200), description: 'd'.repeat(4000) })).title,
    ).toHaveLength(200);
    expect(failure(() => validateEvent(anEvent({ title: 't'.repeat(201) }))).message).toBe(
      'event.title: must be at most 200 characters (got 201)',
    );
    expect(failure(() => validateEvent(anEvent({ description: 'd'.repeat(4001) }))).message).toBe(
      'event.description: must be at most 4000 characters (got 4001)',
    );
  });
});

describe('validateShow and checkShowFitsVenue', () => {
  const venue = validateVenue(aVenue());

  it('normalizes the start to a Date in UTC, the currency and the tiers', () => {
    const show = validateShow(
      aShow('evt_1', 'ven_1', {
        startsAt: '2031-06-01T21:30:00+02:00',
        currency: 'eur',
        hallId: 'main',
        prices: [{ priceTier: 'Premium', amountCents: 1 }],
      }),
    );
    expect(show.startsAt.toISOString()).toBe('2031-06-01T19:30:00.000Z');
    expect(show.currency).toBe('EUR');
    expect(show.hallId).toBe('MAIN');
    expect(show.prices).toEqual([{ priceTier: 'premium', amountCents: 1 }]);
  });

  it('bounds amounts to 0..10000000 cents and refuses duplicate tiers', () => {
    const prices = (amountCents: number) =>
      aShow('e', 'v', { prices: [{ priceTier: 'standard', amountCents }] });
    expect(validateShow(prices(0)).prices[0]?.amountCents).toBe(0);
    expect(validateShow(prices(10_000_000)).prices[0]?.amountCents).toBe(10_000_000);
    expect(failure(() => validateShow(prices(10_000_001))).message).toBe(
      'show.prices[0].amount_cents: must be between 0 and 10000000 (got 10000001)',
    );
    expect(failure(() => validateShow(prices(-1))).message).toContain('show.prices[0].amount_cents');
    expect(failure(() => validateShow(prices(1.5))).message).toBe(
      'show.prices[0].amount_cents: must be an integer',
    );
    const twice = aShow('e', 'v', {
      prices: [
        { priceTier: 'a', amountCents: 1 },
        { priceTier: 'A', amountCents: 2 },
      ],
    });
    expect(failure(() => validateShow(twice)).message).toBe(
      'show.prices[1].price_tier: duplicate price tier "a"',
    );
  });

  it('needs a price for every tier of the hall, names the missing tier, and knows the hall', () => {
    expect(tiersOf(venue.halls[0]!)).toEqual(['premium', 'standard', 'standing']);
    expect(checkShowFitsVenue(validateShow(aShow('e', 'v')), venue).id).toBe('MAIN');
    const missing = validateShow(
      aShow('e', 'v', {
        prices: [
          { priceTier: 'premium', amountCents: 1 },
          { priceTier: 'standing', amountCents: 1 },
        ],
      }),
    );
    expect(failure(() => checkShowFitsVenue(missing, venue))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'show.prices: no price for tier "standard" used by hall "MAIN"',
    });
    const elsewhere = validateShow(aShow('e', 'v', { hallId: 'H2' }));
    expect(failure(() => checkShowFitsVenue(elsewhere, venue))).toEqual({
      code: 'NOT_FOUND',
      message: 'show.hall_id: hall "H2" not found',
    });
  });

  it('refuses starts without a zone or outside 2000..2099', () => {
    expect(failure(() => validateShow(aShow('e', 'v', { startsAt: '2031-06-01 19:30' }))).message).toContain(
      'show.starts_at: must be an RFC 3339 time',
    );
    expect(failure(() => validateShow(aShow('e', 'v', { startsAt: '1999-12-31T23:59:59Z' }))).message).toBe(
      'show.starts_at: must be between 2000-01-01 and 2099-12-31',
    );
  });
});

describe('validateSearch', () => {
  const base = {
    query: '',
    genre: '',
    city: '',
    fromDate: '',
    toDate: '',
    kind: EventKind.EVENT_KIND_UNSPECIFIED,
  };

  it('splits the query into words and treats UNSPECIFIED as any kind', () => {
    expect(validateSearch({ ...base, query: '  blue   moon ' })).toEqual({
      words: ['blue', 'moon'],
      genre: '',
      city: '',
      fromDate: '',
      toDate: '',
      kind: undefined,
    });
  });

  it('refuses a range that ends before it starts', () => {
    expect(
      failure(() => validateSearch({ ...base, fromDate: '2031-01-02', toDate: '2031-01-01' })).message,
    ).toBe('to_date: must be on or after from_date (2031-01-02)');
  });
});

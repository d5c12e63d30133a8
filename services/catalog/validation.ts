import { InvalidArgumentError, NotFoundError } from '../common/errors';
import {
  optionalDate,
  optionalString,
  requiredId,
  requiredInt,
  requiredString,
  requiredTimestamp,
  requiredUrlOrEmpty,
  stringList,
} from '../common/validate';
import { EventKind } from '../../proto/gen/marquee/catalog/v1/catalog';
import type {
  Event,
  GaArea,
  Hall,
  Price,
  SearchEventsRequest,
  SeatRow,
  Section,
  Show,
  Venue,
} from '../../proto/gen/marquee/catalog/v1/catalog';

/**
 * Pure validation of catalog writes and queries. Each function returns normalized values (trimmed,
 * codes uppercased, tiers lowercased) or throws InvalidArgumentError naming the field path, so a
 * handler has checked everything before it writes anything.
 */

export const LIMITS = {
  nameLength: 200,
  titleLength: 200,
  descriptionLength: 4000,
  cityLength: 100,
  addressLength: 300,
  partNameLength: 100,
  halls: 50,
  sectionsPerHall: 50,
  gaAreasPerHall: 20,
  rowsPerSection: 100,
  seatsPerRow: 200,
  seatsPerHall: 5000,
  gaCapacity: 100_000,
  genres: 10,
  genreLength: 40,
  people: 100,
  personLength: 100,
  durationMinutes: 1440,
  prices: 20,
  amountCents: 10_000_000,
  externalIdLength: 128,
  queryLength: 200,
  queryWords: 10,
} as const;

export type VenueData = Omit<Venue, 'id'>;
export type EventData = Omit<Event, 'id'>;
/** A show as stored: the start is an instant, not text. */
export type ShowData = Omit<Show, 'id' | 'startsAt'> & { startsAt: Date };

const SHORT_CODE = /^[A-Z0-9_]{1,16}$/;
const PRICE_TIER = /^[a-z0-9_-]{1,32}$/;
// Row labels become part of seat ids "<section>-<row>-<number>", so they cannot contain '-'.
const ROW_LABEL = /^[A-Z0-9]{1,4}$/;
const EXTERNAL_ID = /^[\x21-\x7e]*$/;
const CURRENCY = /^[A-Z]{3}$/;

/** Hall, section and area ids: short codes, uppercased. */
export function shortCode(value: unknown, field: string): string {
  const code = requiredString(value, field, { max: 16 }).toUpperCase();
  if (!SHORT_CODE.test(code))
    throw new InvalidArgumentError(field, `${JSON.stringify(code)} must be 1-16 of A-Z, 0-9 and _`);
  return code;
}

export function priceTier(value: unknown, field: string): string {
  const tier = requiredString(value, field, { max: 32 }).toLowerCase();
  if (!PRICE_TIER.test(tier))
    throw new InvalidArgumentError(field, `${JSON.stringify(tier)} must be 1-32 of a-z, 0-9, _ and -`);
  return tier;
}

export function externalId(value: unknown, field: string): string {
  const id = optionalString(value, field, { max: LIMITS.externalIdLength });
  if (!EXTERNAL_ID.test(id)) throw new InvalidArgumentError(field, 'must be printable ASCII without spaces');
  return id;
}

function list<T>(value: T[] | undefined, field: string, max: number): T[] {
  const items = value ?? [];
  if (items.length > max)
    throw new InvalidArgumentError(field, `must have at most ${max} items (got ${items.length})`);
  return items;
}

/** A new record must not carry an id: the server assigns them. */
export function requireNoId(id: string | undefined, field: string): void {
  if (id !== undefined && id !== '')
    throw new InvalidArgumentError(field, 'must be empty on create; the server assigns ids');
}

export function validateVenue(input: Venue | undefined, field = 'venue'): VenueData {
  if (!input) throw new InvalidArgumentError(field, 'is required');
  const name = requiredString(input.name, `${field}.name`, { max: LIMITS.nameLength });
  const city = requiredString(input.city, `${field}.city`, { max: LIMITS.cityLength });
  const address = optionalString(input.address, `${field}.address`, { max: LIMITS.addressLength });
  const halls = list(input.halls, `${field}.halls`, LIMITS.halls).map((hall, i) =>
    validateHall(hall, `${field}.halls[${i}]`),
  );
  if (halls.length === 0) throw new InvalidArgumentError(`${field}.halls`, 'needs at least one hall');
  rejectDuplicates(
    halls.map((h) => h.id),
    (i) => `${field}.halls[${i}].id`,
    'hall id',
  );
  return { name, city, address, halls, externalId: externalId(input.externalId, `${field}.external_id`) };
}

export function validateHall(input: Hall, field: string): Hall {
  const id = shortCode(input.id, `${field}.id`);
  const name = requiredString(input.name, `${field}.name`, { max: LIMITS.partNameLength });
  const sections = list(input.sections, `${field}.sections`, LIMITS.sectionsPerHall).map((s, i) =>
    validateSection(s, `${field}.sections[${i}]`),
  );
  const gaAreas = list(input.gaAreas, `${field}.ga_areas`, LIMITS.gaAreasPerHall).map((a, i) =>
    validateGaArea(a, `${field}.ga_areas[${i}]`),
  );
  if (sections.length === 0 && gaAreas.length === 0) {
    throw new InvalidArgumentError(field, 'needs at least one section or general-admission area');
  }
  // Sections and areas share one namespace: the booking service keys inventory by these codes.
  const codes = [...sections.map((s) => s.id), ...gaAreas.map((a) => a.id)];
  rejectDuplicates(
    codes,
    (i) =>
      i < sections.length ? `${field}.sections[${i}].id` : `${field}.ga_areas[${i - sections.length}].id`,
    'section or area id',
  );
  const seats = sections.reduce((sum, s) => sum + s.rows.reduce((n, r) => n + r.seatCount, 0), 0);
  if (seats > LIMITS.seatsPerHall) {
    throw new InvalidArgumentError(
      `${field}.sections`,
      `the hall has ${seats} seats; at most ${LIMITS.seatsPerHall} are allowed`,
    );
  }
  return { id, name, sections, gaAreas };
}

function validateSection(input: Section, field: string): Section {
  const id = shortCode(input.id, `${field}.id`);
  const name = requiredString(input.name, `${field}.name`, { max: LIMITS.partNameLength });
  const tier = priceTier(input.priceTier, `${field}.price_tier`);
  const rows = list(input.rows, `${field}.rows`, LIMITS.rowsPerSection).map((r, i) =>
    validateRow(r, `${field}.rows[${i}]`),
  );
  if (rows.length === 0) throw new InvalidArgumentError(`${field}.rows`, 'needs at least one row');
  rejectDuplicates(
    rows.map((r) => r.label),
    (i) => `${field}.rows[${i}].label`,
    'row label',
  );
  return { id, name, priceTier: tier, rows };
}

function validateRow(input: SeatRow, field: string): SeatRow {
  const label = requiredString(input.label, `${field}.label`, { max: 4 }).toUpperCase();
  if (!ROW_LABEL.test(label))
    throw new InvalidArgumentError(`${field}.label`, `${JSON.stringify(label)} must be 1-4 of A-Z and 0-9`);
  return {
    label,
    seatCount: requiredInt(input.seatCount, `${field}.seat_count`, { min: 1, max: LIMITS.seatsPerRow }),
  };
}

function validateGaArea(input: GaArea, field: string): GaArea {
  return {
    id: shortCode(input.id, `${field}.id`),
    name: requiredString(input.name, `${field}.name`, { max: LIMITS.partNameLength }),
    priceTier: priceTier(input.priceTier, `${field}.price_tier`),
    capacity: requiredInt(input.capacity, `${field}.capacity`, { min: 1, max: LIMITS.gaCapacity }),
  };
}

function rejectDuplicates(values: string[], fieldOf: (index: number) => string, what: string): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (seen.has(value))
      throw new InvalidArgumentError(fieldOf(i), `duplicate ${what} ${JSON.stringify(value)}`);
    seen.add(value);
  });
}

/** The price tiers a hall's sections and areas use, each once, in order of appearance. */
export function tiersOf(hall: Hall): string[] {
  return [...new Set([...hall.sections.map((s) => s.priceTier), ...hall.gaAreas.map((a) => a.priceTier)])];
}

const KIND_NAMES = Object.entries(EventKind)
  .filter(([name, value]) => typeof value === 'number' && value > 0 && name !== 'UNRECOGNIZED')
  .map(([name]) => name);

export function eventKind(value: unknown, field: string): EventKind {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value <= 0 ||
    EventKind[value] === undefined ||
    value === EventKind.UNRECOGNIZED
  ) {
    throw new InvalidArgumentError(field, `must be one of ${KIND_NAMES.join(', ')}`);
  }
  return value as EventKind;
}

export function validateEvent(input: Event | undefined, field = 'event'): EventData {
  if (!input) throw new InvalidArgumentError(field, 'is required');
  const genres = stringList(input.genres, `${field}.genres`, {
    maxItems: LIMITS.genres,
    maxLength: LIMITS.genreLength,
  });
  return {
    title: requiredString(input.title, `${field}.title`, { max: LIMITS.titleLength }),
    kind: eventKind(input.kind, `${field}.kind`),
    // "Drama" and "drama" are one genre; the first spelling wins.
    genres: genres.filter(
      (g, i) => genres.findIndex((other) => other.toLowerCase() === g.toLowerCase()) === i,
    ),
    durationMinutes: requiredInt(input.durationMinutes, `${field}.duration_minutes`, {
      min: 0,
      max: LIMITS.durationMinutes,
    }),
    description: optionalString(input.description, `${field}.description`, { max: LIMITS.descriptionLength }),
    cast: stringList(input.cast, `${field}.cast`, {
      maxItems: LIMITS.people,
      maxLength: LIMITS.personLength,
    }),
    artists: stringList(input.artists, `${field}.artists`, {
      maxItems: LIMITS.people,
      maxLength: LIMITS.personLength,
    }),
    posterUrl: requiredUrlOrEmpty(input.posterUrl, `${field}.poster_url`),
    externalId: externalId(input.externalId, `${field}.external_id`),
  };
}

const EARLIEST_SHOW = Date.UTC(2000, 0, 1);
const LATEST_SHOW = Date.UTC(2100, 0, 1);

/** Checks a show's own fields; whether its event, venue and hall exist is the store's question. */
export function validateShow(input: Show | undefined, field = 'show'): ShowData {
  if (!input) throw new InvalidArgumentError(field, 'is required');
  const eventId = requiredId(input.eventId, `${field}.event_id`);
  const venueId = requiredId(input.venueId, `${field}.venue_id`);
  const hallId = shortCode(input.hallId, `${field}.hall_id`);
  const startsAt = requiredTimestamp(input.startsAt, `${field}.starts_at`);
  if (startsAt.getTime() < EARLIEST_SHOW || startsAt.getTime() >= LATEST_SHOW) {
    throw new InvalidArgumentError(`${field}.starts_at`, 'must be between 2000-01-01 and 2099-12-31');
  }
  const currency = requiredString(input.currency, `${field}.currency`, { max: 3 }).toUpperCase();
  if (!CURRENCY.test(currency))
    throw new InvalidArgumentError(
      `${field}.currency`,
      `${JSON.stringify(currency)} is not an ISO 4217 code like EUR`,
    );
  const prices = list(input.prices, `${field}.prices`, LIMITS.prices).map((price, i): Price => ({
    priceTier: priceTier(price.priceTier, `${field}.prices[${i}].price_tier`),
    amountCents: requiredInt(price.amountCents, `${field}.prices[${i}].amount_cents`, {
      min: 0,
      max: LIMITS.amountCents,
    }),
  }));
  rejectDuplicates(
    prices.map((p) => p.priceTier),
    (i) => `${field}.prices[${i}].price_tier`,
    'price tier',
  );
  return {
    eventId,
    venueId,
    hallId,
    startsAt,
    currency,
    prices,
    externalId: externalId(input.externalId, `${field}.external_id`),
  };
}

/**
 * The show's hall exists in its venue and every tier the hall uses has exactly one price; a price
 * for a tier the hall does not use is a mistake worth reporting rather than storing.
 */
export function checkShowFitsVenue(show: ShowData, venue: Pick<Venue, 'halls'>, field = 'show'): Hall {
  const hall = venue.halls.find((h) => h.id === show.hallId);
  if (!hall) throw new NotFoundError('hall', show.hallId, `${field}.hall_id`);
  const tiers = tiersOf(hall);
  for (const tier of tiers) {
    if (!show.prices.some((p) => p.priceTier === tier)) {
      throw new InvalidArgumentError(
        `${field}.prices`,
        `no price for tier ${JSON.stringify(tier)} used by hall ${JSON.stringify(hall.id)}`,
      );
    }
  }
  show.prices.forEach((price, i) => {
    if (!tiers.includes(price.priceTier)) {
      throw new InvalidArgumentError(
        `${field}.prices[${i}].price_tier`,
        `tier ${JSON.stringify(price.priceTier)} is not used by hall ${JSON.stringify(hall.id)}`,
      );
    }
  });
  return hall;
}

export interface SearchFilter {
  /** Every word must appear in the title, description, cast or artists. */
  words: string[];
  genre: string;
  city: string;
  /** UTC calendar days, inclusive; '' when open. */
  fromDate: string;
  toDate: string;
  kind: EventKind | undefined;
}

export function validateSearch(
  request: Pick<SearchEventsRequest, 'query' | 'genre' | 'city' | 'fromDate' | 'toDate' | 'kind'>,
): SearchFilter {
  const query = optionalString(request.query, 'query', { max: LIMITS.queryLength });
  const words = query.split(/\s+/).filter((w) => w !== '');
  if (words.length > LIMITS.queryWords)
    throw new InvalidArgumentError('query', `must have at most ${LIMITS.queryWords} words`);
  const fromDate = optionalDate(request.fromDate, 'from_date');
  const toDate = optionalDate(request.toDate, 'to_date');
  if (fromDate !== '' && toDate !== '' && toDate < fromDate)
    throw new InvalidArgumentError('to_date', `must be on or after from_date (${fromDate})`);
  return {
    words,
    genre: optionalString(request.genre, 'genre', { max: LIMITS.genreLength }),
    city: optionalString(request.city, 'city', { max: LIMITS.cityLength }),
    fromDate,
    toDate,
    kind: request.kind === EventKind.EVENT_KIND_UNSPECIFIED ? undefined : eventKind(request.kind, 'kind'),
  };
}

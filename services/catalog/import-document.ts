/**
 * The external catalog document (docs/IMPORT.md) and its check. Everything is checked in document
 * terms first, so an error points into the document (`showtimes[3].movieId: unknown movie "m9"`)
 * rather than at the catalog record it would have become.
 */
import { InvalidArgumentError } from '../common/errors';
import {
  optionalString,
  requiredInt,
  requiredString,
  requiredTimestamp,
  requiredUrlOrEmpty,
} from '../common/validate';
import { EventKind } from '../../proto/gen/marquee/catalog/v1/catalog';
import { LIMITS, shortCode } from './validation';

export interface ImportMovie {
  id: string;
  title: string;
  genres?: string[];
  runtime?: number;
  overview?: string;
  cast?: string[];
  posterUrl?: string;
  /** movie (default), concert, theatre, sport, comedy or other. */
  kind?: string;
}

export interface ImportScreen {
  id: string;
  name: string;
  rows: number;
  seatsPerRow: number;
  /** How many of the back rows are premium; 0 when absent. */
  premiumRows?: number;
}

export interface ImportTheater {
  id: string;
  name: string;
  city: string;
  address?: string;
  screens: ImportScreen[];
}

export interface ImportShowtime {
  id: string;
  movieId: string;
  theaterId: string;
  screenId: string;
  startsAt: string;
  currency: string;
  prices: { standard?: number; premium?: number };
}

export interface ImportDocument {
  movies: ImportMovie[];
  theaters: ImportTheater[];
  showtimes: ImportShowtime[];
}

const MAX_RECORDS = { movies: 10_000, theaters: 1_000, showtimes: 200_000 } as const;

/** `kind` values of a movie record ("theater" is accepted as a spelling of "theatre"). */
export const KINDS: ReadonlyMap<string, EventKind> = new Map([
  ['movie', EventKind.EVENT_KIND_MOVIE],
  ['concert', EventKind.EVENT_KIND_CONCERT],
  ['theatre', EventKind.EVENT_KIND_THEATRE],
  ['theater', EventKind.EVENT_KIND_THEATRE],
  ['sport', EventKind.EVENT_KIND_SPORT],
  ['comedy', EventKind.EVENT_KIND_COMEDY],
  ['other', EventKind.EVENT_KIND_OTHER],
]);

/** A screen's hall code: its id uppercased, other characters turned into '_'. */
export function hallCode(screenId: string): string {
  return screenId.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgumentError(path, 'must be an object');
  return value as Json;
}

function array(value: unknown, path: string, max: number, required = true): unknown[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(path, 'must be a list');
  if (value.length > max)
    throw new InvalidArgumentError(path, `must have at most ${max} items (got ${value.length})`);
  return value;
}

function strings(value: unknown, path: string, max: number, maxLength: number): string[] | undefined {
  if (value === undefined) return undefined;
  return array(value, path, max).map((item, i) => requiredString(item, `${path}[${i}]`, { max: maxLength }));
}

function optionalInt(value: unknown, path: string, range: { min: number; max: number }): number | undefined {
  return value === undefined ? undefined : requiredInt(value, path, range);
}

function rejectUnknownKeys(value: Json, path: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new InvalidArgumentError(
        path === '' ? key : `${path}.${key}`,
        `unknown field (expected ${known.join(', ')})`,
      );
  }
}

function externalRef(value: unknown, path: string): string {
  const id = requiredString(value, path, { max: LIMITS.externalIdLength });
  if (!/^[\x21-\x7e]+$/.test(id))
    throw new InvalidArgumentError(path, 'must be printable ASCII without spaces');
  return id;
}

function uniqueId(ids: Set<string>, id: string, path: string, what: string): void {
  if (ids.has(id)) throw new InvalidArgumentError(path, `duplicate ${what} id ${JSON.stringify(id)}`);
  ids.add(id);
}

/** Checks types, limits, uniqueness and references in document terms, so errors point into the document. */
export function parseDocument(input: unknown): ImportDocument {
  const root = object(input, 'document');
  rejectUnknownKeys(root, '', ['movies', 'theaters', 'showtimes']);

  const movieIds = new Set<string>();
  const movies = array(root.movies, 'movies', MAX_RECORDS.movies, false).map((value, i): ImportMovie => {
    const path = `movies[${i}]`;
    const movie = object(value, path);
    rejectUnknownKeys(movie, path, [
      'id',
      'title',
      'genres',
      'runtime',
      'overview',
      'cast',
      'posterUrl',
      'kind',
    ]);
    const id = externalRef(movie.id, `${path}.id`);
    uniqueId(movieIds, id, `${path}.id`, 'movie');
    const kind =
      movie.kind === undefined
        ? undefined
        : requiredString(movie.kind, `${path}.kind`, { max: 20 }).toLowerCase();
    if (kind !== undefined && !KINDS.has(kind))
      throw new InvalidArgumentError(`${path}.kind`, `must be one of ${[...KINDS.keys()].join(', ')}`);
    return {
      id,
      title: requiredString(movie.title, `${path}.title`, { max: LIMITS.titleLength }),
      genres: strings(movie.genres, `${path}.genres`, LIMITS.genres, LIMITS.genreLength),
      runtime: optionalInt(movie.runtime, `${path}.runtime`, { min: 0, max: LIMITS.durationMinutes }),
      overview: optionalString(movie.overview, `${path}.overview`, { max: LIMITS.descriptionLength }),
      cast: strings(movie.cast, `${path}.cast`, LIMITS.people, LIMITS.personLength),
      posterUrl: requiredUrlOrEmpty(movie.posterUrl, `${path}.posterUrl`),
      kind,
    };
  });

  const theaterIds = new Set<string>();
  const screensOf = new Map<string, Map<string, ImportScreen>>();
  const theaters = array(root.theaters, 'theaters', MAX_RECORDS.theaters, false).map(
    (value, i): ImportTheater => {
      const path = `theaters[${i}]`;
      const theater = object(value, path);
      rejectUnknownKeys(theater, path, ['id', 'name', 'city', 'address', 'screens']);
      const id = externalRef(theater.id, `${path}.id`);
      uniqueId(theaterIds, id, `${path}.id`, 'theater');
      const screenIds = new Set<string>();
      const hallCodes = new Set<string>();
      const screens = array(theater.screens, `${path}.screens`, LIMITS.halls).map(
        (screenValue, j): ImportScreen => {
          const screenPath = `${path}.screens[${j}]`;
          const screen = object(screenValue, screenPath);
          rejectUnknownKeys(screen, screenPath, ['id', 'name', 'rows', 'seatsPerRow', 'premiumRows']);
          const screenId = requiredString(screen.id, `${screenPath}.id`, { max: 16 });
          uniqueId(screenIds, screenId, `${screenPath}.id`, 'screen');
          // Two ids that differ only in case or punctuation would become one hall.
          const code = shortCode(hallCode(screenId), `${screenPath}.id`);
          if (hallCodes.has(code))
            throw new InvalidArgumentError(
              `${screenPath}.id`,
              `becomes hall ${JSON.stringify(code)} like another screen of this theater`,
            );
          hallCodes.add(code);
          const rows = requiredInt(screen.rows, `${screenPath}.rows`, { min: 1, max: LIMITS.rowsPerSection });
          const seatsPerRow = requiredInt(screen.seatsPerRow, `${screenPath}.seatsPerRow`, {
            min: 1,
            max: LIMITS.seatsPerRow,
          });
          if (rows * seatsPerRow > LIMITS.seatsPerHall) {
            throw new InvalidArgumentError(
              screenPath,
              `has ${rows * seatsPerRow} seats; at most ${LIMITS.seatsPerHall} are allowed`,
            );
          }
          const premiumRows = optionalInt(screen.premiumRows, `${screenPath}.premiumRows`, {
            min: 0,
            max: rows,
          });
          return {
            id: screenId,
            name: requiredString(screen.name, `${screenPath}.name`, { max: LIMITS.partNameLength }),
            rows,
            seatsPerRow,
            premiumRows,
          };
        },
      );
      if (screens.length === 0)
        throw new InvalidArgumentError(`${path}.screens`, 'needs at least one screen');
      screensOf.set(id, new Map(screens.map((s) => [s.id, s])));
      return {
        id,
        name: requiredString(theater.name, `${path}.name`, { max: LIMITS.nameLength }),
        city: requiredString(theater.city, `${path}.city`, { max: LIMITS.cityLength }),
        address: optionalString(theater.address, `${path}.address`, { max: LIMITS.addressLength }),
        screens,
      };
    },
  );

  const showtimeIds = new Set<string>();
  const showtimes = array(root.showtimes, 'showtimes', MAX_RECORDS.showtimes, false).map(
    (value, i): ImportShowtime => {
      const path = `showtimes[${i}]`;
      const showtime = object(value, path);
      rejectUnknownKeys(showtime, path, [
        'id',
        'movieId',
        'theaterId',
        'screenId',
        'startsAt',
        'currency',
        'prices',
      ]);
      const id = externalRef(showtime.id, `${path}.id`);
      uniqueId(showtimeIds, id, `${path}.id`, 'showtime');
      const movieId = requiredString(showtime.movieId, `${path}.movieId`, { max: LIMITS.externalIdLength });
      if (!movieIds.has(movieId))
        throw new InvalidArgumentError(`${path}.movieId`, `unknown movie ${JSON.stringify(movieId)}`);
      const theaterId = requiredString(showtime.theaterId, `${path}.theaterId`, {
        max: LIMITS.externalIdLength,
      });
      const screens = screensOf.get(theaterId);
      if (!screens)
        throw new InvalidArgumentError(`${path}.theaterId`, `unknown theater ${JSON.stringify(theaterId)}`);
      const screenId = requiredString(showtime.screenId, `${path}.screenId`, { max: 16 });
      const screen = screens.get(screenId);
      if (!screen)
        throw new InvalidArgumentError(
          `${path}.screenId`,
          `theater ${JSON.stringify(theaterId)} has no screen ${JSON.stringify(screenId)}`,
        );
      const startsAt = requiredTimestamp(showtime.startsAt, `${path}.startsAt`);
      const pricesObject = object(showtime.prices, `${path}.prices`);
      rejectUnknownKeys(pricesObject, `${path}.prices`, ['standard', 'premium']);
      const amount = { min: 0, max: LIMITS.amountCents };
      const prices = {
        standard: optionalInt(pricesObject.standard, `${path}.prices.standard`, amount),
        premium: optionalInt(pricesObject.premium, `${path}.prices.premium`, amount),
      };
      const premiumRows = screen.premiumRows ?? 0;
      if (premiumRows < screen.rows && prices.standard === undefined) {
        throw new InvalidArgumentError(
          `${path}.prices.standard`,
          `is required: screen ${JSON.stringify(screenId)} has standard rows`,
        );
      }
      if (premiumRows > 0 && prices.premium === undefined) {
        throw new InvalidArgumentError(
          `${path}.prices.premium`,
          `is required: screen ${JSON.stringify(screenId)} has ${premiumRows} premium row(s)`,
        );
      }
      return {
        id,
        movieId,
        theaterId,
        screenId,
        startsAt: startsAt.toISOString(),
        currency: requiredString(showtime.currency, `${path}.currency`, { max: 3 }),
        prices,
      };
    },
  );

  return { movies, theaters, showtimes };
}

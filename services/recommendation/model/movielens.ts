import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { EventContent } from './content';
import type { Interaction } from './interactions';

/*
 * Reads MovieLens files (https://grouplens.org/datasets/movielens/: ml-latest-small, ml-25m, ...) for
 * offline evaluation on real behaviour. The user supplies them; none is in the repository.
 *
 *   ratings.csv  userId,movieId,rating,timestamp   (timestamp in seconds)
 *   movies.csv   movieId,title,genres              (title quoted when it holds a comma, genres split by |)
 *
 * A rating of at least `minRating` counts as a booking (weight 1); lower ratings are dropped, as a
 * low rating says the user would not have wanted it. Parsing works line by line on any (async)
 * iterable of lines, so a 25M-line file streams, and tests feed strings. A malformed line stops
 * the read with an error naming the file and line.
 */

export class CsvFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file} line ${line}: ${problem}`);
    this.name = 'CsvFormatError';
  }
}

export interface RatingsOptions {
  /** Ratings at or above this count as an interaction. */
  readonly minRating: number;
  /** Keep only the first N distinct users met (files are sorted by user), for quick runs. */
  readonly maxUsers?: number;
  /** Name used in error messages. */
  readonly file: string;
}

type Lines = Iterable<string> | AsyncIterable<string>;

/** Splits one CSV line (RFC 4180 quoting: "a, b" and "" for a quote). */
export function splitCsvLine(line: string, file: string, lineNumber: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = line.indexOf('"', i);
        if (quote === -1) throw new CsvFormatError(file, lineNumber, 'a quoted field is not closed');
        value += line.slice(i, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',')
        throw new CsvFormatError(
          file,
          lineNumber,
          `unexpected ${JSON.stringify(line[i])} after a quoted field`,
        );
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** Numbered, trimmed, non-empty lines (a BOM and Windows line ends are tolerated). */
async function* numbered(lines: Lines): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).replace(/\r$/, '');
    if (line.trim() !== '') yield [n, line];
  }
}

/** Column positions from the header, which must name every column we need. */
function columns<T extends string>(
  header: string[],
  wanted: readonly T[],
  file: string,
  line: number,
): Record<T, number> {
  const names = header.map((name) => name.trim().toLowerCase());
  const found = {} as Record<T, number>;
  for (const column of wanted) {
    const index = names.indexOf(column.toLowerCase());
    if (index === -1)
      throw new CsvFormatError(
        file,
        line,
        `the header has no ${column} column (expected ${wanted.join(',')})`,
      );
    found[column] = index;
  }
  return found;
}

/** Streams the interactions of a ratings.csv, in file order. */
export async function* parseRatings(
  lines: Lines,
  options: Partial<RatingsOptions> = {},
): AsyncGenerator<Interaction> {
  const { minRating = 4, maxUsers, file = 'ratings.csv' } = options;
  const users = new Set<string>();
  let at: Record<'userId' | 'movieId' | 'rating' | 'timestamp', number> | undefined;
  let width = 0;
  for await (const [n, line] of numbered(lines)) {
    const fields = splitCsvLine(line, file, n);
    if (!at) {
      at = columns(fields, ['userId', 'movieId', 'rating', 'timestamp'] as const, file, n);
      width = fields.length;
      continue;
    }
    if (fields.length !== width)
      throw new CsvFormatError(file, n, `expected ${width} fields, found ${fields.length}`);
    const userId = fields[at.userId]!.trim();
    const movieId = fields[at.movieId]!.trim();
    const rating = Number(fields[at.rating]);
    const seconds = Number(fields[at.timestamp]);
    if (userId === '') throw new CsvFormatError(file, n, 'userId is empty');
    if (movieId === '') throw new CsvFormatError(file, n, 'movieId is empty');
    if (fields[at.rating]!.trim() === '' || !Number.isFinite(rating))
      throw new CsvFormatError(file, n, `rating ${JSON.stringify(fields[at.rating])} is not a number`);
    if (fields[at.timestamp]!.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
      throw new CsvFormatError(
        file,
        n,
        `timestamp ${JSON.stringify(fields[at.timestamp])} is not a time in seconds`,
      );
    if (!users.has(userId)) {
      if (maxUsers !== undefined && users.size >= maxUsers) continue;
      users.add(userId);
    }
    if (rating >= minRating) yield { userId, eventId: movieId, at: seconds * 1000 };
  }
  if (!at)
    throw new CsvFormatError(
      file,
      1,
      'the file is empty (expected a userId,movieId,rating,timestamp header)',
    );
}

/** Reads a movies.csv into event content (title and genres; no shows: movies in MovieLens have none). */
export async function parseMovies(lines: Lines, file = 'movies.csv'): Promise<EventContent[]> {
  const movies: EventContent[] = [];
  let at: Record<'movieId' | 'title' | 'genres', number> | undefined;
  let width = 0;
  for await (const [n, line] of numbered(lines)) {
    const fields = splitCsvLine(line, file, n);
    if (!at) {
      at = columns(fields, ['movieId', 'title', 'genres'] as const, file, n);
      width = fields.length;
      continue;
    }
    if (fields.length !== width)
      throw new CsvFormatError(file, n, `expected ${width} fields, found ${fields.length}`);
    const eventId = fields[at.movieId]!.trim();
    if (eventId === '') throw new CsvFormatError(file, n, 'movieId is empty');
    const genres = fields[at.genres]!.split('|')
      .map((genre) => genre.trim())
      .filter((genre) => genre !== '' && genre !== '(no genres listed)');
    movies.push({ eventId, title: fields[at.title]!.trim(), genres });
  }
  if (!at) throw new CsvFormatError(file, 1, 'the file is empty (expected a movieId,title,genres header)');
  return movies;
}

/** The lines of a file, streamed. */
export function readLines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
}

export interface MovieLensData {
  readonly interactions: Interaction[];
  readonly movies: EventContent[];
}

/** Reads ratings (and movies when given) from disk; `onLines` reports the ratings lines read so far. */
export async function readMovieLens(
  ratingsPath: string,
  moviesPath: string | undefined,
  options: Partial<Omit<RatingsOptions, 'file'>> & { onLines?: (lines: number) => void } = {},
): Promise<MovieLensData> {
  const { onLines, ...ratingOptions } = options;
  let count = 0;
  async function* counted(): AsyncGenerator<string> {
    for await (const line of readLines(ratingsPath)) {
      if (onLines && ++count % 100_000 === 0) onLines(count);
      yield line;
    }
  }
  const interactions: Interaction[] = [];
  for await (const interaction of parseRatings(counted(), {
    ...ratingOptions,
    file: path.basename(ratingsPath),
  }))
    interactions.push(interaction);
  const movies = moviesPath ? await parseMovies(readLines(moviesPath), path.basename(moviesPath)) : [];
  return { interactions, movies };
}

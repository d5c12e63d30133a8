import { InvalidArgumentError } from '../common/errors';
import { requiredUrlOrEmpty } from '../common/validate';
import { EventKind } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { Hall, ImportProgress, Price, Section } from '../../proto/gen/marquee/catalog/v1/catalog';
import { KINDS, hallCode, parseDocument } from './import-document';
import type { ImportScreen } from './import-document';
import type { CatalogStore, UpsertOutcome } from './store';
import { checkShowFitsVenue, validateEvent, validateShow, validateVenue } from './validation';
import type { EventData, ShowData, VenueData } from './validation';

export type {
  ImportDocument,
  ImportMovie,
  ImportScreen,
  ImportShowtime,
  ImportTheater,
} from './import-document';

/**
 * Catalog import: the mapping of a checked document (import-document.ts) onto venues, events and
 * shows, and the idempotent import procedure.
 *
 * The whole document is checked and mapped before anything is written. Records are matched by
 * external_id, so running the same document twice changes nothing the second time.
 */

// ---- the mapping

export const STANDARD = { sectionId: 'STD', name: 'Standard', tier: 'standard' } as const;
export const PREMIUM = { sectionId: 'PRM', name: 'Premium', tier: 'premium' } as const;

export interface PlannedShow {
  /** Show fields; eventId and venueId are filled in once the event and venue have catalog ids. */
  data: Omit<ShowData, 'eventId' | 'venueId'>;
  eventExternalId: string;
  venueExternalId: string;
}

export interface ImportPlan {
  venues: VenueData[];
  events: EventData[];
  shows: PlannedShow[];
}

/** Row labels A..Z, then AA, AB, ... like spreadsheet columns. */
export function rowLabel(index: number): string {
  let label = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    label = String.fromCharCode(65 + ((n - 1) % 26)) + label;
  return label;
}

/** A screen becomes a hall: the front rows are section STD (tier standard), the back `premiumRows` rows PRM (tier premium). */
export function screenToHall(screen: ImportScreen): Hall {
  const premium = screen.premiumRows ?? 0;
  const standardRows = screen.rows - premium;
  const rows = (from: number, count: number): Section['rows'] =>
    Array.from({ length: count }, (_, i) => ({ label: rowLabel(from + i), seatCount: screen.seatsPerRow }));
  const sections: Section[] = [];
  if (standardRows > 0)
    sections.push({
      id: STANDARD.sectionId,
      name: STANDARD.name,
      priceTier: STANDARD.tier,
      rows: rows(0, standardRows),
    });
  if (premium > 0)
    sections.push({
      id: PREMIUM.sectionId,
      name: PREMIUM.name,
      priceTier: PREMIUM.tier,
      rows: rows(standardRows, premium),
    });
  return { id: hallCode(screen.id), name: screen.name, sections, gaAreas: [] };
}

/** Checks the whole document and maps it; throws InvalidArgumentError naming the JSON path. */
export function planImport(document: unknown): ImportPlan {
  const parsed = parseDocument(document);
  const venues = parsed.theaters.map((theater, i) =>
    validateVenue(
      {
        id: '',
        name: theater.name,
        city: theater.city,
        address: theater.address ?? '',
        halls: theater.screens.map(screenToHall),
        externalId: theater.id,
      },
      `theaters[${i}]`,
    ),
  );
  const events = parsed.movies.map((movie, i) => {
    const kind = KINDS.get(movie.kind ?? 'movie') ?? EventKind.EVENT_KIND_MOVIE;
    const people = movie.cast ?? [];
    return validateEvent(
      {
        id: '',
        title: movie.title,
        kind,
        genres: movie.genres ?? [],
        durationMinutes: movie.runtime ?? 0,
        description: movie.overview ?? '',
        // The document has one list of people: the cast of a movie, the performers of anything live.
        cast: kind === EventKind.EVENT_KIND_MOVIE ? people : [],
        artists: kind === EventKind.EVENT_KIND_MOVIE ? [] : people,
        posterUrl: movie.posterUrl ?? '',
        externalId: movie.id,
      },
      `movies[${i}]`,
    );
  });
  const venueByExternalId = new Map(venues.map((venue) => [venue.externalId, venue]));
  const shows = parsed.showtimes.map((showtime, i): PlannedShow => {
    const path = `showtimes[${i}]`;
    const prices: Price[] = [];
    if (showtime.prices.standard !== undefined)
      prices.push({ priceTier: STANDARD.tier, amountCents: showtime.prices.standard });
    if (showtime.prices.premium !== undefined)
      prices.push({ priceTier: PREMIUM.tier, amountCents: showtime.prices.premium });
    const venue = venueByExternalId.get(showtime.theaterId);
    const hall = venue?.halls.find((h) => h.id === hallCode(showtime.screenId));
    // Only the tiers this screen has are priced: a premium price for a screen without premium rows is ignored.
    const used = new Set(hall ? [...hall.sections.map((s) => s.priceTier)] : []);
    const {
      eventId: _e,
      venueId: _v,
      ...data
    } = validateShow(
      {
        id: '',
        // Placeholders: the real ids exist only once the event and venue are written.
        eventId: 'pending',
        venueId: 'pending',
        hallId: hallCode(showtime.screenId),
        startsAt: showtime.startsAt,
        currency: showtime.currency,
        prices: prices.filter((p) => used.has(p.priceTier)),
        externalId: showtime.id,
      },
      path,
    );
    if (venue) checkShowFitsVenue({ ...data, eventId: '', venueId: '' }, venue, path);
    return { data, eventExternalId: showtime.movieId, venueExternalId: showtime.theaterId };
  });
  return { venues, events, shows };
}

// ---- the procedure

export type ImportRequestSource = { kind: 'url'; url: string } | { kind: 'json'; text: string };

/** Exactly one of source_url (http or https) and document_json. */
export function readImportSource(request: { sourceUrl: string; documentJson: string }): ImportRequestSource {
  const url = request.sourceUrl.trim();
  const json = request.documentJson;
  if (url === '' && json.trim() === '')
    throw new InvalidArgumentError('source_url', 'give exactly one of source_url and document_json');
  if (url !== '' && json.trim() !== '')
    throw new InvalidArgumentError(
      'document_json',
      'give exactly one of source_url and document_json, not both',
    );
  if (json.trim() !== '') return { kind: 'json', text: json };
  return { kind: 'url', url: requiredUrlOrEmpty(url, 'source_url') };
}

export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(
      field,
      `is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

export interface ImportOptions {
  fetchDocument: (url: string) => Promise<string>;
  onProgress: (progress: ImportProgress) => void;
  /** Checked between records; true rolls the whole import back (the caller went away). */
  cancelled?: () => boolean;
}

export class ImportCancelledError extends Error {
  constructor() {
    super('import cancelled by the caller');
    this.name = 'ImportCancelledError';
  }
}

/**
 * Fetches (or takes) the document, checks and maps all of it, then upserts venues, events and
 * shows in one transaction, reporting progress about a hundred times per run and at each phase.
 */
export async function runImport(
  store: CatalogStore,
  source: ImportRequestSource,
  options: ImportOptions,
): Promise<ImportProgress> {
  const progress: ImportProgress = {
    phase: 'fetch',
    done: 0,
    total: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
  };
  const report = (): void => options.onProgress({ ...progress });
  let text: string;
  if (source.kind === 'url') {
    report();
    text = await options.fetchDocument(source.url);
  } else {
    text = source.text;
  }
  const plan = planImport(parseJson(text, source.kind === 'url' ? 'source_url' : 'document_json'));
  progress.total = plan.venues.length + plan.events.length + plan.shows.length;
  const every = Math.max(1, Math.ceil(progress.total / 100));

  const count = (outcome: UpsertOutcome): void => {
    progress[outcome] += 1;
    progress.done += 1;
    if (progress.done % every === 0) report();
  };
  const step = async <T>(
    phase: string,
    items: T[],
    write: (item: T) => Promise<UpsertOutcome>,
  ): Promise<void> => {
    progress.phase = phase;
    report();
    for (const item of items) {
      if (options.cancelled?.()) throw new ImportCancelledError();
      count(await write(item));
    }
  };

  await store.importAll(async (writer) => {
    // The store re-runs this whole function after a deadlock, so counts start over with each attempt.
    Object.assign(progress, { done: 0, created: 0, updated: 0, unchanged: 0 });
    const venueIds = new Map<string, string>();
    const eventIds = new Map<string, string>();
    await step('venues', plan.venues, async (venue) => {
      const result = await writer.upsertVenue(venue);
      venueIds.set(venue.externalId, result.id);
      return result.outcome;
    });
    await step('events', plan.events, async (event) => {
      const result = await writer.upsertEvent(event);
      eventIds.set(event.externalId, result.id);
      return result.outcome;
    });
    await step('shows', plan.shows, async (show) => {
      // Both ids exist: planImport checked every reference and the two phases above wrote them.
      const eventId = eventIds.get(show.eventExternalId) ?? '';
      const venueId = venueIds.get(show.venueExternalId) ?? '';
      return (await writer.upsertShow({ ...show.data, eventId, venueId })).outcome;
    });
  });
  progress.phase = 'done';
  report();
  return { ...progress };
}

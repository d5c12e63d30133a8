import { Metadata, status as Code } from '@grpc/grpc-js';
import type { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { UnaryMethod } from '../common/grpc-client';
import { isGrpcError } from '../common/errors';
import type { EventContent } from './model';

/*
 * What the model needs from the catalog: each event's content (genres, cast, artists, the venues
 * and cities of its shows, when they start) and which event each show belongs to (booking changes
 * name shows). Read whole, a page at a time: venues, events, then every show of the catalog at once
 * (ListShows without an event), so a refresh costs a few calls per hundred rows, never one per event.
 */

const PAGE = 100;
const CALL_TIMEOUT_MS = 10_000;

function invoke<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(request, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

/** Every item of a paged listing, a page at a time. */
async function readAll<Item>(
  readPage: (pageToken: string) => Promise<{ items: Item[]; nextPageToken: string }>,
): Promise<Item[]> {
  const all: Item[] = [];
  let pageToken = '';
  do {
    const page = await readPage(pageToken);
    all.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}

export interface CatalogContent {
  events: EventContent[];
  /** show id → event id, for every show read. */
  showEvents: Map<string, string>;
}

/** Every event with its shows' venues, cities and start times. */
export async function loadCatalogContent(catalog: CatalogServiceClient): Promise<CatalogContent> {
  const venues = await readAll(async (pageToken) => {
    const page = await invoke(catalog.listVenues.bind(catalog), { city: '', pageSize: PAGE, pageToken });
    return { items: page.venues, nextPageToken: page.nextPageToken };
  });
  const cities = new Map(venues.map((venue) => [venue.id, venue.city]));
  const shows = await readAll(async (pageToken) => {
    const page = await invoke(catalog.listShows.bind(catalog), { eventId: '', pageSize: PAGE, pageToken });
    return { items: page.shows, nextPageToken: page.nextPageToken };
  });
  const catalogEvents = await readAll(async (pageToken) => {
    const page = await invoke(catalog.searchEvents.bind(catalog), {
      query: '',
      genre: '',
      city: '',
      fromDate: '',
      toDate: '',
      kind: 0,
      pageSize: PAGE,
      pageToken,
    });
    return { items: page.events, nextPageToken: page.nextPageToken };
  });

  const showEvents = new Map<string, string>();
  const showsOf = new Map<string, { venueIds: Set<string>; starts: string[] }>();
  for (const show of shows) {
    showEvents.set(show.id, show.eventId);
    const of = showsOf.get(show.eventId) ?? { venueIds: new Set<string>(), starts: [] };
    of.venueIds.add(show.venueId);
    of.starts.push(show.startsAt);
    showsOf.set(show.eventId, of);
  }
  const events = catalogEvents.map((event): EventContent => {
    const venueIds = [...(showsOf.get(event.id)?.venueIds ?? [])];
    return {
      eventId: event.id,
      title: event.title,
      genres: event.genres,
      cast: event.cast,
      artists: event.artists,
      venueIds,
      cities: [...new Set(venueIds.map((id) => cities.get(id)).filter((c): c is string => !!c))],
      showStarts: showsOf.get(event.id)?.starts ?? [],
    };
  });
  return { events, showEvents };
}

/**
 * show id → event id, from the last catalog read, asking the catalog for shows it has not seen
 * (a show created since). Undefined for a show the catalog does not know (deleted).
 */
export class ShowEvents {
  private readonly known = new Map<string, string>();

  constructor(private readonly catalog: CatalogServiceClient) {}

  remember(showEvents: ReadonlyMap<string, string>): void {
    for (const [showId, eventId] of showEvents) this.known.set(showId, eventId);
  }

  async eventOf(showId: string): Promise<string | undefined> {
    const known = this.known.get(showId);
    if (known !== undefined) return known;
    try {
      const detail = await invoke(this.catalog.getShow.bind(this.catalog), { showId });
      const eventId = detail.show?.eventId;
      if (eventId) this.known.set(showId, eventId);
      return eventId;
    } catch (error) {
      if (isGrpcError(error) && (error.code === Code.NOT_FOUND || error.code === Code.INVALID_ARGUMENT))
        return undefined;
      throw error;
    }
  }
}

import { Metadata, status as Code } from '@grpc/grpc-js';
import type { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { UnaryMethod } from '../common/grpc-client';
import { isGrpcError } from '../common/errors';
import type { EventContent } from './model';

/*
 * What the model needs from the catalog: each event's content (genres, cast, artists, the venues
 * and cities of its shows, when they start) and which event each show belongs to (booking changes
 * name shows). Read whole, a page at a time; the catalog is small next to the bookings.
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

export interface CatalogContent {
  events: EventContent[];
  /** show id → event id, for every show read. */
  showEvents: Map<string, string>;
}

/** Every event with its shows' venues, cities and start times. */
export async function loadCatalogContent(catalog: CatalogServiceClient): Promise<CatalogContent> {
  const cities = new Map<string, string>();
  let venueToken = '';
  do {
    const page = await invoke(catalog.listVenues.bind(catalog), {
      city: '',
      pageSize: PAGE,
      pageToken: venueToken,
    });
    for (const venue of page.venues) cities.set(venue.id, venue.city);
    venueToken = page.nextPageToken;
  } while (venueToken);

  const events: EventContent[] = [];
  const showEvents = new Map<string, string>();
  let eventToken = '';
  do {
    const page = await invoke(catalog.searchEvents.bind(catalog), {
      query: '',
      genre: '',
      city: '',
      fromDate: '',
      toDate: '',
      kind: 0,
      pageSize: PAGE,
      pageToken: eventToken,
    });
    for (const event of page.events) {
      const venueIds = new Set<string>();
      const showStarts: string[] = [];
      let showToken = '';
      do {
        const shows = await invoke(catalog.listShows.bind(catalog), {
          eventId: event.id,
          pageSize: PAGE,
          pageToken: showToken,
        });
        for (const show of shows.shows) {
          showEvents.set(show.id, event.id);
          venueIds.add(show.venueId);
          showStarts.push(show.startsAt);
        }
        showToken = shows.nextPageToken;
      } while (showToken);
      events.push({
        eventId: event.id,
        title: event.title,
        genres: event.genres,
        cast: event.cast,
        artists: event.artists,
        venueIds: [...venueIds],
        cities: [...new Set([...venueIds].map((id) => cities.get(id)).filter((c): c is string => !!c))],
        showStarts,
      });
    }
    eventToken = page.nextPageToken;
  } while (eventToken);
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

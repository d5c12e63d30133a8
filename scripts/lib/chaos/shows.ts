import * as grpc from '@grpc/grpc-js';
import { SeatState } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Availability } from '../../../proto/gen/marquee/booking/v1/booking';
import { CatalogServiceClient, EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { callUnary } from '../../../services/common/grpc-client';

/*
 * Which shows the chaos workload books: the demo catalog's live event (a standing floor, i.e.
 * general admission, plus seats) and a few movie showings (seats), found through the catalog API
 * as any client would.
 */

/** A show to book from: its free seats and the room left in its general-admission pools. */
export interface ShowTarget {
  showId: string;
  seatIds: string[];
  pools: { areaId: string; remaining: number }[];
}

export async function findDemoShows(catalogAddress: string, count = 8): Promise<string[]> {
  const catalog = new CatalogServiceClient(catalogAddress, grpc.credentials.createInsecure());
  try {
    const search = (query: string, kind: EventKind, pageSize: number) =>
      callUnary(catalog.searchEvents.bind(catalog), {
        query,
        genre: '',
        city: '',
        fromDate: '',
        toDate: '',
        kind,
        pageSize,
        pageToken: '',
      });
    const concerts = await search('', EventKind.EVENT_KIND_CONCERT, 2);
    const movies = await search('', EventKind.EVENT_KIND_UNSPECIFIED, 10);
    const shows: string[] = [];
    for (const event of [...concerts.events, ...movies.events]) {
      if (shows.length >= count) break;
      const listed = await callUnary(catalog.listShows.bind(catalog), {
        eventId: event.id,
        pageSize: 2,
        pageToken: '',
      });
      for (const show of listed.shows)
        if (shows.length < count && !shows.includes(show.id)) shows.push(show.id);
    }
    if (shows.length === 0)
      throw new Error(`the catalog at ${catalogAddress} lists no shows: load the demo data (npm start does)`);
    return shows;
  } finally {
    catalog.close();
  }
}

/** The free seats and the room left in each pool, from a show's availability. */
export function targetOf(availability: Availability): ShowTarget {
  return {
    showId: availability.showId,
    seatIds: availability.seats.filter((s) => s.state === SeatState.SEAT_STATE_FREE).map((s) => s.seatId),
    pools: availability.pools.map((p) => ({ areaId: p.areaId, remaining: p.remaining })),
  };
}

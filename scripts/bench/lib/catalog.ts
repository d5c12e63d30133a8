import * as grpc from '@grpc/grpc-js';
import { CatalogServiceClient, Event, EventKind, Show } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { signToken } from '../../../services/common/auth';
import { callWithMetadata } from './grpc';

/** The catalog caps a hall at 5000 seats: the benches book several shows of one full hall. */
export const SEATS_PER_SHOW = 5000;
const SEATS_PER_ROW = 200;
/** The general-admission area a bench hall gets when asked for one (gaCapacity). */
export const BENCH_GA_AREA = 'PROBE';

/** An `authorization` header for `userId`, signed with the stack's token secret (no Register call). */
export function bearer(
  tokenSecret: string,
  userId: string,
  role: 'user' | 'admin' = 'user',
  ttlSeconds = 6 * 3600,
): grpc.Metadata {
  const metadata = new grpc.Metadata();
  const principal = { userId, email: `${userId}@bench.local`, role };
  metadata.set('authorization', `Bearer ${signToken(principal, tokenSecret, ttlSeconds, Date.now())}`);
  return metadata;
}

/**
 * The rows of a hall of `seats` seats, `perRow` to a row (the last one shorter when they do not
 * divide): R1, R2, …
 */
export function hallRows(seats: number, perRow: number): { label: string; seatCount: number }[] {
  return Array.from({ length: Math.ceil(seats / perRow) }, (_, i) => ({
    label: `R${i + 1}`,
    seatCount: Math.min(perRow, seats - i * perRow),
  }));
}

/**
 * Creates one venue whose hall has `hallSeats` seats (SEATS_PER_SHOW, the catalog's limit, unless
 * told; `seatsPerRow` to a row, 200 unless told) and, with `gaCapacity`, a general-admission area
 * BENCH_GA_AREA of that many places, one event and enough shows in that hall for `seats` seats in
 * all, through the catalog's admin API (as an operator would). Returns the show ids.
 */
export async function createShows(
  catalogAddr: string,
  tokenSecret: string,
  seats: number,
  options: { gaCapacity?: number; hallSeats?: number; seatsPerRow?: number } = {},
): Promise<string[]> {
  const catalog = new CatalogServiceClient(catalogAddr, grpc.credentials.createInsecure());
  try {
    const admin = bearer(tokenSecret, 'bench-admin', 'admin', 3600);
    const hallSeats = options.hallSeats ?? SEATS_PER_SHOW;
    const rows = hallRows(hallSeats, options.seatsPerRow ?? SEATS_PER_ROW);
    const gaAreas =
      options.gaCapacity === undefined
        ? []
        : [{ id: BENCH_GA_AREA, name: 'Probe area', priceTier: 'std', capacity: options.gaCapacity }];
    const venue = await callWithMetadata(
      catalog.createVenue.bind(catalog),
      {
        venue: {
          id: '',
          externalId: '',
          name: 'Bench Arena',
          city: 'Benchville',
          address: '1 Load Street',
          halls: [
            {
              id: 'MAIN',
              name: 'Main',
              sections: [{ id: 'FLOOR', name: 'Floor', priceTier: 'std', rows }],
              gaAreas,
            },
          ],
        },
      },
      admin,
    );
    const event = await callWithMetadata(
      catalog.createEvent.bind(catalog),
      {
        event: Event.create({
          title: 'The Benchmark',
          kind: EventKind.EVENT_KIND_MOVIE,
          genres: ['Drama'],
          durationMinutes: 100,
          description: 'Seats to sell as fast as possible.',
        }),
      },
      admin,
    );
    const showIds: string[] = [];
    for (let i = 0; i < Math.ceil(seats / hallSeats); i++) {
      const show = await callWithMetadata(
        catalog.createShow.bind(catalog),
        {
          show: Show.create({
            eventId: event.id,
            venueId: venue.id,
            hallId: 'MAIN',
            startsAt: new Date(Date.now() + (30 + i) * 86400_000).toISOString(),
            currency: 'EUR',
            prices: [{ priceTier: 'std', amountCents: 2500 }],
          }),
        },
        admin,
      );
      showIds.push(show.id);
    }
    return showIds;
  } finally {
    catalog.close();
  }
}

import * as grpc from '@grpc/grpc-js';
import { CatalogServiceClient, EventKind } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportProgress } from '../../proto/gen/marquee/catalog/v1/catalog';
import { signToken } from '../../services/common/auth';
import { callUnary } from '../../services/common/grpc-client';
import { DEMO_FAN_PASSWORD, seedDemoBookings } from './demo-bookings';
import { demoCatalog } from './demo-catalog';

const CONCERT_TITLE = 'Neon Harbour — Live';

/**
 * Loads the demo data through the public API, as an operator would: the movie catalog via
 * ImportCatalog (idempotent by external id), one live event with a general-admission floor, and a
 * few demo fans' bookings for the recommendations to learn from. Safe to run on every start.
 * Returns a one-line summary.
 */
export async function seedDemoData(address: string, tokenSecret: string, now: Date): Promise<string> {
  const token = signToken(
    { userId: 'demo-seeder', email: 'seeder@marquee.local', role: 'admin' },
    tokenSecret,
    600,
    now.getTime(),
  );
  const catalog = new CatalogServiceClient(address, grpc.credentials.createInsecure());
  try {
    const imported = await importDocument(catalog, JSON.stringify(demoCatalog(now)), token);
    const concert = await ensureConcert(catalog, token, now);
    const bookings = await seedDemoBookings(address, now);
    return (
      `${imported.created} created, ${imported.updated} updated, ${imported.unchanged} unchanged; ${concert}; ` +
      `${bookings} demo fan bookings made (sign in as fan-1-1@demo.marquee.local, password "${DEMO_FAN_PASSWORD}")`
    );
  } finally {
    catalog.close();
  }
}

async function importDocument(
  catalog: CatalogServiceClient,
  documentJson: string,
  token: string,
): Promise<ImportProgress> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = catalog.importCatalog({ sourceUrl: '', documentJson }, metadata, {
    deadline: Date.now() + 120_000,
  });
  return new Promise((resolve, reject) => {
    let last: ImportProgress | undefined;
    call.on('data', (progress: ImportProgress) => (last = progress));
    call.on('error', reject);
    call.on('end', () => (last ? resolve(last) : reject(new Error('import ended without progress'))));
  });
}

async function ensureConcert(catalog: CatalogServiceClient, token: string, now: Date): Promise<string> {
  const found = await callUnary(catalog.searchEvents.bind(catalog), {
    query: 'Neon Harbour',
    genre: '',
    city: '',
    fromDate: '',
    toDate: '',
    kind: EventKind.EVENT_KIND_CONCERT,
    pageSize: 1,
    pageToken: '',
  });
  if (found.events.length > 0) return 'live event present';
  const settings = { token };
  const venue = await callUnary(
    catalog.createVenue.bind(catalog),
    {
      venue: {
        id: '',
        externalId: '',
        name: 'Harbour Arena',
        city: 'Lisbon',
        address: 'Doca de Alcântara 1',
        halls: [
          {
            id: 'ARENA',
            name: 'Arena',
            sections: [
              {
                id: 'BALC',
                name: 'Balcony',
                priceTier: 'seated',
                rows: ['A', 'B', 'C', 'D'].map((label) => ({ label, seatCount: 16 })),
              },
            ],
            gaAreas: [{ id: 'FLOOR', name: 'Standing floor', priceTier: 'standing', capacity: 300 }],
          },
        ],
      },
    },
    settings,
  );
  const event = await callUnary(
    catalog.createEvent.bind(catalog),
    {
      event: {
        id: '',
        externalId: '',
        title: CONCERT_TITLE,
        kind: EventKind.EVENT_KIND_CONCERT,
        genres: ['Electronic', 'Pop'],
        durationMinutes: 150,
        description: 'Synth-pop under the harbour lights: a standing floor and a seated balcony.',
        cast: [],
        artists: ['Neon Harbour', 'The Tidal Lights'],
        posterUrl: '',
      },
    },
    settings,
  );
  for (const days of [5, 6]) {
    const startsAt = new Date(
      Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days, 20, 30),
    );
    await callUnary(
      catalog.createShow.bind(catalog),
      {
        show: {
          id: '',
          externalId: '',
          eventId: event.id,
          venueId: venue.id,
          hallId: 'ARENA',
          startsAt: startsAt.toISOString(),
          currency: 'EUR',
          prices: [
            { priceTier: 'seated', amountCents: 5500 },
            { priceTier: 'standing', amountCents: 3900 },
          ],
        },
      },
      settings,
    );
  }
  return 'live event created';
}

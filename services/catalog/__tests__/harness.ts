import * as grpc from '@grpc/grpc-js';
import { signToken } from '../../common/auth';
import { createLogger } from '../../common/logger';
import { CatalogServiceClient, EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { Event, ImportProgress, Show, Venue } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freshDatabase } from '../../../test/databases';
import { loadConfig } from '../config';
import type { FetchLimits } from '../fetch-document';
import { startCatalogServer } from '../server';
import type { RunningCatalogServer } from '../server';

export const SECRET = 'catalog-test-secret-0123456789';

/** A catalog server on 127.0.0.1:0 over a fresh database, with a client and tokens. */
export interface Harness {
  address: string;
  client: CatalogServiceClient;
  server: RunningCatalogServer;
  adminToken: string;
  userToken: string;
  /** Calls a unary method; `token` undefined sends no authorization header. */
  call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, token?: string): Promise<Res>;
  /** Runs ImportCatalog to the end, returning every progress message. */
  importCatalog(
    request: { sourceUrl?: string; documentJson?: string },
    token?: string,
  ): Promise<ImportProgress[]>;
  close(): Promise<void>;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export function metadataWith(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

export async function startHarness(
  prefix: string,
  options: { cacheTtlMs?: number; fetchLimits?: FetchLimits } = {},
): Promise<Harness> {
  const db = await freshDatabase(prefix);
  const config = loadConfig({
    MARQUEE_CATALOG_PORT: '0',
    MARQUEE_TOKEN_SECRET: SECRET,
    MARQUEE_LOG_LEVEL: 'silent',
    MARQUEE_CATALOG_CACHE_TTL_MS: String(options.cacheTtlMs ?? 60_000),
    MARQUEE_CATALOG_DB: db.name,
  });
  const server = await startCatalogServer({
    config,
    logger: createLogger('catalog-test', { level: process.env.CATALOG_TEST_LOG ?? 'error' }),
    pool: db.pool,
    fetchLimits: options.fetchLimits,
  });
  const address = `127.0.0.1:${server.port}`;
  const client = new CatalogServiceClient(address, grpc.credentials.createInsecure());
  const now = Date.now();
  const adminToken = signToken(
    { userId: 'u-admin', email: 'admin@example.com', role: 'admin' },
    SECRET,
    3600,
    now,
  );
  const userToken = signToken(
    { userId: 'u-user', email: 'user@example.com', role: 'user' },
    SECRET,
    3600,
    now,
  );
  return {
    address,
    client,
    server,
    adminToken,
    userToken,
    call: (method, request, token) =>
      new Promise((resolve, reject) => {
        method.call(
          client,
          request,
          metadataWith(token),
          { deadline: Date.now() + 10_000 },
          (error, response) => (error ? reject(error) : resolve(response)),
        );
      }),
    importCatalog: (request, token) =>
      new Promise((resolve, reject) => {
        const messages: ImportProgress[] = [];
        const stream = client.importCatalog(
          { sourceUrl: request.sourceUrl ?? '', documentJson: request.documentJson ?? '' },
          metadataWith(token),
          {
            deadline: Date.now() + 20_000,
          },
        );
        stream.on('data', (progress: ImportProgress) => messages.push(progress));
        stream.on('error', reject);
        stream.on('end', () => resolve(messages));
      }),
    close: async () => {
      client.close();
      await server.stop();
      await db.drop();
    },
  };
}

/** Awaits a call that must fail with `code` and a message containing every one of `parts`. */
export async function expectGrpcError(
  promise: Promise<unknown>,
  code: grpc.status,
  ...parts: string[]
): Promise<grpc.ServiceError> {
  let failure: unknown;
  try {
    await promise;
  } catch (error) {
    failure = error;
  }
  if (!failure) throw new Error(`expected ${grpc.status[code]} but the call succeeded`);
  const error = failure as grpc.ServiceError;
  expect({ code: grpc.status[error.code], details: error.details }).toEqual({
    code: grpc.status[code],
    details: expect.any(String),
  });
  for (const part of parts) expect(error.details).toContain(part);
  return error;
}

// ---- records to start from; each test changes what it needs

export function aVenue(overrides: Partial<Venue> = {}): Venue {
  return {
    id: '',
    name: 'Grand Hall',
    city: 'Lyon',
    address: '1 Place Bellecour',
    externalId: '',
    halls: [
      {
        id: 'main',
        name: 'Main Hall',
        sections: [
          {
            id: 'orch',
            name: 'Orchestra',
            priceTier: 'Premium',
            rows: [
              { label: 'a', seatCount: 3 },
              { label: 'B', seatCount: 2 },
            ],
          },
          { id: 'BALC', name: 'Balcony', priceTier: 'standard', rows: [{ label: '1', seatCount: 2 }] },
        ],
        gaAreas: [{ id: 'floor', name: 'Standing floor', priceTier: 'standing', capacity: 150 }],
      },
    ],
    ...overrides,
  };
}

export function anEvent(overrides: Partial<Event> = {}): Event {
  return {
    id: '',
    title: 'The Lighthouse',
    kind: EventKind.EVENT_KIND_MOVIE,
    genres: ['Drama'],
    durationMinutes: 110,
    description: 'Two keepers, one lamp.',
    cast: ['Ines Marlow'],
    artists: [],
    posterUrl: 'https://posters.example.com/lighthouse.jpg',
    externalId: '',
    ...overrides,
  };
}

export function aShow(eventId: string, venueId: string, overrides: Partial<Show> = {}): Show {
  return {
    id: '',
    eventId,
    venueId,
    hallId: 'MAIN',
    startsAt: '2031-06-01T19:30:00Z',
    currency: 'EUR',
    prices: [
      { priceTier: 'premium', amountCents: 4500 },
      { priceTier: 'standard', amountCents: 2500 },
      { priceTier: 'standing', amountCents: 1500 },
    ],
    externalId: '',
    ...overrides,
  };
}

import * as grpc from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { AccountServiceClient, BookingServiceClient } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Card } from '../../../proto/gen/marquee/booking/v1/booking';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { signToken } from '../../common/auth';
import type { Role } from '../../common/auth';
import { createLogger } from '../../common/logger';
import type { Pool } from '../../common/mysql';
import { loadConfig } from '../config';
import type { BookingConfig } from '../config';
import type { PaymentProcessor } from '../payments';
import { startBookingServer } from '../server';
import type { BookingServer } from '../server';
import { StaticShowSource } from '../show-source';
import type { ShowInventory } from '../show-source';

export const GOOD_CARD: Card = {
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2099,
  cvc: '123',
  holderName: 'Test Buyer',
};
export const DECLINED_CARD: Card = { ...GOOD_CARD, number: '4000 0000 0000 0002' };

/** A show with `seats` seats ORCH-A-1.. and the given GA pools. */
export function makeShow(
  showId: string,
  seats: number,
  pools: { areaId: string; capacity: number; amountCents?: number }[] = [],
): ShowInventory {
  return {
    showId,
    currency: 'EUR',
    startsAt: '2030-01-01T20:00:00Z',
    seats: Array.from({ length: seats }, (_, i) => ({
      id: `ORCH-A-${i + 1}`,
      label: `Orchestra A${i + 1}`,
      priceTier: 'orchestra',
      amountCents: 4500,
    })),
    pools: pools.map((p) => ({
      areaId: p.areaId,
      name: `Area ${p.areaId}`,
      priceTier: 'ga',
      capacity: p.capacity,
      amountCents: p.amountCents ?? 2000,
    })),
  };
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: Callback<Res>,
) => grpc.ClientUnaryCall;

/** Calls a unary method as a promise with an optional bearer token and extra headers. */
export function call<Req, Res>(
  method: Unary<Req, Res>,
  request: Req,
  token?: string,
  headers: Record<string, string> = {},
): Promise<Res> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise((resolve, reject) => {
    method(request, metadata, { deadline: Date.now() + 30000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** The gRPC error a promise rejected with (fails the test if it resolved). */
export async function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export async function expectError(
  promise: Promise<unknown>,
  code: grpc.status,
  messagePart: string | RegExp,
): Promise<ServiceError> {
  const error = await grpcError(promise);
  expect({ code: grpc.status[error.code], details: error.details }).toEqual({
    code: grpc.status[code],
    details:
      typeof messagePart === 'string'
        ? expect.stringContaining(messagePart)
        : expect.stringMatching(messagePart),
  });
  return error;
}

export interface Harness {
  server: BookingServer;
  config: Readonly<BookingConfig>;
  /** The test's own pool on the booking database (for assertions). */
  db: Pool;
  source: StaticShowSource;
  accounts: AccountServiceClient;
  /** A few channels; logical clients share them (grpc-js multiplexes calls on each). */
  booking: BookingServiceClient[];
  /** Moves the server's clock forward. */
  advance(ms: number): void;
  now(): number;
  token(userId: string, role?: Role): string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  shows: ShowInventory[];
  holdTtlSeconds?: number;
  sweepIntervalMs?: number;
  channels?: number;
  /** Give the server the test's pool (no multi-statement batches: exercises the one-by-one path). */
  sharedPool?: boolean;
  payments?: PaymentProcessor;
}

/** A booking server on 127.0.0.1:0 over a fresh database, with clients. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const database = await freshDatabase('booking');
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const config = loadConfig({
    MARQUEE_BOOKING_PORT: '0',
    MARQUEE_MYSQL_URL: testMysqlUrl(),
    MARQUEE_BOOKING_DB: database.name,
    MARQUEE_HOLD_TTL_SECONDS: String(options.holdTtlSeconds ?? 600),
    MARQUEE_SWEEP_INTERVAL_MS: String(options.sweepIntervalMs ?? 3600000),
    MARQUEE_BOOKING_MYSQL_CONNECTIONS: '32',
    MARQUEE_LOG_LEVEL: 'silent',
  });
  const source = new StaticShowSource(options.shows);
  const server = await startBookingServer({
    config,
    logger: createLogger('booking-test', { level: 'silent' }),
    showSource: source,
    clock: now,
    pool: options.sharedPool ? database.pool : undefined,
    payments: options.payments,
  });
  const address = `127.0.0.1:${server.port}`;
  const insecure = grpc.credentials.createInsecure();
  // A local subchannel pool per client gives each its own HTTP/2 connection.
  const booking = Array.from(
    { length: options.channels ?? 2 },
    () => new BookingServiceClient(address, insecure, { 'grpc.use_local_subchannel_pool': 1 }),
  );
  const accounts = new AccountServiceClient(address, insecure);
  return {
    server,
    config,
    db: database.pool,
    source,
    accounts,
    booking,
    advance: (ms) => {
      offset += ms;
    },
    now,
    token: (userId, role = 'user') =>
      signToken({ userId, email: `${userId}@example.com`, role }, config.tokenSecret, 3600, Date.now()),
    stop: async () => {
      for (const client of booking) client.close();
      accounts.close();
      await server.stop();
      await database.drop();
    },
  };
}

export async function queryRows<T>(pool: Pool, text: string, ...values: unknown[]): Promise<T[]> {
  const [result] = await pool.query(text, values);
  return result as T[];
}

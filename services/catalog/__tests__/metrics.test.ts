import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CatalogServiceClient } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportProgress } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freshDatabase } from '../../../test/databases';
import { signToken } from '../../common/auth';
import { createLogger } from '../../common/logger';
import { scrapeMetrics, sumOf } from '../../common/metrics';
import type { Sample } from '../../common/metrics';
import { loadConfig } from '../config';
import { startCatalogServer } from '../server';
import type { RunningCatalogServer } from '../server';
import { SECRET, aVenue, anEvent, metadataWith } from './harness';

/*
 * The catalog's GET /metrics over a real server and database: its gRPC calls by code (a NOT_FOUND
 * counts as one), the read cache's hits and misses, and the records a committed import wrote.
 */

const FIXTURE = readFileSync(path.join(__dirname, '../../../test/fixtures/catalog-import.json'), 'utf8');

let db: Awaited<ReturnType<typeof freshDatabase>>;
let server: RunningCatalogServer;
let client: CatalogServiceClient;
const adminToken = signToken(
  { userId: 'u-admin', email: 'a@example.com', role: 'admin' },
  SECRET,
  3600,
  Date.now(),
);

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

function call<Req, Res>(method: Unary<Req, Res>, request: Req, token?: string): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, metadataWith(token), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

function importDocument(): Promise<ImportProgress[]> {
  return new Promise((resolve, reject) => {
    const messages: ImportProgress[] = [];
    const stream = client.importCatalog({ sourceUrl: '', documentJson: FIXTURE }, metadataWith(adminToken), {
      deadline: Date.now() + 20_000,
    });
    stream.on('data', (progress: ImportProgress) => messages.push(progress));
    stream.on('error', reject);
    stream.on('end', () => resolve(messages));
  });
}

const scrape = (): Promise<Sample[]> => scrapeMetrics(`http://127.0.0.1:${server.metricsPort}/metrics`);
const calls = (samples: Sample[], method: string, code: string): number =>
  sumOf(samples, 'marquee_grpc_requests_total', {
    grpc_service: 'marquee.catalog.v1.CatalogService',
    grpc_method: method,
    grpc_code: code,
  });

beforeAll(async () => {
  db = await freshDatabase('catmetrics');
  server = await startCatalogServer({
    config: loadConfig({
      MARQUEE_CATALOG_PORT: '0',
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_LOG_LEVEL: 'silent',
      MARQUEE_CATALOG_DB: db.name,
      MARQUEE_METRICS_PORT: '0',
    }),
    logger: createLogger('catalog-metrics-test', { level: 'silent' }),
    pool: db.pool,
  });
  client = new CatalogServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await server.stop();
  await db.drop();
});

describe('catalog GET /metrics', () => {
  it('is off unless asked for, and on its own port when asked', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(server.metricsPort).toEqual(expect.any(Number));
    expect(server.metricsPort).not.toBe(server.port);
  });

  it('counts calls by method and code name, and the cache hits and misses', async () => {
    const before = await scrape();
    await call(client.createVenue, { venue: aVenue() }, adminToken);
    const event = await call(client.createEvent, { event: anEvent() }, adminToken);
    for (let i = 0; i < 3; i++) await call(client.getEvent, { eventId: event.id });
    await expect(call(client.getEvent, { eventId: 'no-such-event' })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(call(client.createEvent, { event: anEvent() })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });

    const after = await scrape();
    const moved = (method: string, code: string): number =>
      calls(after, method, code) - calls(before, method, code);
    expect(moved('GetEvent', 'OK')).toBe(3);
    expect(moved('GetEvent', 'NOT_FOUND')).toBe(1);
    expect(moved('CreateEvent', 'OK')).toBe(1);
    expect(moved('CreateEvent', 'UNAUTHENTICATED')).toBe(1);
    expect(moved('CreateVenue', 'OK')).toBe(1);
    // The first read of the event loads it, the next two come from the cache (the unknown id misses).
    const hits = (s: Sample[]) => sumOf(s, 'marquee_catalog_cache_hits_total');
    const misses = (s: Sample[]) => sumOf(s, 'marquee_catalog_cache_misses_total');
    expect(hits(after) - hits(before)).toBe(2);
    expect(misses(after) - misses(before)).toBe(2);
    expect(server.cacheStats()).toMatchObject({ hits: hits(after), misses: misses(after) });
    expect(sumOf(after, 'marquee_catalog_cache_entries')).toBe(server.cacheStats().size);
    // Latency of the unary calls, by method; every series says which service it is.
    expect(
      sumOf(after, 'marquee_grpc_request_duration_seconds_count', { grpc_method: 'GetEvent' }) -
        sumOf(before, 'marquee_grpc_request_duration_seconds_count', { grpc_method: 'GetEvent' }),
    ).toBe(4);
    for (const sample of after) expect(sample.labels.service).toBe('catalog');
  });

  it('counts the records of a committed import by outcome, and the streaming call once', async () => {
    const records = (s: Sample[], outcome: string) =>
      sumOf(s, 'marquee_catalog_import_records_total', { outcome });
    const before = await scrape();
    const first = (await importDocument()).at(-1)!;
    const second = (await importDocument()).at(-1)!;
    expect(first.phase).toBe('done');
    expect(first.created).toBeGreaterThan(0);
    expect(second.unchanged).toBe(first.created);

    const after = await scrape();
    expect(records(after, 'created') - records(before, 'created')).toBe(first.created);
    expect(records(after, 'unchanged') - records(before, 'unchanged')).toBe(second.unchanged);
    expect(records(after, 'updated') - records(before, 'updated')).toBe(first.updated + second.updated);
    expect(calls(after, 'ImportCatalog', 'OK') - calls(before, 'ImportCatalog', 'OK')).toBe(2);
    expect(
      sumOf(after, 'marquee_grpc_requests_total', {
        grpc_method: 'ImportCatalog',
        grpc_type: 'server_stream',
      }),
    ).toBe(calls(after, 'ImportCatalog', 'OK'));
  });

  it('an import that fails counts no records', async () => {
    const created = (s: Sample[]) => sumOf(s, 'marquee_catalog_import_records_total', { outcome: 'created' });
    const before = await scrape();
    const failed = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const stream = client.importCatalog(
        { sourceUrl: '', documentJson: '{"movies": "not a list"}' },
        metadataWith(adminToken),
        { deadline: Date.now() + 10_000 },
      );
      stream.on('data', () => undefined);
      stream.on('error', resolve);
      stream.on('end', () => reject(new Error('the import should have failed')));
    });
    expect(failed.code).toBe(grpc.status.INVALID_ARGUMENT);
    const after = await scrape();
    expect(created(after)).toBe(created(before));
    expect(
      calls(after, 'ImportCatalog', 'INVALID_ARGUMENT') - calls(before, 'ImportCatalog', 'INVALID_ARGUMENT'),
    ).toBe(1);
  });
});

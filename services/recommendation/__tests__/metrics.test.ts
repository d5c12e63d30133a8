import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { RecommendationServiceClient } from '../../../proto/gen/marquee/recommendation/v1/recommendation';
import { freePort } from '../../../scripts/lib/processes';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { SECRET, aVenue, anEvent, startHarness as startCatalog } from '../../catalog/__tests__/harness';
import type { Harness as CatalogHarness } from '../../catalog/__tests__/harness';
import { signToken } from '../../common/auth';
import { scrapeMetrics, sumOf } from '../../common/metrics';
import type { Sample } from '../../common/metrics';
import { loadConfig } from '../config';
import { startRecommendationServer } from '../server';
import type { RunningRecommendationServer } from '../server';

/*
 * The recommendation service's GET /metrics over a real catalog: the model serving (version, size,
 * retrains), the change feed (here pointed at a booking node that is not there, so it keeps moving
 * on and never connects), and Recommend calls by code with their latency.
 */

const logger = pino({ level: 'silent' });

let catalog: CatalogHarness;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let service: RunningRecommendationServer;
let client: RecommendationServiceClient;

const scrape = (): Promise<Sample[]> => scrapeMetrics(`http://127.0.0.1:${service.metricsPort}/metrics`);

function recommend(userId: string, token?: string): Promise<grpc.status> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) =>
    client.recommend({ userId, k: 3, city: '' }, metadata, { deadline: Date.now() + 5000 }, (error) =>
      resolve(error ? error.code : grpc.status.OK),
    ),
  );
}

beforeAll(async () => {
  catalog = await startCatalog('recmetcat');
  await catalog.call(catalog.client.createVenue, { venue: aVenue() }, catalog.adminToken);
  for (const title of ['Blue Note Nights', 'Amplifier Storm'])
    await catalog.call(catalog.client.createEvent, { event: anEvent({ title }) }, catalog.adminToken);
  database = await freshDatabase('recmet');
  service = await startRecommendationServer({
    config: loadConfig({
      MARQUEE_RECOMMENDATION_PORT: '0',
      MARQUEE_MYSQL_URL: testMysqlUrl(),
      MARQUEE_RECOMMENDATION_DB: database.name,
      MARQUEE_CATALOG_ADDR: catalog.address,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${await freePort()}`,
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_LOG_LEVEL: 'silent',
      MARQUEE_RECOMMENDATION_RETRAIN_MS: '86400000',
      MARQUEE_METRICS_PORT: '0',
    }),
    logger,
    pool: database.pool,
  });
  client = new RecommendationServiceClient(`127.0.0.1:${service.port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await database?.drop();
  await catalog?.close();
});

describe('recommendation GET /metrics', () => {
  it('describes the model serving and the retrain that made it', async () => {
    const samples = await scrape();
    const status = service.status();
    const info = samples.filter((s) => s.name === 'marquee_recommendation_model_info');
    expect(info.map((s) => [s.labels.version, s.value])).toEqual([[status.version, 1]]);
    expect(status.version).not.toBe('untrained');
    expect(sumOf(samples, 'marquee_recommendation_retrains_total')).toBe(status.retrains);
    expect(status.retrains).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'marquee_recommendation_last_retrain_seconds')).toBeGreaterThanOrEqual(0);
    expect(samples.some((s) => s.name === 'marquee_recommendation_last_retrain_seconds')).toBe(true);
    expect(sumOf(samples, 'marquee_recommendation_model_events')).toBe(status.events);
    expect(sumOf(samples, 'marquee_recommendation_skipped_changes_total')).toBe(0);
    for (const sample of samples) expect(sample.labels.service).toBe('recommendation');
  });

  it('follows the change feed: position, connection, and each move to another node', async () => {
    await eventually(async () => {
      const samples = await scrape();
      expect(sumOf(samples, 'marquee_recommendation_feed_switches_total')).toBeGreaterThanOrEqual(2);
      expect(sumOf(samples, 'marquee_recommendation_feed_connected')).toBe(0);
      expect(sumOf(samples, 'marquee_recommendation_feed_position')).toBe(service.feed().position);
      expect(sumOf(samples, 'marquee_recommendation_feed_changes_total')).toBe(0);
    });
  });

  it('counts Recommend calls by code and times them', async () => {
    const calls = (samples: Sample[], code: string) =>
      sumOf(samples, 'marquee_grpc_requests_total', {
        grpc_service: 'marquee.recommendation.v1.RecommendationService',
        grpc_method: 'Recommend',
        grpc_code: code,
      });
    const timed = (samples: Sample[]) =>
      sumOf(samples, 'marquee_grpc_request_duration_seconds_count', { grpc_method: 'Recommend' });
    const before = await scrape();
    const token = signToken(
      { userId: 'u-1', email: 'u1@example.com', role: 'user' },
      SECRET,
      3600,
      Date.now(),
    );
    expect(await recommend('')).toBe(grpc.status.OK);
    expect(await recommend('', token)).toBe(grpc.status.OK);
    expect(await recommend('u-2', token)).toBe(grpc.status.PERMISSION_DENIED);
    const after = await scrape();
    expect(calls(after, 'OK') - calls(before, 'OK')).toBe(2);
    expect(calls(after, 'PERMISSION_DENIED') - calls(before, 'PERMISSION_DENIED')).toBe(1);
    expect(timed(after) - timed(before)).toBe(3);
  });
});

async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

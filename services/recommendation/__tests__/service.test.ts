import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { RecommendationServiceClient } from '../../../proto/gen/marquee/recommendation/v1/recommendation';
import type { RecommendResponse } from '../../../proto/gen/marquee/recommendation/v1/recommendation';
import { EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import {
  BookingGroup,
  eventually,
  registerUser,
  retryUnavailable,
} from '../../booking/__tests__/booking-group';
import { GOOD_CARD, call, makeShow } from '../../booking/__tests__/harness';
import { aShow, aVenue, anEvent, startHarness as startCatalog } from '../../catalog/__tests__/harness';
import type { Harness as CatalogHarness } from '../../catalog/__tests__/harness';
import { signToken } from '../../common/auth';
import { loadConfig } from '../config';
import { startRecommendationServer } from '../server';
import type { RunningRecommendationServer } from '../server';

/*
 * The recommendation service against a REAL catalog and a REAL three-node booking group: it follows
 * the change stream (across a master failover, without gaps or duplicates), learns who books what,
 * answers with reasons, keeps its model across a restart, and refuses bad and forbidden requests.
 * Retrains run on the real worker thread.
 */

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
/** The booking group's token secret (its default), which the service must share. */
const SECRET = 'marquee-dev-secret-change-me';

let catalog: CatalogHarness;
let group: BookingGroup;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let service: RunningRecommendationServer | undefined;
let client: RecommendationServiceClient;
const events: Record<string, { id: string; showId: string }> = {};
const users: Record<string, { id: string; token: string }> = {};
const madeBookings: string[] = [];
let keys = 0;

let seat = 0;
async function book(user: string, event: string): Promise<string> {
  const writer = await eventually(() => {
    const [id] = group.writers();
    if (id === undefined) throw new Error('no master yet');
    return id;
  });
  const { booking } = group.member(writer);
  const token = users[user]!.token;
  const holdKey = `hold-${++keys}-key`;
  const hold = await retryUnavailable(() =>
    call(
      booking.holdSeats.bind(booking),
      { showId: events[event]!.showId, seatIds: [`ORCH-A-${++seat}`], ga: [], idempotencyKey: holdKey },
      token,
    ),
  );
  const confirmed = await retryUnavailable(() =>
    call(
      booking.confirmBooking.bind(booking),
      { holdId: hold.id, card: GOOD_CARD, idempotencyKey: `pay-${keys}-key` },
      token,
    ),
  );
  madeBookings.push(confirmed.id);
  return confirmed.id;
}

function recommendCall(
  request: { userId?: string; k?: number; city?: string },
  token?: string,
): Promise<RecommendResponse> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    client.recommend(
      { userId: request.userId ?? '', k: request.k ?? 0, city: request.city ?? '' },
      metadata,
      { deadline: Date.now() + 5000 },
      (error, answer) => (error ? reject(error) : resolve(answer)),
    ),
  );
}

function similarCall(eventId: string, k = 3): Promise<RecommendResponse> {
  return new Promise((resolve, reject) =>
    client.similarEvents(
      { eventId, k },
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, answer) => (error ? reject(error) : resolve(answer)),
    ),
  );
}

async function startService(): Promise<RunningRecommendationServer> {
  const addresses = [...group.members.values()].map((m) => `${m.id}=${m.clientAddress}`).join(',');
  const config = loadConfig({
    MARQUEE_RECOMMENDATION_PORT: '0',
    MARQUEE_MYSQL_URL: testMysqlUrl(),
    MARQUEE_RECOMMENDATION_DB: database.name,
    MARQUEE_CATALOG_ADDR: catalog.address,
    MARQUEE_BOOKING_ADDRS: addresses,
    MARQUEE_TOKEN_SECRET: SECRET,
    MARQUEE_LOG_LEVEL: 'silent',
    // Retrains happen when the test asks (and at start), not on a timer.
    MARQUEE_RECOMMENDATION_RETRAIN_MS: '86400000',
  });
  const started = await startRecommendationServer({ config, logger, pool: database.pool });
  client?.close();
  client = new RecommendationServiceClient(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
  return started;
}

beforeAll(async () => {
  catalog = await startCatalog('recsvccat');
  const c = catalog.client;
  const venue = await catalog.call(c.createVenue, { venue: aVenue() }, catalog.adminToken);
  const titles: [string, string[], string][] = [
    ['Blue Note Nights', ['Jazz'], 'Quartet Azul'],
    ['Saxophone Sunrise', ['Jazz'], 'Quartet Azul'],
    ['Amplifier Storm', ['Rock'], 'The Fuses'],
    ['Feedback Loop', ['Rock'], 'The Fuses'],
    ['Brand New Groove', ['Jazz'], 'Quartet Azul'],
  ];
  for (const [title, genres, artist] of titles) {
    const event = await catalog.call(
      c.createEvent,
      { event: anEvent({ title, genres, kind: EventKind.EVENT_KIND_CONCERT, cast: [], artists: [artist] }) },
      catalog.adminToken,
    );
    const show = await catalog.call(
      c.createShow,
      { show: aShow(event.id, venue.id, { startsAt: '2031-06-01T19:30:00Z' }) },
      catalog.adminToken,
    );
    events[title] = { id: event.id, showId: show.id };
  }
  group = await new BookingGroup({
    label: 'recsvc',
    shows: Object.values(events).map((e) => makeShow(e.showId, 40)),
    env: { MARQUEE_ACK_POLICY: 'majority', MARQUEE_TOKEN_SECRET: SECRET },
  }).start();
  const master = group.member(await group.settled());
  for (const name of ['jazz1', 'jazz2', 'jazz3', 'rock1', 'rock2', 'rock3', 'newcomer', 'curious']) {
    const session = await registerUser(master, name);
    users[name] = { id: session.user!.id, token: session.token };
  }
  for (const user of ['jazz1', 'jazz2', 'jazz3']) {
    await book(user, 'Blue Note Nights');
    await book(user, 'Saxophone Sunrise');
  }
  for (const user of ['rock1', 'rock2', 'rock3']) {
    await book(user, 'Amplifier Storm');
    await book(user, 'Feedback Loop');
  }
  await book('newcomer', 'Blue Note Nights');
  database = await freshDatabase('recsvc');
  service = await startService();
}, 120_000);

afterAll(async () => {
  client?.close();
  await service?.stop();
  await group?.stop();
  await catalog?.close();
  await database?.drop();
});

/** Waits until the service has stored exactly the bookings made so far (no more, no fewer). */
async function everyBookingStored(): Promise<void> {
  await eventually(async () => {
    const [stored] = await database.pool.query('SELECT booking_id FROM rec_interactions');
    expect((stored as { booking_id: string }[]).map((r) => r.booking_id).sort()).toEqual(
      [...madeBookings].sort(),
    );
  });
}

const titleOf = (eventId: string): string =>
  Object.entries(events).find(([, e]) => e.id === eventId)?.[0] ?? eventId;

describe('the recommendation service', () => {
  it('learns from the change stream: a jazz booker is offered the other jazz event first, with a reason', async () => {
    await everyBookingStored();
    const { items, modelVersion } = await recommendCall({ k: 10 }, users.newcomer!.token);
    const titles = items.map((i) => titleOf(i.eventId));
    expect(titles).not.toContain('Blue Note Nights'); // already booked
    expect(items[0]!.reason).toContain('Blue Note Nights');
    // Both rock events rank below every jazz one.
    expect(titles.indexOf('Amplifier Storm')).toBeGreaterThan(titles.indexOf('Saxophone Sunrise'));
    expect(modelVersion).not.toBe('');
    expect(service!.status().skippedChanges).toBe(0);
  });

  it('answers anyone without a token (popular events) and a new event through its content', async () => {
    const anyone = await recommendCall({ k: 5 });
    expect(anyone.items.length).toBeGreaterThan(0);
    const similar = await similarCall(events['Blue Note Nights']!.id, 4);
    const titles = similar.items.map((i) => titleOf(i.eventId));
    expect(titles[0]).toBe('Saxophone Sunrise');
    // Nobody booked it, yet it is like Blue Note Nights in what it is (genre, artist).
    expect(titles).toContain('Brand New Groove');
    expect(titles.indexOf('Brand New Groove')).toBeLessThan(
      titles.indexOf('Feedback Loop') === -1 ? 99 : titles.indexOf('Feedback Loop'),
    );
  });

  it('refuses bad and forbidden requests, naming the field', async () => {
    const code = async (p: Promise<unknown>): Promise<[number, string]> => {
      try {
        await p;
        return [0, ''];
      } catch (error) {
        const e = error as grpc.ServiceError;
        return [e.code, e.details];
      }
    };
    const [forbidden, forbiddenText] = await code(
      recommendCall({ userId: users.jazz1!.id }, users.rock1!.token),
    );
    expect(forbidden).toBe(grpc.status.PERMISSION_DENIED);
    expect(forbiddenText).toContain('user_id');
    const admin = signToken(
      { userId: 'u-admin', email: 'a@example.com', role: 'admin' },
      SECRET,
      600,
      Date.now(),
    );
    expect((await recommendCall({ userId: users.jazz1!.id }, admin)).items.length).toBeGreaterThan(0);
    const [badK, badKText] = await code(recommendCall({ k: 500 }, users.jazz1!.token));
    expect(badK).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badKText).toContain('k');
    const [unknown] = await code(similarCall('no-such-event'));
    expect(unknown).toBe(grpc.status.NOT_FOUND);
    const [noId, noIdText] = await code(similarCall(''));
    expect(noId).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noIdText).toContain('event_id');
    const [badToken] = await code(recommendCall({}, 'not-a-token'));
    expect(badToken).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('follows the stream when its node dies, then through a master failover: every booking once', async () => {
    // The node the stream reads from dies: the feed resumes on the next one from its position.
    const reading = [...group.members.values()].find((m) => m.clientAddress === service!.feed().address)!;
    await group.stopMember(reading.id);
    await book('curious', 'Amplifier Storm');
    await everyBookingStored();
    expect(service!.feed().switches).toBeGreaterThan(0);
    await group.startMember(reading.id);
    await eventually(() => expect(group.writers()).toHaveLength(1));

    // The master dies (the feed may or may not be reading from it): bookings made by the next
    // master arrive too, and none twice.
    const master = group.writers()[0]!;
    const positionBefore = service!.feed().position;
    await group.stopMember(master);
    await book('curious', 'Feedback Loop');
    await everyBookingStored();
    expect(service!.feed().position).toBeGreaterThan(positionBefore);
    await group.startMember(master);
  });

  it('keeps its model across a restart, and a retrain on the worker thread swaps in a new one', async () => {
    await service!.engine.retrain('test');
    const before = service!.status();
    expect(before.retrains).toBeGreaterThan(0);
    const answer = await recommendCall({ k: 5 }, users.newcomer!.token);
    await service!.stop();
    service = await startService();
    const after = service.status();
    expect(after.version).toBe(before.version);
    // The same answer (scores equal but for rounding: the decay moved on by the restart's milliseconds).
    const again = (await recommendCall({ k: 5 }, users.newcomer!.token)).items;
    expect(again.map((i) => [i.eventId, i.reason])).toEqual(answer.items.map((i) => [i.eventId, i.reason]));
    again.forEach((item, i) => expect(item.score).toBeCloseTo(answer.items[i]!.score, 6));
  });
});

import { HoldState } from '../../../proto/gen/marquee/booking/v1/booking';
import { ConfigError } from '../../common/config';
import { InvalidArgumentError, NotFoundError } from '../../common/errors';
import { loadConfig } from '../config';
import { decide } from '../domain/decide';
import type { HoldCommand } from '../domain/decide';
import { BookingState } from '../domain/state';
import { scopeFor } from '../idempotency';
import { parseHoldRequest, parseRegister } from '../requests';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.field;
    if (error instanceof NotFoundError) return error.details.field;
    throw error;
  }
  return undefined;
}

describe('HoldSeats request validation', () => {
  const valid = {
    showId: 'show-1',
    seatIds: ['A-1', 'A-2'],
    ga: [{ areaId: 'GA', quantity: 3 }],
    idempotencyKey: 'k',
  };
  it('passes a valid request through', () => {
    expect(parseHoldRequest(valid)).toEqual({
      showId: 'show-1',
      seatIds: ['A-1', 'A-2'],
      ga: [{ areaId: 'GA', quantity: 3 }],
    });
  });
  it.each([
    ['seat_ids[2]', { seatIds: ['A-1', 'A-2', 'A-1'] }],
    ['seat_ids', { seatIds: Array.from({ length: 11 }, (_, i) => `A-${i}`) }],
    ['seat_ids', { seatIds: [], ga: [] }],
    ['ga[0].quantity', { ga: [{ areaId: 'GA', quantity: 11 }] }],
    ['ga[0].quantity', { ga: [{ areaId: 'GA', quantity: 1.5 }] }],
    [
      'ga[1].area_id',
      {
        ga: [
          { areaId: 'GA', quantity: 1 },
          { areaId: 'GA', quantity: 1 },
        ],
      },
    ],
    ['show_id', { showId: '' }],
  ])('names %s', (field, change) => {
    expect(fieldOf(() => parseHoldRequest({ ...valid, ...change }))).toBe(field);
  });
});

describe('Register request validation', () => {
  it('lower-cases the email and defaults the display name to its local part', () => {
    expect(
      parseRegister({ email: ' Ann@Example.COM ', password: '  spaces count  ', displayName: '' }),
    ).toEqual({
      email: 'ann@example.com',
      password: '  spaces count  ',
      displayName: 'ann',
    });
  });
});

describe('a hold decision', () => {
  const state = (): BookingState => {
    const s = new BookingState();
    const seat = { showId: 'show-1', state: 'FREE' as const, holdId: null, heldUntil: null, bookingId: null };
    s.addSeat({ ...seat, seatId: 'A-1', label: 'A1', amountCents: 1000 });
    s.addSeat({ ...seat, seatId: 'A-2', label: 'A2', amountCents: 1200 });
    s.addPool({
      showId: 'show-1',
      areaId: 'GA',
      name: 'Floor',
      amountCents: 500,
      capacity: 10,
      held: 0,
      sold: 0,
    });
    return s;
  };
  const hold = (request: Pick<HoldCommand, 'seatIds' | 'ga'>, ttlSeconds = 600): HoldCommand => ({
    kind: 'hold',
    principal: { userId: 'u1', email: 'u1@example.com', role: 'user' },
    scope: scopeFor('u1', 'k1', 'HoldSeats', request),
    holdId: 'hold_1',
    showId: 'show-1',
    currency: 'EUR',
    ttlSeconds,
    ...request,
  });
  it('prices the hold from the show and expires it after the TTL', () => {
    const decision = decide(
      hold({ seatIds: ['A-2', 'A-1'], ga: [{ areaId: 'GA', quantity: 3 }] }),
      state(),
      0,
    );
    if (decision.kind !== 'write') throw new Error('expected a write');
    expect(decision.answer).toEqual({
      id: 'hold_1',
      showId: 'show-1',
      seats: [
        { seatId: 'A-1', label: 'A1', amountCents: 1000 },
        { seatId: 'A-2', label: 'A2', amountCents: 1200 },
      ],
      ga: [{ areaId: 'GA', quantity: 3, amountCents: 500 }],
      totalCents: 1000 + 1200 + 3 * 500,
      currency: 'EUR',
      expiresAt: '1970-01-01T00:10:00.000Z',
      state: HoldState.HOLD_STATE_ACTIVE,
    });
    expect(decision.ops).toHaveLength(1);
  });
  it('names an unknown seat or area', () => {
    expect(fieldOf(() => decide(hold({ seatIds: ['A-1', 'B-9'], ga: [] }), state(), 0))).toBe('seat_ids[1]');
    expect(
      fieldOf(() => decide(hold({ seatIds: [], ga: [{ areaId: 'VIP', quantity: 1 }] }), state(), 0)),
    ).toBe('ga[0].area_id');
  });
});

describe('booking config', () => {
  it('fills defaults', () => {
    const config = loadConfig({});
    expect(config).toEqual(
      expect.objectContaining({
        host: '127.0.0.1',
        port: 50071,
        nodeId: 1,
        mysqlUrl: 'mysql://root@127.0.0.1:3306',
        database: 'marquee_booking_1',
        catalogAddr: '127.0.0.1:50061',
        tokenTtlSeconds: 86400,
        holdTtlSeconds: 600,
        adminEmail: 'admin@marquee.local',
        adminPassword: 'marquee-admin',
        idempotencyTtlHours: 24,
        sweepIntervalMs: 1000,
      }),
    );
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadConfig({ MARQUEE_NODE_ID: '3' }).database).toBe('marquee_booking_3');
    expect(config.cluster).toBeUndefined();
  });
  it('the crash-before-answer test fault is off by default and needs a method path and an arm file', () => {
    expect(loadConfig({}).crashBeforeAnswer).toBeUndefined();
    const method = '/marquee.booking.v1.BookingService/ConfirmBooking';
    expect(
      loadConfig({ MARQUEE_FAULT_CRASH_BEFORE_ANSWER: method, MARQUEE_FAULT_ARM_FILE: '/tmp/armed' })
        .crashBeforeAnswer,
    ).toEqual({ method, armFile: '/tmp/armed' });
    expect(() => loadConfig({ MARQUEE_FAULT_CRASH_BEFORE_ANSWER: method })).toThrow(/MARQUEE_FAULT_ARM_FILE/);
    expect(() =>
      loadConfig({
        MARQUEE_FAULT_CRASH_BEFORE_ANSWER: 'ConfirmBooking',
        MARQUEE_FAULT_ARM_FILE: '/tmp/armed',
      }),
    ).toThrow(/MARQUEE_FAULT_CRASH_BEFORE_ANSWER/);
  });

  it('reads cluster mode from MARQUEE_PEERS, naming the variable on errors', () => {
    const peers = '1=127.0.0.1:50171,2=127.0.0.1:50172,3=127.0.0.1:50173';
    const secret = 'a-cluster-secret-of-some-length';
    const cluster = loadConfig({
      MARQUEE_NODE_ID: '2',
      MARQUEE_PEERS: peers,
      MARQUEE_CLUSTER_SECRET: secret,
    }).cluster!;
    expect(cluster).toEqual(
      expect.objectContaining({
        peerHost: '127.0.0.1',
        peerPort: 50172,
        ackPolicy: 'majority',
        electionTickMs: 50,
        electionSilenceMs: 1500,
        stateDir: '.data/node-2',
      }),
    );
    expect(cluster.peers.get(3)).toBe('127.0.0.1:50173');
    const env = { MARQUEE_NODE_ID: '2', MARQUEE_PEERS: peers, MARQUEE_CLUSTER_SECRET: secret };
    expect(() => loadConfig({ ...env, MARQUEE_CLUSTER_SECRET: '' })).toThrow(/MARQUEE_CLUSTER_SECRET/);
    expect(() => loadConfig({ ...env, MARQUEE_CLUSTER_SECRET: 'short' })).toThrow(/MARQUEE_CLUSTER_SECRET/);
    expect(() => loadConfig({ ...env, MARQUEE_PEERS: '1=nowhere' })).toThrow(/MARQUEE_PEERS/);
    expect(() => loadConfig({ ...env, MARQUEE_NODE_ID: '4' })).toThrow(/MARQUEE_PEERS/);
    expect(() => loadConfig({ ...env, MARQUEE_ACK_POLICY: 'most' })).toThrow(/MARQUEE_ACK_POLICY/);
    expect(() => loadConfig({ ...env, MARQUEE_ELECTION_TICK_MS: '0' })).toThrow(/MARQUEE_ELECTION_TICK_MS/);
    expect(loadConfig({ ...env, MARQUEE_ELECTION_SILENCE_MS: '400' }).cluster?.electionSilenceMs).toBe(400);
    expect(() => loadConfig({ ...env, MARQUEE_ELECTION_SILENCE_MS: '300' })).toThrow(
      'MARQUEE_ELECTION_SILENCE_MS: must be at least 8 election ticks (400 ms with MARQUEE_ELECTION_TICK_MS=50)',
    );
    expect(loadConfig({ ...env, MARQUEE_PEER_PORT: '6000' }).cluster?.peerPort).toBe(6000);
  });
  it('reads the client addresses to forward to from MARQUEE_BOOKING_ADDRS, naming the variable on errors', () => {
    const env = {
      MARQUEE_NODE_ID: '2',
      MARQUEE_PEERS: '1=booking-1:7001,2=booking-2:7001,3=booking-3:7001',
      MARQUEE_CLUSTER_SECRET: 'a-cluster-secret-of-some-length',
    };
    expect(loadConfig(env).cluster?.clientAddresses).toBeUndefined();
    const addresses = loadConfig({
      ...env,
      MARQUEE_BOOKING_ADDRS: ' 3=booking-3:50071, 1=booking-1:50071,2=booking-2:50071 ',
    }).cluster?.clientAddresses;
    expect(addresses && Object.fromEntries(addresses)).toEqual({
      1: 'booking-1:50071',
      2: 'booking-2:50071',
      3: 'booking-3:50071',
    });
    const bad = (value: string, env2: Record<string, string> = env): (() => unknown) => {
      return () => loadConfig({ ...env2, MARQUEE_BOOKING_ADDRS: value });
    };
    expect(bad('1=booking-1')).toThrow(/MARQUEE_BOOKING_ADDRS: entry "1=booking-1"/);
    expect(bad('1=a:1,2=b:2,3=c:99999')).toThrow(/MARQUEE_BOOKING_ADDRS/);
    expect(bad('1=a:1,1=b:2,3=c:3')).toThrow(/MARQUEE_BOOKING_ADDRS: node 1 is listed twice/);
    expect(bad('1=a:1,2=b:2')).toThrow(/MARQUEE_BOOKING_ADDRS: must list the same nodes as MARQUEE_PEERS/);
    expect(bad('1=a:1,2=b:2,3=c:3,4=d:4')).toThrow(/MARQUEE_BOOKING_ADDRS: must list the same nodes/);
    expect(bad('1=a:1,2=b:2', {})).toThrow(/MARQUEE_BOOKING_ADDRS: is only used in cluster mode/);
  });
  it('reads the etcd fallback lease from MARQUEE_ETCD_ENDPOINTS, naming the variable on errors', () => {
    const env = {
      MARQUEE_NODE_ID: '1',
      MARQUEE_PEERS: '1=a:7001,2=b:7001,3=c:7001',
      MARQUEE_CLUSTER_SECRET: 'a-cluster-secret-of-some-length',
    };
    expect(loadConfig(env).cluster?.etcd).toBeUndefined();
    expect(
      loadConfig({ ...env, MARQUEE_ETCD_ENDPOINTS: 'http://etcd-1:2379, http://etcd-2:2379' }).cluster?.etcd,
    ).toEqual({ endpoints: ['http://etcd-1:2379', 'http://etcd-2:2379'], group: 'main', ttlSeconds: 2 });
    const bad = (extra: Record<string, string>) => () =>
      loadConfig({ ...env, MARQUEE_ETCD_ENDPOINTS: 'http://etcd:2379', ...extra });
    expect(bad({ MARQUEE_ETCD_ENDPOINTS: 'etcd:2379' })).toThrow(/MARQUEE_ETCD_ENDPOINTS: entry "etcd:2379"/);
    expect(bad({ MARQUEE_ETCD_GROUP: 'a/b' })).toThrow(/MARQUEE_ETCD_GROUP/);
    expect(bad({ MARQUEE_ETCD_TTL_SECONDS: '0' })).toThrow(/MARQUEE_ETCD_TTL_SECONDS/);
  });
  it('refuses bad values, naming the variable', () => {
    expect(() => loadConfig({ MARQUEE_HOLD_TTL_SECONDS: '0' })).toThrow(/MARQUEE_HOLD_TTL_SECONDS/);
    expect(() => loadConfig({ MARQUEE_BOOKING_PORT: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ MARQUEE_BOOKING_DB: 'drop table' })).toThrow(/MARQUEE_BOOKING_DB/);
    expect(() => loadConfig({ MARQUEE_CATALOG_ADDR: 'nowhere' })).toThrow(/MARQUEE_CATALOG_ADDR/);
  });
  it('requires the admin password and token secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MARQUEE_TOKEN_SECRET: 's'.repeat(32) })).toThrow(
      /MARQUEE_ADMIN_PASSWORD/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', MARQUEE_ADMIN_PASSWORD: 'a-long-password' })).toThrow(
      /MARQUEE_TOKEN_SECRET/,
    );
  });
});

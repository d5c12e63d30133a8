import path from 'node:path';
import { ConfigError } from '../../common/config';
import { loadConfig } from '../config';

describe('gateway loadConfig', () => {
  it('fills defaults (the ports npm start uses) and freezes the result', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 8081,
      catalogAddr: '127.0.0.1:50061',
      recommendationAddr: '127.0.0.1:50091',
      bookingAddrs: new Map([
        [1, '127.0.0.1:50071'],
        [2, '127.0.0.1:50072'],
        [3, '127.0.0.1:50073'],
      ]),
      peers: new Map([
        [1, '127.0.0.1:50081'],
        [2, '127.0.0.1:50082'],
        [3, '127.0.0.1:50083'],
      ]),
      deadlineMs: 5000,
      retryMs: 10_000,
      staticDir: path.join(__dirname, '..', 'public'),
      logLevel: 'info',
      lamportFile: '',
      metrics: undefined,
      // The metrics ports of npm start (scripts/lib/stack.ts DEFAULT_METRICS_PORTS).
      metricsTargets: new Map([
        ['catalog', '127.0.0.1:9461'],
        ['booking-1', '127.0.0.1:9471'],
        ['booking-2', '127.0.0.1:9472'],
        ['booking-3', '127.0.0.1:9473'],
        ['recommendation', '127.0.0.1:9491'],
      ]),
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        MARQUEE_GATEWAY_HOST: '0.0.0.0',
        MARQUEE_GATEWAY_PORT: '8082',
        MARQUEE_CATALOG_ADDR: 'catalog:50061',
        MARQUEE_RECOMMENDATION_ADDR: 'recommendation:50091',
        MARQUEE_BOOKING_ADDRS: '1=booking-1:50071, 2=booking-2:50071',
        MARQUEE_PEERS: '1=booking-1:50081,2=booking-2:50081',
        MARQUEE_GATEWAY_DEADLINE_MS: '2000',
        MARQUEE_GATEWAY_RETRY_MS: '0',
        MARQUEE_GATEWAY_STATIC_DIR: '/srv/ui',
        MARQUEE_LOG_LEVEL: 'debug',
        MARQUEE_LAMPORT_FILE: '/var/lib/marquee/gateway.lamport',
        MARQUEE_METRICS_PORT: '9481',
        MARQUEE_METRICS_ADDRS: 'booking-1=booking-1:9471, catalog=catalog:9461',
      }),
    ).toEqual({
      host: '0.0.0.0',
      port: 8082,
      catalogAddr: 'catalog:50061',
      recommendationAddr: 'recommendation:50091',
      bookingAddrs: new Map([
        [1, 'booking-1:50071'],
        [2, 'booking-2:50071'],
      ]),
      peers: new Map([
        [1, 'booking-1:50081'],
        [2, 'booking-2:50081'],
      ]),
      deadlineMs: 2000,
      retryMs: 0,
      staticDir: '/srv/ui',
      logLevel: 'debug',
      lamportFile: '/var/lib/marquee/gateway.lamport',
      metrics: { host: '0.0.0.0', port: 9481 },
      metricsTargets: new Map([
        ['booking-1', 'booking-1:9471'],
        ['catalog', 'catalog:9461'],
      ]),
    });
    expect(loadConfig({ MARQUEE_METRICS_ADDRS: 'none' }).metricsTargets.size).toBe(0);
  });

  it.each([
    ['MARQUEE_GATEWAY_PORT', '70000'],
    ['MARQUEE_CATALOG_ADDR', 'catalog'],
    ['MARQUEE_RECOMMENDATION_ADDR', 'recommendation:port'],
    ['MARQUEE_BOOKING_ADDRS', '127.0.0.1:50071'],
    ['MARQUEE_BOOKING_ADDRS', '1=a:1,1=b:2'],
    ['MARQUEE_PEERS', '0=a:1'],
    ['MARQUEE_GATEWAY_DEADLINE_MS', 'soon'],
    ['MARQUEE_GATEWAY_RETRY_MS', '-1'],
    ['MARQUEE_LOG_LEVEL', 'loud'],
    ['MARQUEE_METRICS_PORT', '65536'],
    ['MARQUEE_METRICS_ADDRS', 'catalog:9461'],
    ['MARQUEE_METRICS_ADDRS', 'a=x:1,a=y:2'],
    ['MARQUEE_METRICS_ADDRS', 'bad name=x:1'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

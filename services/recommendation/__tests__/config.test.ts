import { ConfigError } from '../../common/config';
import { loadConfig } from '../config';

describe('recommendation loadConfig', () => {
  it('fills defaults: port 50091 (50081 is booking node 1 peer port), the three booking nodes of npm start', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 50091,
      database: 'marquee_recommendation',
      catalogAddr: '127.0.0.1:50061',
      bookingAddrs: ['127.0.0.1:50071', '127.0.0.1:50072', '127.0.0.1:50073'],
      retrainIntervalMs: 600_000,
      catalogRefreshMs: 15_000,
      halfLifeDays: 30,
      metrics: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('serves /metrics when MARQUEE_METRICS_PORT is set, on its own host unless told', () => {
    expect(
      loadConfig({ MARQUEE_RECOMMENDATION_HOST: '0.0.0.0', MARQUEE_METRICS_PORT: '9491' }).metrics,
    ).toEqual({ host: '0.0.0.0', port: 9491 });
    expect(loadConfig({ MARQUEE_METRICS_PORT: '9491', MARQUEE_METRICS_HOST: '10.0.0.5' }).metrics).toEqual({
      host: '10.0.0.5',
      port: 9491,
    });
  });

  it('reads the booking nodes in the MARQUEE_BOOKING_ADDRS format', () => {
    const config = loadConfig({
      MARQUEE_BOOKING_ADDRS: '1=booking-1:50071,2=booking-2:50071,3=booking-3:50071',
    });
    expect(config.bookingAddrs).toEqual(['booking-1:50071', 'booking-2:50071', 'booking-3:50071']);
  });

  it.each([
    ['MARQUEE_RECOMMENDATION_PORT', '70000'],
    ['MARQUEE_RECOMMENDATION_DB', 'no-dashes'],
    ['MARQUEE_CATALOG_ADDR', 'catalog'],
    ['MARQUEE_BOOKING_ADDRS', 'booking-1:50071'],
    ['MARQUEE_RECOMMENDATION_RETRAIN_MS', '10'],
    ['MARQUEE_RECOMMENDATION_HALF_LIFE_DAYS', '0'],
    ['MARQUEE_TOKEN_SECRET', 'short'],
    ['MARQUEE_METRICS_PORT', 'metrics'],
  ])('refuses a bad %s, naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

import { loadConfig } from '../config';

describe('loadConfig', () => {
  it('fills defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 50061,
      mysqlUrl: 'mysql://root@127.0.0.1:3306',
      database: 'marquee_catalog',
      tokenSecret: 'marquee-dev-secret-change-me',
      logLevel: 'info',
      cacheTtlMs: 30_000,
      reflectionListsAll: true,
      lamportFile: '',
      metrics: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        MARQUEE_CATALOG_HOST: '0.0.0.0',
        MARQUEE_CATALOG_PORT: '0',
        MARQUEE_MYSQL_URL: 'mysql://u:p@db:3307',
        MARQUEE_CATALOG_DB: 'cat_1',
        MARQUEE_TOKEN_SECRET: 's'.repeat(16),
        MARQUEE_LOG_LEVEL: 'debug',
        MARQUEE_CATALOG_CACHE_TTL_MS: '0',
        MARQUEE_CATALOG_REFLECT_ALL: 'false',
        MARQUEE_LAMPORT_FILE: '/var/lib/marquee/lamport.json',
        MARQUEE_METRICS_PORT: '9461',
        MARQUEE_METRICS_HOST: '10.0.0.5',
      }),
    ).toEqual({
      host: '0.0.0.0',
      port: 0,
      mysqlUrl: 'mysql://u:p@db:3307',
      database: 'cat_1',
      tokenSecret: 's'.repeat(16),
      logLevel: 'debug',
      cacheTtlMs: 0,
      reflectionListsAll: false,
      lamportFile: '/var/lib/marquee/lamport.json',
      metrics: { host: '10.0.0.5', port: 9461 },
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ MARQUEE_CATALOG_PORT: '70000' })).toThrow(
      'config MARQUEE_CATALOG_PORT: must be an integer between 0 and 65535',
    );
    expect(() => loadConfig({ MARQUEE_CATALOG_DB: 'bad-name' })).toThrow('config MARQUEE_CATALOG_DB');
    expect(() => loadConfig({ MARQUEE_CATALOG_REFLECT_ALL: 'maybe' })).toThrow(
      'config MARQUEE_CATALOG_REFLECT_ALL: must be true or false',
    );
    expect(() => loadConfig({ MARQUEE_CATALOG_CACHE_TTL_MS: '-1' })).toThrow(
      'config MARQUEE_CATALOG_CACHE_TTL_MS',
    );
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow('config MARQUEE_TOKEN_SECRET: is required');
    expect(() => loadConfig({ MARQUEE_METRICS_PORT: '-1' })).toThrow('config MARQUEE_METRICS_PORT');
  });
});

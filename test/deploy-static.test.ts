/**
 * No Docker engine runs on the build machines, so the deployment files are checked statically:
 * Compose validates offline, every variable it sets is one a service's loadConfig reads, the booking
 * group's nodes and the gateways agree on who is in it, and both front doors (gRPC and HTTP) route
 * exactly the same paths, with the same proxy rules, to the ports the services use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_PORTS, renderNginxConf } from '../scripts/lib/nginx';
import { DEFAULT_PEER_PORTS } from '../scripts/lib/stack';
import { IMPORT_BODY_LIMIT_BYTES } from '../services/gateway/catalog-admin-routes';
import { loadConfig as loadGatewayConfig } from '../services/gateway/config';
import { loadConfig as loadRecommendationConfig } from '../services/recommendation/config';
import { nodeList, variablesRead } from './lib/config-env';

const root = path.join(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

interface ComposeService {
  build?: { args?: Record<string, string> };
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, unknown>;
}

// merge: the file shares environment blocks through `<<: *anchor`; unmerged, their keys would go unchecked.
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const bookingNodes = Object.entries(compose.services)
  .filter(([, service]) => service.build?.args?.SERVICE === 'booking')
  .map(([name, service]) => ({ name, env: service.environment ?? {}, volumes: service.volumes ?? [] }));

const recommendation = compose.services.recommendation;

const gateways = Object.entries(compose.services)
  .filter(([, service]) => service.build?.args?.SERVICE === 'gateway')
  .map(([name, service]) => ({ name, service, env: service.environment ?? {} }));

/** A Compose environment as a service sees it when the operator sets nothing: `${X:-default}` → default. */
function withDefaults(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value.replace(/\$\{\w+:-([^}]*)\}/g, '$1')]),
  );
}

function locations(conf: string): string[] {
  return [...conf.matchAll(/location\s+(\S+)\s*\{/g)].map((match) => match[1]!).sort();
}

/** The body of `location <path> { ... }` (locations here hold no nested blocks). */
function locationBody(conf: string, where: string): string {
  const start = conf.indexOf(`location ${where} {`);
  if (start < 0) throw new Error(`no location ${where}`);
  return conf.slice(start, conf.indexOf('}', start));
}

/** The body of the `server { ... }` block that listens on a port matching `listen`. */
function serverBlock(conf: string, listen: RegExp): string {
  const blocks = conf.split(/^ {2}server \{$/m).slice(1);
  const found = blocks.find((block) =>
    listen.test(block.split('\n').find((l) => /^\s*listen /.test(l)) ?? ''),
  );
  if (!found) throw new Error(`no server block listening on ${String(listen)}`);
  return found;
}

/** The `server host:port` lines of one upstream block. */
function upstreamServers(conf: string, name: string): string[] {
  const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+(\S+?)[\s;]/gm)].map((match) => match[1]!);
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (offline `config`)', () => {
    expect(() =>
      execFileSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config', '-q'], {
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });

  it.each(Object.entries(compose.services).filter(([, s]) => s.build))(
    '%s sets only variables its loadConfig reads',
    (_name, service) => {
      const kind = service.build?.args?.SERVICE;
      expect(kind).toBeDefined();
      const known = variablesRead(kind!);
      const set = Object.keys(service.environment ?? {}).filter((key) => key.startsWith('MARQUEE_'));
      expect(set.filter((key) => !known.has(key))).toEqual([]);
    },
  );

  it('the Compose front door routes the same paths as nginx.conf, to the ports the services listen on', () => {
    const composeConf = read('deploy/nginx.compose.conf');
    expect(locations(composeConf)).toEqual(locations(read('nginx.conf')));
    expect(upstreamServers(composeConf, 'catalog')).toEqual([
      `catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`,
    ]);
    expect(upstreamServers(composeConf, 'booking')).toEqual(
      bookingNodes.map(({ name, env }) => `${name}:${env.MARQUEE_BOOKING_PORT}`),
    );
    expect(upstreamServers(composeConf, 'recommendation')).toEqual([
      `recommendation:${recommendation?.environment?.MARQUEE_RECOMMENDATION_PORT}`,
    ]);
    for (const { env } of bookingNodes)
      expect(env.MARQUEE_CATALOG_ADDR).toBe(
        `catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`,
      );
  });

  it('runs two gateways whose settings the gateway itself accepts, pointed at the whole booking group', () => {
    expect(gateways.map(({ name }) => name)).toEqual(['gateway-1', 'gateway-2']);
    // Only what services/gateway/config.ts reads (itself or through the two common helpers it calls).
    const gatewayConfig = read('services/gateway/config.ts');
    expect(gatewayConfig).toMatch(/readLogLevel\(env\)/);
    expect(gatewayConfig).toMatch(/readLamportFile\(env\)/);
    const known = new Set([
      ...(gatewayConfig.match(/MARQUEE_[A-Z0-9_]+/g) ?? []),
      'MARQUEE_LOG_LEVEL',
      'MARQUEE_LAMPORT_FILE',
    ]);
    const catalogAddress = `catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`;
    for (const { name, service, env } of gateways) {
      expect({ name, unknown: Object.keys(env).filter((key) => !known.has(key)) }).toEqual({
        name,
        unknown: [],
      });
      // The values as well as the names: the gateway's own parser accepts them (defaults filled in).
      const config = loadGatewayConfig(withDefaults(env));
      expect(config.host).toBe('0.0.0.0');
      expect(config.catalogAddr).toBe(catalogAddress);
      expect(config.recommendationAddr).toBe(
        `recommendation:${recommendation?.environment?.MARQUEE_RECOMMENDATION_PORT}`,
      );
      expect([...config.bookingAddrs]).toEqual(
        bookingNodes.map(({ name: node, env: nodeEnv }) => [
          Number(nodeEnv.MARQUEE_NODE_ID),
          `${node}:${nodeEnv.MARQUEE_BOOKING_PORT}`,
        ]),
      );
      // Status is served on each node's real peer port: the one the nodes list for themselves.
      expect([...config.peers]).toEqual(nodeList(bookingNodes[0]?.env.MARQUEE_PEERS));
      expect(service.healthcheck?.test?.join(' ')).toContain(`http://127.0.0.1:${config.port}/api/health`);
      expect(service.volumes).toEqual([`${name}-state:${path.dirname(config.lamportFile)}`]);
    }
  });

  it('its nginx config passes `nginx -t` (Compose service names read as 127.0.0.1)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-nginx-compose-'));
    try {
      const conf = read('deploy/nginx.compose.conf')
        .replace(/(server\s+)[a-z][\w-]*:/g, '$1127.0.0.1:')
        .replace('pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`)
        .replace(/\/dev\/std(out|err)/g, `${dir}/$1.log`)
        // The image's own temp directories, here under the test's directory.
        .replace(
          'http {',
          `http {\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join('\n')}`,
        );
      writeFileSync(path.join(dir, 'nginx.conf'), conf);
      const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((file) => existsSync(file)) ?? 'nginx';
      expect(() =>
        execFileSync(
          nginx,
          [
            '-t',
            '-q',
            '-p',
            `${dir}/`,
            '-c',
            path.join(dir, 'nginx.conf'),
            '-e',
            path.join(dir, 'error.log'),
          ],
          {
            stdio: 'pipe',
          },
        ),
      ).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('publishes the front door on 50050 (gRPC) and 8080 (web), after every service it routes to is healthy', () => {
    const nginx = compose.services.nginx!;
    expect(nginx.ports).toEqual(['50050:50050', '8080:8080']);
    expect(Object.keys(nginx.depends_on ?? {}).sort()).toEqual(
      [
        'catalog',
        'recommendation',
        ...bookingNodes.map(({ name }) => name),
        ...gateways.map(({ name }) => name),
      ].sort(),
    );
    const composeConf = read('deploy/nginx.compose.conf');
    expect(upstreamServers(composeConf, 'gateway')).toEqual(
      gateways.map(({ name, env }) => `${name}:${env.MARQUEE_GATEWAY_PORT}`),
    );
    expect(composeConf).toMatch(/^\s*listen 8080;$/m);
    expect(composeConf).toMatch(/^\s*listen 50050 http2;$/m);
  });

  it('runs three booking nodes, ids 1..3, each with its own MariaDB and its own state volume', () => {
    expect(bookingNodes.map(({ name, env }) => [name, env.MARQUEE_NODE_ID])).toEqual([
      ['booking-1', '1'],
      ['booking-2', '2'],
      ['booking-3', '3'],
    ]);
    const databases = bookingNodes.map(({ env }) => /@([^:/]+)/.exec(env.MARQUEE_MYSQL_URL ?? '')?.[1]);
    expect(databases).toEqual(['booking-1-db', 'booking-2-db', 'booking-3-db']);
    for (const database of databases) expect(compose.services[database!]?.image).toMatch(/^mariadb:/);
    for (const { name, env, volumes } of bookingNodes) {
      expect(volumes).toEqual([`${name}-state:${env.MARQUEE_STATE_DIR}`]);
      expect(path.dirname(env.MARQUEE_LAMPORT_FILE ?? '')).toBe(env.MARQUEE_STATE_DIR);
      expect(compose.volumes).toHaveProperty(`${name}-state`);
    }
  });

  it('runs the recommendation service like the catalog: its own MariaDB, settings its loadConfig accepts, following the whole booking group', () => {
    expect(recommendation?.build?.args?.SERVICE).toBe('recommendation');
    const env = recommendation?.environment ?? {};
    const config = loadRecommendationConfig(withDefaults(env));
    expect(config.host).toBe('0.0.0.0');
    // The change stream is served on the nodes' client ports, any node; all three are listed.
    expect([...config.bookingAddrs]).toEqual(
      bookingNodes.map(({ name, env: nodeEnv }) => `${name}:${nodeEnv.MARQUEE_BOOKING_PORT}`),
    );
    expect(nodeList(env.MARQUEE_BOOKING_ADDRS)).toEqual(nodeList(bookingNodes[0]?.env.MARQUEE_BOOKING_ADDRS));
    expect(config.catalogAddr).toBe(`catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`);
    // Its service token is checked by the booking nodes: the same secret, from the same place.
    for (const service of [
      compose.services.catalog,
      ...bookingNodes.map(({ name }) => compose.services[name]),
    ])
      expect(env.MARQUEE_TOKEN_SECRET).toBe(service?.environment?.MARQUEE_TOKEN_SECRET);
    expect(env.MARQUEE_TOKEN_SECRET).toMatch(/^\$\{MARQUEE_TOKEN_SECRET:-.{16,}\}$/);
    // Its own database server, as every service has (DESIGN.md: one MySQL per service).
    const database = /@([^:/]+)/.exec(env.MARQUEE_MYSQL_URL ?? '')?.[1];
    expect(database).toBe('recommendation-db');
    expect(compose.services[database!]?.image).toMatch(/^mariadb:/);
    expect(compose.volumes).toHaveProperty('recommendation-db');
    // The image's gRPC health check asks this service, on the port it listens on.
    expect(env.MARQUEE_HEALTH_ADDR).toBe(`127.0.0.1:${config.port}`);
    expect(recommendation?.volumes).toEqual([`recommendation-state:${path.dirname(config.lamportFile)}`]);
    expect(compose.volumes).toHaveProperty('recommendation-state');
    expect(Object.keys(recommendation?.depends_on ?? {}).sort()).toEqual(
      ['recommendation-db', 'catalog', ...bookingNodes.map(({ name }) => name)].sort(),
    );
  });

  it('the booking nodes agree on the group: every node in MARQUEE_PEERS and MARQUEE_BOOKING_ADDRS, by service name', () => {
    const peers = bookingNodes.map(({ name, env }) => [Number(env.MARQUEE_NODE_ID), `${name}:50081`]);
    const clients = bookingNodes.map(({ name, env }) => [
      Number(env.MARQUEE_NODE_ID),
      `${name}:${env.MARQUEE_BOOKING_PORT}`,
    ]);
    for (const { env } of bookingNodes) {
      expect(nodeList(env.MARQUEE_PEERS)).toEqual(peers);
      expect(nodeList(env.MARQUEE_BOOKING_ADDRS)).toEqual(clients);
      expect(env.MARQUEE_BOOKING_HOST).toBe('0.0.0.0');
      // The secret comes from the operator's environment; the fallback is only for a first try.
      expect(env.MARQUEE_CLUSTER_SECRET).toMatch(/^\$\{MARQUEE_CLUSTER_SECRET:-.{16,}\}$/);
    }
  });
});

describe('nginx.conf', () => {
  const template = read('nginx.conf');

  it('sends booking calls round robin to the three local nodes, retrying connect failures only', () => {
    expect(upstreamServers(template, 'booking')).toEqual(
      DEFAULT_PORTS.booking.map((port) => `127.0.0.1:${port}`),
    );
    for (const conf of [template, read('deploy/nginx.compose.conf')]) {
      expect(conf).toMatch(/grpc_next_upstream error timeout;/);
      expect(conf).not.toMatch(/grpc_next_upstream[^;]*non_idempotent/);
    }
  });

  it('sends the web front door round robin to the two local gateways, the defaults the gateway and stack use', () => {
    expect(upstreamServers(template, 'gateway')).toEqual(
      DEFAULT_PORTS.gateway.map((port) => `127.0.0.1:${port}`),
    );
    expect(template).toMatch(new RegExp(`^\\s*listen 127\\.0\\.0\\.1:${DEFAULT_PORTS.http};$`, 'm'));
    // `npm run gateway` with no settings joins the stack `npm start` runs.
    const config = loadGatewayConfig({});
    expect(config.port).toBe(DEFAULT_PORTS.gateway[0]);
    expect(config.catalogAddr).toBe(`127.0.0.1:${DEFAULT_PORTS.catalog}`);
    expect([...config.bookingAddrs.values()]).toEqual(
      DEFAULT_PORTS.booking.map((port) => `127.0.0.1:${port}`),
    );
    expect([...config.peers.values()]).toEqual(DEFAULT_PEER_PORTS.map((port) => `127.0.0.1:${port}`));
  });

  it('sends recommendation calls to the local recommendation service, on the port it and the stack use', () => {
    expect(upstreamServers(template, 'recommendation')).toEqual([
      `127.0.0.1:${DEFAULT_PORTS.recommendation}`,
    ]);
    // `npx tsx services/recommendation/main.ts` with no settings joins the stack `npm start` runs.
    const config = loadRecommendationConfig({ MARQUEE_TOKEN_SECRET: 'static-test-secret-0123456789' });
    expect(config.port).toBe(DEFAULT_PORTS.recommendation);
    expect(config.catalogAddr).toBe(`127.0.0.1:${DEFAULT_PORTS.catalog}`);
    expect(config.bookingAddrs[0]).toBe(`127.0.0.1:${DEFAULT_PORTS.booking[0]}`);
    // 50081 (DESIGN.md's) is booking node 1's peer port: no default port is used twice.
    const all = [
      DEFAULT_PORTS.grpc,
      DEFAULT_PORTS.http,
      DEFAULT_PORTS.catalog,
      DEFAULT_PORTS.recommendation,
      ...DEFAULT_PORTS.booking,
      ...DEFAULT_PORTS.gateway,
      ...DEFAULT_PEER_PORTS,
    ];
    expect(new Set(all).size).toBe(all.length);
    expect(loadGatewayConfig({}).recommendationAddr).toBe(`127.0.0.1:${DEFAULT_PORTS.recommendation}`);
  });

  it.each(['nginx.conf', 'deploy/nginx.compose.conf'])(
    '%s lets a gRPC client with default settings run 1024 calls at once and 100000 per connection',
    (file) => {
      const grpcServer = serverBlock(read(file), /50050 http2/);
      expect(grpcServer).toMatch(/^\s*http2_max_concurrent_streams 1024;$/m);
      expect(grpcServer).toMatch(/^\s*keepalive_requests 100000;$/m);
    },
  );

  it.each(['nginx.conf', 'deploy/nginx.compose.conf'])(
    '%s routes RecommendationService to the recommendation upstream with a bounded read timeout',
    (file) => {
      const grpcServer = serverBlock(read(file), /50050 http2/);
      const body = locationBody(grpcServer, '/marquee.recommendation.v1.RecommendationService/');
      expect(body).toMatch(/grpc_pass grpc:\/\/recommendation;/);
      // Unary calls: not the server's hour-long timeout that long-lived streams need.
      const timeout = Number(/grpc_read_timeout (\d+)s;/.exec(body)?.[1]);
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThanOrEqual(60);
    },
  );

  describe.each([
    ['nginx.conf', /127\.0\.0\.1:8080;/],
    ['deploy/nginx.compose.conf', /listen 8080;/],
  ])('%s, HTTP server', (file, listen) => {
    const http = serverBlock(read(file), listen);

    it('streams server-sent events unbuffered over HTTP/1.1 keep-alive, held open past the 15 s heartbeat', () => {
      for (const where of ['~ ^/api/shows/[^/]+/events$', '= /api/cluster/events']) {
        const body = locationBody(http, where);
        expect(body).toMatch(/proxy_pass http:\/\/gateway;/);
        expect(body).toMatch(/proxy_buffering off;/);
        expect(body).toMatch(/gzip off;/);
        expect(Number(/proxy_read_timeout (\d+)s;/.exec(body)?.[1])).toBeGreaterThan(15);
      }
      expect(http).toMatch(/proxy_http_version 1\.1;/);
      expect(http).toMatch(/proxy_set_header Connection "";/);
    });

    it('lets a catalog import through: a body as large as the gateway takes, progress unbuffered, a long read timeout', () => {
      const body = locationBody(http, '= /api/catalog/imports');
      expect(body).toMatch(/proxy_pass http:\/\/gateway;/);
      expect(body).toMatch(/proxy_buffering off;/);
      expect(body).toMatch(/gzip off;/);
      const megabytes = Number(/client_max_body_size (\d+)m;/.exec(body)?.[1]);
      expect(megabytes * 1024 * 1024).toBeGreaterThanOrEqual(IMPORT_BODY_LIMIT_BYTES);
      expect(Number(/proxy_read_timeout (\d+)s;/.exec(body)?.[1])).toBeGreaterThanOrEqual(300);
    });

    it('rate-limits every /api/ route with a burst, answering 429 in the API error shape', () => {
      for (const where of [
        '/api/',
        '~ ^/api/shows/[^/]+/events$',
        '= /api/cluster/events',
        '= /api/catalog/imports',
      ]) {
        const body = locationBody(http, where);
        expect(body).toMatch(/limit_req zone=api burst=\d+ nodelay;/);
        expect(body).toMatch(/error_page 429 = @rate_limited;/);
      }
      expect(locationBody(http, '@rate_limited')).toMatch(
        /return 429 '\{"error":\{"code":"RESOURCE_EXHAUSTED"/,
      );
      expect(read(file)).toMatch(/limit_req_status 429;/);
    });

    it('retries the other gateway on connect failures only, never re-sending a POST; times out above the retry budget', () => {
      expect(http).toMatch(/proxy_next_upstream error timeout;/);
      expect(http).not.toMatch(/proxy_next_upstream[^;]*non_idempotent/);
      // The gateway retries a write for up to 10 s plus one 5 s deadline (services/gateway/README.md).
      expect(Number(/^ {4}proxy_read_timeout (\d+)s;/m.exec(http)?.[1])).toBeGreaterThanOrEqual(15);
      expect(http).not.toMatch(/proxy_set_header (Authorization|Idempotency-Key)/i);
    });

    it('compresses JSON, JavaScript, CSS and SVG, never event streams', () => {
      expect(http).toMatch(/gzip on;/);
      const types = /gzip_types ([^;]+);/.exec(http)?.[1]?.split(/\s+/) ?? [];
      expect(types).toEqual(
        expect.arrayContaining(['application/json', 'text/javascript', 'text/css', 'image/svg+xml']),
      );
      expect(types).not.toContain('text/event-stream');
    });
  });

  it('renders with every default port replaced, even when a new port equals another default', () => {
    const ports = {
      grpc: 41000,
      http: 8081,
      catalog: 50071,
      recommendation: 50061,
      booking: [50072, 50073, 41003],
      gateway: [8080, 41005],
    };
    const rendered = renderNginxConf(template, ports);
    expect(rendered).toContain('listen 127.0.0.1:41000 http2');
    expect(rendered).toMatch(/^\s*listen 127\.0\.0\.1:8081;$/m);
    expect(upstreamServers(rendered, 'catalog')).toEqual(['127.0.0.1:50071']);
    expect(upstreamServers(rendered, 'recommendation')).toEqual(['127.0.0.1:50061']);
    expect(upstreamServers(rendered, 'booking')).toEqual([
      '127.0.0.1:50072',
      '127.0.0.1:50073',
      '127.0.0.1:41003',
    ]);
    expect(upstreamServers(rendered, 'gateway')).toEqual(['127.0.0.1:8080', '127.0.0.1:41005']);
    // Logs stay under the prefix unless a log directory is given; then they join the other logs.
    expect(rendered).toContain('error_log logs/error.log warn;');
    const withLogs = renderNginxConf(template, ports, '/srv/my logs');
    expect(withLogs).toContain('error_log "/srv/my logs/nginx-error.log" warn;');
    expect(withLogs).toContain('access_log "/srv/my logs/nginx-access.log" marquee;');
    expect(withLogs).not.toContain('logs/error.log');
    expect(() => renderNginxConf(template.replace('127.0.0.1:50073', '127.0.0.1:1'), ports)).toThrow(
      'nginx.conf no longer contains "server 127.0.0.1:50073"',
    );
    expect(() => renderNginxConf(template.replace('127.0.0.1:50091', '127.0.0.1:1'), ports)).toThrow(
      'nginx.conf no longer contains "server 127.0.0.1:50091"',
    );
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('copies only paths that exist and runs each service entry point that exists', () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copies.length).toBeGreaterThan(0);
    for (const source of copies)
      expect({ source, exists: existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
    for (const service of Object.values(compose.services)) {
      const kind = service.build?.args?.SERVICE;
      if (kind) expect(existsSync(path.join(root, `services/${kind}/main.ts`))).toBe(true);
    }
  });

  it('runs as a non-root user with a health check', () => {
    expect(dockerfile).toMatch(/^USER (?!root)\S+$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
  });
});

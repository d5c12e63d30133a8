/**
 * No Docker engine runs on the build machines, so the deployment files are checked statically:
 * Compose validates offline, every variable it sets is one a service's loadConfig reads, the booking
 * group's nodes agree on who is in it, and both front doors route exactly the same paths to the
 * ports the services use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_PORTS, renderNginxConf } from '../scripts/lib/nginx';

const root = path.join(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

interface ComposeService {
  build?: { args?: Record<string, string> };
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
}

// merge: the file shares environment blocks through `<<: *anchor`; unmerged, their keys would go unchecked.
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const bookingNodes = Object.entries(compose.services)
  .filter(([, service]) => service.build?.args?.SERVICE === 'booking')
  .map(([name, service]) => ({ name, env: service.environment ?? {}, volumes: service.volumes ?? [] }));

/** MARQUEE_* variables a service's config reads (its own config plus the shared helpers). */
function variablesRead(service: string): Set<string> {
  const sources = [
    read(`services/${service}/config.ts`),
    read('services/common/config.ts'),
    read('scripts/grpc-health.ts'),
  ];
  return new Set(sources.flatMap((source) => source.match(/MARQUEE_[A-Z0-9_]+/g) ?? []));
}

function locations(conf: string): string[] {
  return [...conf.matchAll(/location\s+(\S+)\s*\{/g)].map((match) => match[1]!).sort();
}

/** The `server host:port` lines of one upstream block. */
function upstreamServers(conf: string, name: string): string[] {
  const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+(\S+?)[\s;]/gm)].map((match) => match[1]!);
}

/** "1=host:port,2=host:port" → [[1, 'host:port'], ...]. */
function nodeList(value: string | undefined): [number, string][] {
  return (value ?? '').split(',').map((entry) => {
    const [id, address] = entry.split('=');
    return [Number(id), address!];
  });
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
    for (const { env } of bookingNodes)
      expect(env.MARQUEE_CATALOG_ADDR).toBe(
        `catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`,
      );
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

  it('renders with every default port replaced, even when a new port equals another default', () => {
    const ports = { grpc: 41000, catalog: 50071, booking: [50072, 50073, 41003] };
    const rendered = renderNginxConf(template, ports);
    expect(rendered).toContain('listen 127.0.0.1:41000 http2');
    expect(upstreamServers(rendered, 'catalog')).toEqual(['127.0.0.1:50071']);
    expect(upstreamServers(rendered, 'booking')).toEqual([
      '127.0.0.1:50072',
      '127.0.0.1:50073',
      '127.0.0.1:41003',
    ]);
    expect(() => renderNginxConf(template.replace('127.0.0.1:50073', '127.0.0.1:1'), ports)).toThrow(
      'nginx.conf no longer contains "server 127.0.0.1:50073"',
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

/**
 * No Docker engine runs on the build machines, so the deployment files are checked statically:
 * Compose validates offline, every variable it sets is one a service's loadConfig reads, and the
 * Compose front door routes exactly what the local front door routes, to the ports the services use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.join(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

interface ComposeService {
  build?: { args?: Record<string, string> };
  image?: string;
  environment?: Record<string, string>;
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };

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
    expect(composeConf).toContain(
      `server catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT};`,
    );
    expect(composeConf).toContain(
      `server booking-1:${compose.services['booking-1']?.environment?.MARQUEE_BOOKING_PORT};`,
    );
    expect(compose.services['booking-1']?.environment?.MARQUEE_CATALOG_ADDR).toBe(
      `catalog:${compose.services.catalog?.environment?.MARQUEE_CATALOG_PORT}`,
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

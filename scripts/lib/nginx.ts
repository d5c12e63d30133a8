import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startProcess, waitForPort } from './processes';
import type { ManagedProcess } from './processes';

const run = promisify(execFile);

/** Where the services of one stack listen; the defaults are the ones written in nginx.conf. */
export interface FrontDoorPorts {
  /** nginx's gRPC front door. */
  grpc: number;
  /** nginx's HTTP front door: the web UI and /api/, over the gateways. */
  http: number;
  catalog: number;
  /** The recommendation service's gRPC port. */
  recommendation: number;
  /** The client (booking API) port of each booking node, node 1 first. */
  booking: readonly number[];
  /** The HTTP port of each gateway instance, gateway 1 first. */
  gateway: readonly number[];
}

export const DEFAULT_PORTS: Readonly<FrontDoorPorts> = Object.freeze({
  grpc: 50050,
  http: 8080,
  catalog: 50061,
  // Not DESIGN.md's 50081: booking node 1's peer port (DEFAULT_PEER_PORTS) has it.
  recommendation: 50091,
  booking: Object.freeze([50071, 50072, 50073]),
  gateway: Object.freeze([8081, 8082]),
});

/**
 * The top-level nginx.conf with its default ports replaced by `ports`, and its error and access
 * logs moved to `logsDir` when given (as nginx-error.log and nginx-access.log, beside every other
 * process's log). The file in the repo stays a plain, valid nginx config (what Compose and people
 * read); tests and `npm start` render it.
 */
export function renderNginxConf(template: string, ports: FrontDoorPorts, logsDir?: string): string {
  if (ports.booking.length !== DEFAULT_PORTS.booking.length)
    throw new Error(
      `nginx.conf lists ${DEFAULT_PORTS.booking.length} booking nodes; got ${ports.booking.length} ports`,
    );
  if (ports.gateway.length !== DEFAULT_PORTS.gateway.length)
    throw new Error(
      `nginx.conf lists ${DEFAULT_PORTS.gateway.length} gateways; got ${ports.gateway.length} ports`,
    );
  const servers = (defaults: readonly number[], chosen: readonly number[]): [string, string][] =>
    defaults.map((port, index) => [`server 127.0.0.1:${port}`, `server 127.0.0.1:${chosen[index]}`]);
  const replacements = new Map<string, string>([
    [`listen 127.0.0.1:${DEFAULT_PORTS.grpc} http2`, `listen 127.0.0.1:${ports.grpc} http2`],
    [`listen 127.0.0.1:${DEFAULT_PORTS.http};`, `listen 127.0.0.1:${ports.http};`],
    [`server 127.0.0.1:${DEFAULT_PORTS.catalog}`, `server 127.0.0.1:${ports.catalog}`],
    [`server 127.0.0.1:${DEFAULT_PORTS.recommendation}`, `server 127.0.0.1:${ports.recommendation}`],
    ...servers(DEFAULT_PORTS.booking, ports.booking),
    ...servers(DEFAULT_PORTS.gateway, ports.gateway),
    ...(logsDir === undefined
      ? []
      : ([
          ['error_log logs/error.log', `error_log ${quoted(path.join(logsDir, 'nginx-error.log'))}`],
          ['access_log logs/access.log', `access_log ${quoted(path.join(logsDir, 'nginx-access.log'))}`],
        ] as [string, string][])),
  ]);
  // `(?!\d)`: a needle ends where its port does (8081 must not match inside 80812).
  for (const needle of replacements.keys())
    if (!new RegExp(`${escape(needle)}(?!\\d)`).test(template))
      throw new Error(`nginx.conf no longer contains ${JSON.stringify(needle)}`);
  // One pass over all needles: a port picked for a test may equal another default (50072 for node 1),
  // and replacing one needle after another would then rewrite a line twice.
  const all = new RegExp(`(?:${[...replacements.keys()].map(escape).join('|')})(?!\\d)`, 'g');
  return template.replace(all, (needle) => replacements.get(needle) ?? needle);
}

/** A path as an nginx string (it may hold spaces). */
function quoted(file: string): string {
  return `"${file.replace(/["\\]/g, '\\$&')}"`;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('nginx not found: run ./scripts/setup.sh (it installs nginx-light)');
}

/**
 * Starts nginx in the foreground (daemon off) with its prefix and temp files under `prefixDir` and
 * its logs in `logsDir` (nginx-error.log, nginx-access.log, and nginx.log for what it prints).
 */
export async function startNginx(options: {
  prefixDir: string;
  logsDir: string;
  ports: FrontDoorPorts;
  repoRoot: string;
}): Promise<ManagedProcess> {
  const { prefixDir, logsDir } = options;
  for (const dir of [path.join(prefixDir, 'tmp'), logsDir]) mkdirSync(dir, { recursive: true });
  const conf = path.join(prefixDir, 'nginx.conf');
  writeFileSync(
    conf,
    renderNginxConf(readFileSync(path.join(options.repoRoot, 'nginx.conf'), 'utf8'), options.ports, logsDir),
  );
  // -e: where nginx writes errors before it has read the config (the config then says the same).
  const args = ['-p', `${prefixDir}/`, '-c', conf, '-e', path.join(logsDir, 'nginx-error.log')];
  await run(nginxBinary(), [...args, '-t', '-q']);
  const nginx = startProcess('nginx', nginxBinary(), [...args, '-g', 'daemon off;'], {
    logFile: path.join(logsDir, 'nginx.log'),
  });
  try {
    await waitForPort('127.0.0.1', options.ports.grpc, 10000, nginx.exited);
    await waitForPort('127.0.0.1', options.ports.http, 10000, nginx.exited);
  } catch (error) {
    await nginx.stop();
    throw error;
  }
  return nginx;
}

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../../proto/gen/grpc/health/v1/health';
import { startPrivateMariaDb } from './mariadb';
import type { PrivateMariaDb } from './mariadb';
import { DEFAULT_PORTS, startNginx } from './nginx';
import type { FrontDoorPorts } from './nginx';
import { freePort, startProcess } from './processes';
import type { ManagedProcess } from './processes';

export interface StackOptions {
  repoRoot: string;
  /** Everything the stack writes (MariaDB data, logs, nginx prefix) goes under here. */
  dataDir: string;
  /** Fixed ports (npm start) or undefined to pick free ones (tests). */
  ports?: FrontDoorPorts & { mysql: number };
  /** Use this MySQL server instead of starting a private MariaDB. */
  mysqlUrl?: string;
  /** Wipe the private MariaDB data first. */
  freshData: boolean;
  tokenSecret: string;
  logLevel?: string;
  extraEnv?: Record<string, string>;
  onProgress?: (step: string) => void;
}

export interface RunningStack {
  grpcAddress: string;
  ports: FrontDoorPorts;
  mysqlUrl: string;
  processes: ManagedProcess[];
  /** Stops every process the stack started, by PID, in reverse start order. */
  stop(): Promise<void>;
}

/** Waits until the gRPC server at `address` answers health SERVING. */
export async function waitForServing(
  address: string,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error(`the server for ${address} exited during start (see its log)`);
      const status = await new Promise<ServingStatus | undefined>((resolve) =>
        client.check(
          { service: '' },
          new grpc.Metadata(),
          { deadline: Date.now() + 1000 },
          (error, response) => resolve(error ? undefined : response.status),
        ),
      );
      if (status === ServingStatus.SERVING) return;
      if (Date.now() > deadline) throw new Error(`${address} was not SERVING within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } finally {
    client.close();
  }
}

/**
 * Starts the local topology: MariaDB (private unless a URL is given), catalog, booking, nginx.
 * Used by `npm start` and by the end-to-end tests, so both run the same thing.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const started: ManagedProcess[] = [];
  let mariadb: PrivateMariaDb | undefined;
  const logs = path.join(options.dataDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const progress = options.onProgress ?? (() => undefined);
  const stop = async (): Promise<void> => {
    for (const process of [...started].reverse()) await process.stop();
    started.length = 0;
  };
  try {
    const ports = options.ports ?? {
      grpc: await freePort(),
      catalog: await freePort(),
      booking: await freePort(),
      mysql: await freePort(),
    };
    let mysqlUrl = options.mysqlUrl;
    if (!mysqlUrl) {
      progress(`MariaDB on 127.0.0.1:${ports.mysql}`);
      mariadb = await startPrivateMariaDb({
        dataDir: path.join(options.dataDir, 'mariadb'),
        port: ports.mysql,
        fresh: options.freshData,
        logFile: path.join(logs, 'mariadb.log'),
      });
      started.push(mariadb.process);
      mysqlUrl = mariadb.url;
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MARQUEE_MYSQL_URL: mysqlUrl,
      MARQUEE_TOKEN_SECRET: options.tokenSecret,
      MARQUEE_LOG_LEVEL: options.logLevel ?? 'info',
      MARQUEE_CATALOG_PORT: String(ports.catalog),
      MARQUEE_BOOKING_PORT: String(ports.booking),
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${ports.catalog}`,
      MARQUEE_NODE_ID: '1',
      ...options.extraEnv,
    };
    const service = (name: string, main: string): ManagedProcess =>
      startProcess(name, process.execPath, ['--import', 'tsx', path.join(options.repoRoot, main)], {
        logFile: path.join(logs, `${name}.log`),
        env: { ...env, MARQUEE_LAMPORT_FILE: path.join(options.dataDir, 'lamport', `${name}.json`) },
        cwd: options.repoRoot,
      });

    const startService = async (name: string, main: string, port: number): Promise<void> => {
      const child = service(name, main);
      started.push(child);
      try {
        await waitForServing(`127.0.0.1:${port}`, 30000, child.exited);
      } catch (error) {
        throw new Error(
          `${name}: ${error instanceof Error ? error.message : String(error)}\n${logTail(path.join(logs, `${name}.log`))}`,
        );
      }
    };

    progress(`catalog on 127.0.0.1:${ports.catalog}`);
    await startService('catalog', 'services/catalog/main.ts', ports.catalog);

    progress(`booking node 1 on 127.0.0.1:${ports.booking}`);
    await startService('booking-1', 'services/booking/main.ts', ports.booking);

    progress(`nginx front door on 127.0.0.1:${ports.grpc}`);
    const nginx = await startNginx({
      prefixDir: path.join(options.dataDir, 'nginx'),
      ports,
      repoRoot: options.repoRoot,
    });
    started.push(nginx);
    await waitForServing(`127.0.0.1:${ports.grpc}`, 10000, nginx.exited);

    return {
      grpcAddress: `127.0.0.1:${ports.grpc}`,
      ports,
      mysqlUrl,
      processes: started,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The last lines of a log, to put in an error message when a process fails to start. */
function logTail(file: string, lines = 15): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export { DEFAULT_PORTS };

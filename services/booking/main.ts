import { ConfigError } from '../common/config';
import { stopOnSignals } from '../common/lifecycle';
import { createLogger } from '../common/logger';
import { readOtlpEndpoint, readTracingEnabled, setupTracing } from '../common/tracing';
import type { Tracing } from '../common/tracing';
import { openProcessClock } from '../common/lamport-store';
import type { LamportClock } from '../common/lamport';
import { loadConfig } from './config';
import type { BookingConfig } from './config';
import { startBookingServer } from './server';
import type { BookingServer } from './server';

/** `npx tsx services/booking/main.ts`: one booking node, configured from the environment. */
async function main(): Promise<void> {
  let config: Readonly<BookingConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    // No logger yet (its level is part of the config): say what is wrong in one line and stop.
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`booking: ${error.message}\n`);
    process.exit(2);
  }
  let lamport: LamportClock;
  try {
    lamport = await openProcessClock(config.lamportFile);
  } catch (error) {
    // A corrupt clock file must stop the boot: resetting it could send stamps that go backwards.
    process.stderr.write(`booking: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  // Every line says the election term it was written in (once cluster mode has started).
  let server: BookingServer | undefined = undefined;
  const logger = createLogger('booking', {
    level: config.logLevel,
    nodeId: config.nodeId,
    clock: lamport,
    context: () => {
      const term = server?.cluster?.election.runner.status().term;
      return term === undefined ? {} : { term };
    },
  });
  // Spans: exported over OTLP when MARQUEE_OTLP_ENDPOINT is set; their ids are in every log line.
  let tracing: Tracing;
  try {
    tracing = setupTracing({
      service: 'booking',
      nodeId: config.nodeId,
      enabled: readTracingEnabled(process.env),
      otlpEndpoint: readOtlpEndpoint(process.env),
      logger: logger.child({ component: 'trace' }),
    });
  } catch (error) {
    process.stderr.write(`booking: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    server = await startBookingServer({
      config,
      logger,
      lamport,
      // Cluster mode only (MARQUEE_PEERS): a broken election invariant must not keep serving.
      cluster: {
        onFatal: () => {
          process.exitCode = 1;
          void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
        },
      },
    });
    const running = server;
    stopOnSignals(() => running.stop().then(() => tracing.shutdown()), logger);
  } catch (error) {
    logger.fatal({ err: error }, 'booking failed to start');
    process.exitCode = 1;
  }
}

void main();

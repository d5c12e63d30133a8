import { ConfigError } from '../common/config';
import { stopOnSignals } from '../common/lifecycle';
import { createLogger } from '../common/logger';
import { readOtlpEndpoint, readTracingEnabled, setupTracing } from '../common/tracing';
import type { Tracing } from '../common/tracing';
import { openProcessClock } from '../common/lamport-store';
import type { LamportClock } from '../common/lamport';
import { loadConfig } from './config';
import type { CatalogConfig } from './config';
import { startCatalogServer } from './server';

/** `npx tsx services/catalog/main.ts`: the catalog service, configured from the environment. */
async function main(): Promise<void> {
  let config: CatalogConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    // No logger yet (its level is part of the config): say what is wrong in one line and stop.
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`catalog: ${error.message}\n`);
    process.exit(2);
  }
  let lamport: LamportClock;
  try {
    lamport = await openProcessClock(config.lamportFile);
  } catch (error) {
    // A corrupt clock file must stop the boot: resetting it could send stamps that go backwards.
    process.stderr.write(`catalog: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger('catalog', { level: config.logLevel, clock: lamport });
  // Spans: exported over OTLP when MARQUEE_OTLP_ENDPOINT is set; their ids are in every log line.
  let tracing: Tracing;
  try {
    tracing = setupTracing({
      service: 'catalog',
      enabled: readTracingEnabled(process.env),
      otlpEndpoint: readOtlpEndpoint(process.env),
      logger: logger.child({ component: 'trace' }),
    });
  } catch (error) {
    process.stderr.write(`catalog: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    const server = await startCatalogServer({ config, logger, lamport });
    stopOnSignals(() => server.stop().then(() => tracing.shutdown()), logger);
  } catch (error) {
    logger.fatal({ err: error }, 'catalog failed to start');
    process.exitCode = 1;
  }
}

void main();

import { ConfigError } from '../common/config';
import { stopOnSignals } from '../common/lifecycle';
import { createLogger } from '../common/logger';
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
  const logger = createLogger('catalog', { level: config.logLevel });
  try {
    const server = await startCatalogServer({ config, logger });
    stopOnSignals(() => server.stop(), logger);
  } catch (error) {
    logger.fatal({ err: error }, 'catalog failed to start');
    process.exitCode = 1;
  }
}

void main();

import { stopOnSignals } from '../common/lifecycle';
import { createLogger } from '../common/logger';
import { readOtlpEndpoint, readTracingEnabled, setupTracing } from '../common/tracing';
import type { Tracing } from '../common/tracing';
import { openProcessClock } from '../common/lamport-store';
import type { LamportClock } from '../common/lamport';
import { loadConfig } from './config';
import type { RecommendationConfig } from './config';
import { startRecommendationServer } from './server';

/** `npx tsx services/recommendation/main.ts`: the recommendation service, configured from the environment. */
async function main(): Promise<void> {
  let config: RecommendationConfig;
  let lamport: LamportClock;
  try {
    config = loadConfig(process.env);
    lamport = await openProcessClock(config.lamportFile);
  } catch (error) {
    // No logger yet (its level is part of the config): say what is wrong in one line and stop.
    // A bad variable (ConfigError) or an unreadable clock file: either way the boot cannot go on.
    if (!(error instanceof Error)) throw error;
    process.stderr.write(`recommendation: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger('recommendation', { level: config.logLevel, clock: lamport });
  // Spans: exported over OTLP when MARQUEE_OTLP_ENDPOINT is set; their ids are in every log line.
  let tracing: Tracing;
  try {
    tracing = setupTracing({
      service: 'recommendation',
      enabled: readTracingEnabled(process.env),
      otlpEndpoint: readOtlpEndpoint(process.env),
      logger: logger.child({ component: 'trace' }),
    });
  } catch (error) {
    process.stderr.write(`recommendation: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    const server = await startRecommendationServer({ config, logger, lamport });
    logger.info({ port: server.port, model: server.status().version }, 'recommendation service listening');
    stopOnSignals(() => server.stop().then(() => tracing.shutdown()), logger);
  } catch (error) {
    logger.fatal({ err: error }, 'recommendation service failed to start');
    process.exitCode = 1;
  }
}

void main();

import type { Logger } from 'pino';

/** SIGTERM/SIGINT run `stop` once, then exit; a second signal or a stuck stop forces the exit. */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, forceAfterMs = 10000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), forceAfterMs).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

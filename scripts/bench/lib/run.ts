import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';

/*
 * What every stack-starting bench does around its run: keeps a failed run's logs under a fixed name
 * (the run's own directory is removed at the end), and stops everything it started on Ctrl-C or
 * SIGTERM before exiting.
 */

/** Copies `logsDir` to `<benchDir>/<name>` (replacing an older copy) and returns where. */
export function keepRunLogs(logsDir: string, benchDir: string, name: string): string {
  const kept = path.join(benchDir, name);
  rmSync(kept, { recursive: true, force: true });
  cpSync(logsDir, kept, { recursive: true });
  return kept;
}

/** On SIGINT or SIGTERM: says so, runs `stopAll`, exits with 130. */
export function stopOnSignals(stopAll: () => Promise<void>, log: (line: string) => void): void {
  const onSignal = (): void => {
    log('interrupted: stopping everything this bench started');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

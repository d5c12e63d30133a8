/**
 * `npm run chaos -- <command>`: fault injection against the local stack that `npm start` runs
 * (kill, pause or partition the master, heal, restart, status, and a soak that checks the
 * invariants). See docs/CHAOS.md. Exit code 0 on success, 1 on bad arguments, a failed step or a
 * violated invariant.
 */
import { USAGE, UsageError, parseArgs } from './lib/chaos/args';
import { runCommand } from './lib/chaos/commands';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n\n${USAGE}\n`);
    return 1;
  }
  return runCommand(args, { out: (line) => process.stdout.write(`${line}\n`), cwd: process.cwd() });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

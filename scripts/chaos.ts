/**
 * `npm run chaos -- <command> [--target local|compose|k8s]`: fault injection against the local stack
 * that `npm start` runs (default), the Compose stack (docker) or deploy/k8s in a cluster (kubectl):
 * kill, pause or partition the master, heal, restart, status, and (local) a soak that checks the
 * invariants. See docs/CHAOS.md. Exit code 0 on success, 1 on bad arguments, a failed step or a
 * violated invariant.
 */
import path from 'node:path';
import { USAGE, UsageError, parseArgs } from './lib/chaos/args';
import type { ChaosArgs } from './lib/chaos/args';
import { runCommand } from './lib/chaos/commands';
import { TARGET_USAGE, splitTargetArgs } from './lib/chaos/targets/args';
import { createTarget } from './lib/chaos/targets';
import { ProcessRunner } from './lib/chaos/targets/runner';
import type { ChaosTarget } from './lib/chaos/targets/target';

async function main(): Promise<number> {
  let args: ChaosArgs;
  let target: ChaosTarget;
  try {
    const targetArgs = splitTargetArgs(process.argv.slice(2));
    args = parseArgs(targetArgs.rest);
    target = createTarget(targetArgs, new ProcessRunner(), process.cwd());
    const why = target.unsupported(args.command);
    if (why) throw new UsageError(`${args.command} does not run against --target ${target.name}: ${why}`);
    if (!targetArgs.dataDirGiven) args.dataDir = target.defaultDataDir;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n\n${USAGE}\n\n${TARGET_USAGE}\n`);
    return 1;
  }
  const attached = await target.attach(path.resolve(process.cwd(), args.dataDir));
  // Ctrl-C: stop the port forwards and log followers this run started before leaving.
  const interrupted = (): void => {
    void attached.detach().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await runCommand(args, { out: (line) => process.stdout.write(`${line}\n`), cwd: process.cwd() });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await attached.detach();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * `npm run logs`: every log of the local stack (one file per process in .data/logs) merged
 * into one timeline in Lamport order, as text or JSON, filtered by node, service, level, trace id,
 * time or stamp; `--follow` keeps printing new lines. See docs/LOGS.md. Exit code 0; 2 on bad usage
 * (an unknown option, a log directory that is not there); 1 when reading fails otherwise.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { USAGE, UsageError, parseLogsArgs } from './lib/logs/args';
import type { LogsArgs } from './lib/logs/args';
import { entryFilter } from './lib/logs/filter';
import { LogFollower, readTimeline } from './lib/logs/follow';
import { formatEntry, formatJson, shouldColor } from './lib/logs/format';
import type { Entry } from './lib/logs/merge';
import { listLogFiles } from './lib/logs/tail';

const repoRoot = path.join(__dirname, '..');
/** Where `npm start` writes them (scripts/start.ts). */
const DEFAULT_DIR = path.join(repoRoot, '.data', 'logs');

async function main(): Promise<number> {
  let args: LogsArgs;
  try {
    args = parseLogsArgs(process.argv.slice(2), Date.now());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`logs: ${error.message} (--help lists the options)\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const dir = args.dir === undefined ? DEFAULT_DIR : path.resolve(args.dir);
  if (!isDirectory(dir)) {
    process.stderr.write(
      `logs: no log directory at ${dir} (start the stack with npm start, or pass --dir)\n`,
    );
    return 2;
  }
  const files = await listLogFiles(dir);
  if (files.length === 0 && !args.follow) process.stderr.write(`logs: no *.log files in ${dir}\n`);

  const keep = entryFilter(args.filter);
  // Wide enough for every file there now; a longer name appearing later just sticks out.
  const sourceWidth = Math.max(9, ...files.map((name) => name.length - '.log'.length));
  const color = shouldColor(process.stdout.isTTY, process.env);
  const render = args.json ? formatJson : (entry: Entry) => formatEntry(entry, { color, sourceWidth });
  const print = (entries: readonly Entry[]): void => {
    const lines = entries.filter(keep).map(render);
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  };
  // `npm run logs | head`: the reader went away, which is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });

  if (!args.follow) {
    print(await readTimeline(dir));
    return 0;
  }
  const follower = LogFollower.start({
    dir,
    windowMs: args.windowMs,
    onEntries: print,
    onError: (error) =>
      process.stderr.write(
        `logs: reading ${dir}: ${error instanceof Error ? error.message : String(error)}\n`,
      ),
  });
  // The first Ctrl-C prints what is held and exits; a second one (only listened for once) kills.
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await follower.stop();
  return 0;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

main().then(
  (code) => {
    // Not process.exit(): let stdout drain when it is a pipe. Every handle is closed by now.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`logs: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

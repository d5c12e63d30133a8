import { parseArgs } from 'node:util';
import type { FilterOptions } from './filter';
import { LEVELS, parseLevel } from './levels';

/*
 * The logs CLI's arguments, parsed purely (the caller passes the time, for --since 5m). Every
 * mistake becomes a UsageError whose message names the problem; the CLI prints it and exits 2.
 */

export const USAGE = `usage: npm run logs -- [options]

Merges the local stack's logs (one file per process) into one timeline in Lamport order; see
docs/LOGS.md.

options:
  --dir DIR          the log directory (default: .data/logs of this checkout, where npm start writes
                     them)
  -f, --follow       print what is there, then keep printing new lines as they are written (Ctrl-C
                     stops)
  --window-ms N      with --follow: hold each new line N ms so lines read late still come out in
                     order (default 300; 0 prints at once)
  --node N|NAME      only booking node N (e.g. 2) or one file's lines (e.g. gateway-1); repeatable
  --service S        only one service (booking, catalog, gateway, mariadb…); repeatable
  --level L          only level L and above: ${Object.keys(LEVELS).join(', ')} (lines without a level stay)
  --trace ID         only lines whose traceId (or trace_id) is ID
  --since T          only lines written at or after T: an ISO time, HH:MM[:SS] today, or 30s/5m/2h ago
  --until T          only lines written at or before T (same forms)
  --from-lamport N   only lines with a Lamport stamp of N or more
  --json             print the merged lines as JSON (each with a "source" field) instead of text
  -h, --help         this text`;

export interface LogsArgs {
  help: boolean;
  /** As given (relative to the working directory); undefined: the default. */
  dir?: string;
  follow: boolean;
  json: boolean;
  windowMs: number;
  filter: FilterOptions;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const DEFAULT_WINDOW_MS = 300;

const OPTIONS = {
  dir: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  'window-ms': { type: 'string' },
  node: { type: 'string', multiple: true },
  service: { type: 'string', multiple: true },
  level: { type: 'string' },
  trace: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'from-lamport': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseLogsArgs(argv: readonly string[], nowMs: number): LogsArgs {
  const { values } = parseStrict(argv);
  const level = values.level === undefined ? undefined : parseLevel(values.level);
  if (values.level !== undefined && level === undefined)
    throw new UsageError(
      `--level ${JSON.stringify(values.level)}: not a level (one of ${Object.keys(LEVELS).join(', ')})`,
    );
  for (const node of values.node ?? [])
    if (!/^[A-Za-z0-9_.-]+$/.test(node))
      throw new UsageError(`--node ${JSON.stringify(node)}: a node number (2) or a file name (booking-2)`);
  const filter: FilterOptions = {
    nodes: values.node,
    services: values.service,
    minLevel: level,
    trace: values.trace,
    sinceMs: values.since === undefined ? undefined : wallTime('--since', values.since, nowMs),
    untilMs: values.until === undefined ? undefined : wallTime('--until', values.until, nowMs),
    fromLamport:
      values['from-lamport'] === undefined ? undefined : integer('--from-lamport', values['from-lamport']),
  };
  if (filter.sinceMs !== undefined && filter.untilMs !== undefined && filter.sinceMs > filter.untilMs)
    throw new UsageError('--since is later than --until: nothing could match');
  const windowMs =
    values['window-ms'] === undefined ? DEFAULT_WINDOW_MS : integer('--window-ms', values['window-ms']);
  if (values['window-ms'] !== undefined && values.follow !== true)
    throw new UsageError('--window-ms only applies with --follow');
  return {
    help: values.help === true,
    dir: values.dir,
    follow: values.follow === true,
    json: values.json === true,
    windowMs,
    filter,
  };
}

// util.parseArgs's own messages are long and suggest `--` tricks; turn its three usage errors into
// one short sentence naming the option.
function parseStrict(argv: readonly string[]): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>> {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    const named = /'([^']+)'/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${named}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw new UsageError(`unexpected argument ${JSON.stringify(named)} (this command takes only options)`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(message.split('\n')[0]!);
    throw error;
  }
}

function integer(name: string, value: string): number {
  if (!/^[0-9]{1,15}$/.test(value))
    throw new UsageError(`${name} ${JSON.stringify(value)}: not a whole number`);
  return Number(value);
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`/`5m`/`2h`/`1d` ago, `HH:MM[:SS[.mmm]]` today (local time), or anything Date.parse reads. */
export function wallTime(name: string, value: string, nowMs: number): number {
  const ago = /^([0-9]{1,9})(ms|s|m|h|d)$/.exec(value);
  if (ago) return nowMs - Number(ago[1]) * UNIT_MS[ago[2]!]!;
  const today = /^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,3}))?)?$/.exec(value);
  if (today) {
    const [, h, m, s, milli] = today;
    const d = new Date(nowMs);
    d.setHours(Number(h), Number(m), Number(s ?? 0), Number((milli ?? '0').padEnd(3, '0')));
    return d.getTime();
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(
      `${name} ${JSON.stringify(value)}: not a time (try 2026-11-25T16:55:00Z, 16:55, or 10m for ten minutes ago)`,
    );
  return ms;
}

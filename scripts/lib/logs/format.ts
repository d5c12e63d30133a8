import { levelName } from './levels';
import type { LevelName } from './levels';
import type { Entry } from './merge';

/*
 * One entry, one line of text:
 *
 *   L=90     16:55:19.549  booking-2  WARN   replication: stepping down  component=replicator newTerm=2
 *
 * the writer's Lamport stamp (`L=-`: none, the line was placed by the rule in merge.ts), its wall
 * time in local time (blank: none of its own), the source, the level, the message, then the fields
 * worth reading as key=value. Or, with --json, the line's own JSON with `source` added.
 */

export interface FormatOptions {
  color: boolean;
  /** The source column's width: the longest source name there is. */
  sourceWidth: number;
  /** Print wall times in UTC instead of local time (tests). */
  utc?: boolean;
}

/** Printed in their own columns, or noise in a timeline of one host. */
const SHOWN_ELSEWHERE = new Set(['lamport', 'time', 'level', 'msg', 'service', 'nodeId', 'pid', 'hostname']);

const LEVEL_COLOURS: Readonly<Record<LevelName, string>> = {
  trace: '\x1b[90m', // grey
  debug: '\x1b[36m', // cyan
  info: '\x1b[32m', // green
  warn: '\x1b[33m', // yellow
  error: '\x1b[31m', // red
  fatal: '\x1b[1;35m', // bold magenta
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Colour only for a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export function shouldColor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export function formatEntry(entry: Entry, options: FormatOptions): string {
  const { record } = entry;
  const lamport = `L=${record.lamport ?? '-'}`.padEnd(8);
  const time = record.wallMs === undefined ? ' '.repeat(12) : clock(record.wallMs, options.utc === true);
  const source = record.source.padEnd(options.sourceWidth);
  const level = levelWord(record.level, options.color);
  const fields = record.fields === undefined ? [] : keyValues(record.fields, options.color);
  return [`${lamport} ${time}  ${source}  ${level}`, oneLine(record.msg), ...fields].join(' ');
}

export function formatJson(entry: Entry): string {
  const { record } = entry;
  // The line's own `source`, should it have one, wins: this adds information, it never rewrites it.
  return JSON.stringify(
    record.fields === undefined
      ? { source: record.source, msg: record.text }
      : { source: record.source, ...record.fields },
  );
}

/** HH:MM:SS.mmm */
function clock(ms: number, utc: boolean): string {
  const d = new Date(ms);
  const [h, m, s, milli] = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}.${String(milli).padStart(3, '0')}`;
}

// Padded outside the colour codes, so the columns line up in colour too.
function levelWord(level: number | undefined, color: boolean): string {
  if (level === undefined) return '-'.padEnd(6);
  const name = levelName(level);
  const padding = ' '.repeat(6 - name.length);
  return color
    ? `${LEVEL_COLOURS[name]}${name.toUpperCase()}${RESET}${padding}`
    : name.toUpperCase() + padding;
}

function keyValues(fields: Readonly<Record<string, unknown>>, color: boolean): string[] {
  return Object.entries(fields)
    .filter(([key, value]) => !SHOWN_ELSEWHERE.has(key) && value !== undefined)
    .map(([key, value]) => `${color ? `${DIM}${key}=${RESET}` : `${key}=`}${valueText(value)}`);
}

// Bare when it cannot be misread (no spaces, quotes or `=`), JSON otherwise: `term=5 reason="no quorum"`.
function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

// One record, one line: a message with newlines in it would break the columns and every grep.
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

import { isLamportStamp } from '../../../services/common/lamport';
import { levelInText, parseLevel } from './levels';

/*
 * One line of one log file, understood. A pino JSON line gives its Lamport stamp, wall time, level
 * and fields; anything else (MariaDB's log, a stack trace a crashing process wrote to stderr, a JSON
 * line cut short) is a plain line: kept as written, with the wall time and level it starts with when
 * it has them, and never a Lamport stamp. Parsing never throws: a line it cannot read is shown raw.
 */

export interface LogRecord {
  /** The file it came from, without `.log`: `booking-2`, `gateway-1`, `mariadb`. */
  source: string;
  /** Its place among the lines read from that source, counting up forever (file order). */
  seq: number;
  /** The line as written. */
  text: string;
  /** The object of a JSON line; undefined for a plain line. */
  fields?: Readonly<Record<string, unknown>>;
  /** The writer's Lamport clock when it logged the line (the `lamport` field lamportLogMixin adds). */
  lamport?: number;
  /** Wall time in ms since the epoch, when the line says. */
  wallMs?: number;
  /** On pino's scale (30 info, 40 warn…), when the line says. */
  level?: number;
  /** The message: `msg` of a JSON line, the whole text of a plain one. */
  msg: string;
  /** `service` of a JSON line; otherwise the source without its `-N` instance number. */
  service: string;
  /** `nodeId` of a JSON line (booking nodes carry one). */
  nodeId?: number;
}

/** `booking-2.log` → `booking-2`. */
export function sourceOf(fileName: string): string {
  return fileName.replace(/\.log$/, '');
}

export function parseLine(text: string, source: string, seq: number): LogRecord {
  const fields = jsonObject(text);
  if (fields === undefined) {
    return {
      source,
      seq,
      text,
      wallMs: leadingWallTime(text),
      level: levelInText(text),
      msg: text,
      service: serviceOf(source),
    };
  }
  const { lamport, time, level, msg, service, nodeId } = fields;
  return {
    source,
    seq,
    text,
    fields,
    lamport: isLamportStamp(lamport) ? lamport : undefined,
    wallMs: wallTime(time),
    level: typeof level === 'number' ? level : typeof level === 'string' ? parseLevel(level) : undefined,
    msg: typeof msg === 'string' ? msg : '',
    service: typeof service === 'string' ? service : serviceOf(source),
    nodeId: typeof nodeId === 'number' ? nodeId : undefined,
  };
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined; // cheap: most plain lines never reach JSON.parse
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// pino writes `time` as epoch ms by default and as an ISO string with stdTimeFunctions.isoTime (ours).
function wallTime(time: unknown): number | undefined {
  if (typeof time === 'number') return Number.isFinite(time) ? time : undefined;
  if (typeof time !== 'string') return undefined;
  const ms = Date.parse(time);
  return Number.isFinite(ms) ? ms : undefined;
}

// MariaDB: `2026-11-25 16:55:14 0 [Note] …`; nginx: `2026/11/25 16:55:14 [error] …`; ISO 8601 too.
// Without a zone they are local time, which is what both programs write.
const LEADING_TIME =
  /^(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:?\d{2})?(?=[\s\]]|$)/;

function leadingWallTime(text: string): number | undefined {
  const match = LEADING_TIME.exec(text);
  if (!match) return undefined;
  const [, year, month, day, clock, zone] = match;
  const offset = zone?.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') ?? ''; // Date.parse wants +01:00
  const ms = Date.parse(`${year}-${month}-${day}T${clock!.slice(0, 12)}${offset}`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** `gateway-2` → `gateway`, `mariadb` → `mariadb`. */
function serviceOf(source: string): string {
  return source.replace(/-\d+$/, '');
}

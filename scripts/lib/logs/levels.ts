/*
 * Log levels: pino's numbers, the words the timeline prints, and the bracketed words that non-JSON
 * logs (MariaDB's `[Warning]`, nginx's `[error]`) use, mapped onto pino's scale so one --level filter
 * covers every file.
 */

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export type LevelName = keyof typeof LEVELS;

const NAMES = Object.keys(LEVELS) as LevelName[];

/** Words other programs write for a level, to pino's number (MariaDB: Note/Warning/ERROR; nginx: notice…emerg). */
const ALIASES: Readonly<Record<string, number>> = {
  ...LEVELS,
  note: LEVELS.info,
  notice: LEVELS.info,
  warning: LEVELS.warn,
  crit: LEVELS.fatal,
  alert: LEVELS.fatal,
  emerg: LEVELS.fatal,
};

/** A level word (any case, aliases included) or a pino number; undefined when it is neither. */
export function parseLevel(text: string): number | undefined {
  if (/^[0-9]{1,3}$/.test(text)) return Number(text);
  return ALIASES[text.toLowerCase()];
}

/**
 * The name printed for a pino level number. A custom level between two standard ones takes the name
 * of the one below it, so it still sorts and colours with its neighbours.
 */
export function levelName(level: number): LevelName {
  let name: LevelName = 'trace';
  for (const candidate of NAMES) if (LEVELS[candidate] <= level) name = candidate;
  return name;
}

// A level in square brackets anywhere in the line: `2026-11-25 16:55:14 0 [Warning] …`, `… [error] 12#0: …`.
const BRACKETED = new RegExp(`\\[(${Object.keys(ALIASES).join('|')})\\]`, 'i');

/** The level a plain text line announces, if it announces one. */
export function levelInText(text: string): number | undefined {
  const match = BRACKETED.exec(text);
  return match ? parseLevel(match[1]!) : undefined;
}

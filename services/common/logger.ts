import pino from 'pino';
import type { Logger } from 'pino';
import { lamportLogMixin } from './lamport';
import type { LamportClock } from './lamport';
import { activeTraceIds } from './tracing';

export type { Logger };

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(
  service: string,
  options: {
    level?: string;
    nodeId?: number;
    clock?: LamportClock;
    /** More fields for every line, read when the line is written (a booking node's current term). */
    context?: () => Record<string, unknown>;
    /** Where lines go (tests); stdout otherwise. */
    destination?: NodeJS.WritableStream;
  } = {},
): Logger {
  const lamport = options.clock ? lamportLogMixin(options.clock) : undefined;
  const settings: pino.LoggerOptions = {
    // Every line carries the process's Lamport clock, so logs of all nodes merge in causal order,
    // and, inside a traced request, its trace and span ids (npm run logs -- --trace <id>).
    mixin: () => ({ ...(lamport ? lamport() : {}), ...options.context?.(), ...activeTraceIds() }),
    level: options.level ?? 'info',
    base: {
      service,
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
      pid: process.pid,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'authorization', 'card.number'],
      censor: '[redacted]',
    },
  };
  // Without a destination, pino's own fast writer on stdout (what the services use).
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

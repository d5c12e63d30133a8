import pino from 'pino';
import type { Logger } from 'pino';
import { lamportLogMixin } from './lamport';
import type { LamportClock } from './lamport';

export type { Logger };

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(
  service: string,
  options: { level?: string; nodeId?: number; clock?: LamportClock } = {},
): Logger {
  return pino({
    // Every line carries the process's Lamport clock, so logs of all nodes merge in causal order.
    ...(options.clock ? { mixin: lamportLogMixin(options.clock) } : {}),
    level: options.level ?? 'info',
    base: { service, ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}), pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'authorization', 'card.number'],
      censor: '[redacted]',
    },
  });
}

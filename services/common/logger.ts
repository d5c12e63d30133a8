import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(service: string, options: { level?: string; nodeId?: number } = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service, ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}), pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', 'card.number'], censor: '[redacted]' },
  });
}

import { credentials } from '@grpc/grpc-js';
import pino from 'pino';
import type { Logger } from 'pino';
import { ClusterServiceClient } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../proto/gen/marquee/cluster/v1/cluster';
import { callUnary } from '../../services/common/grpc-client';
import { LamportClock, lamportLogMixin } from '../../services/common/lamport';
import { ClusterSecret } from '../../services/common/peer-auth';

export const SECRET = new ClusterSecret('test-cluster-secret-0123456789');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger with the Lamport mixin, like a node's, that keeps its lines for the test to read. */
export function nodeLogger(
  clock: LamportClock,
  level = 'info',
): { logger: Logger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const logger = pino(
    { level, mixin: lamportLogMixin(clock) },
    {
      write: (line: string) => {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines, raw };
}

/** Polls until `check` returns a value other than undefined; fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 8000,
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > giveUp) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** ClusterService.Status over real gRPC (its own short-lived client). */
export async function statusOver(address: string): Promise<NodeStatus> {
  const client = new ClusterServiceClient(address, credentials.createInsecure());
  try {
    return await callUnary(client.status.bind(client), {}, { timeoutMs: 2000 });
  } finally {
    client.close();
  }
}

export { LamportClock };

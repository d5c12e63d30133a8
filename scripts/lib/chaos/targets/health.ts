import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../../../../proto/gen/grpc/health/v1/health';
import { sleep } from '../observer';

/** One grpc.health.v1 Check of the whole server (service ""): true when it answers SERVING in time. */
export function isServing(address: string, deadlineMs = 500): Promise<boolean> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    client.check(
      { service: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => {
        client.close();
        resolve(!error && response.status === ServingStatus.SERVING);
      },
    ),
  );
}

/** Polls `check` until it holds (true) or `timeoutMs` passed (false). */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

import { unlinkSync } from 'node:fs';
import { ServerInterceptingCall, status as Code } from '@grpc/grpc-js';
import type { ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/*
 * A test fault, off unless configured: the process dies (SIGKILL, as `chaos kill-master` does) after
 * a call of one method has succeeded — a write committed and acknowledged — and before its answer
 * leaves. It is armed by creating a file and fires once across every process sharing that file: the
 * first to unlink it dies. With it a test makes "the node died between commit and answer" happen
 * every time instead of hoping a SIGKILL lands in that window.
 */

export interface CrashBeforeAnswer {
  /** Full gRPC method path, e.g. /marquee.booking.v1.BookingService/ConfirmBooking. */
  method: string;
  /** The fault is armed while this file exists. */
  armFile: string;
  /**
   * Calls carrying this request header are passed over: a booking node sets it on a call it forwards
   * to the master, so the process that dies is the one the client (nginx) is talking to.
   */
  unlessHeader?: string;
}

/**
 * Put it LAST in the server's interceptor list (outermost, nearest the handler): it sees the
 * handler's status before the Lamport interceptor releases the held reply, so nothing of the answer
 * has left when the process dies.
 */
export function crashBeforeAnswerInterceptor(fault: CrashBeforeAnswer, logger: Logger): ServerInterceptor {
  return (methodDescriptor, call) => {
    let exempt = false;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            exempt = fault.unlessHeader !== undefined && metadata.get(fault.unlessHeader).length > 0;
            nextMetadata(metadata);
          },
        }),
      sendStatus: (status, next) => {
        const fires = methodDescriptor.path === fault.method && status.code === Code.OK && !exempt;
        if (fires && claim(fault.armFile, logger)) process.kill(process.pid, 'SIGKILL');
        next(status);
      },
    });
  };
}

/** True for the one process that removed the arm file. */
function claim(file: string, logger: Logger): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch (error) {
    // Not armed (or another process fired first): carry on. Anything else is worth a line.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.error({ err: error, file }, 'fault injection: could not read the arm file; not crashing');
    return false;
  }
}

import { status as Code } from '@grpc/grpc-js';
import { DomainError } from '../common/errors';

/*
 * Progress-based timeouts for snapshot streams. A snapshot of a million rows takes as long as it
 * takes; what must not happen is waiting forever on a peer that stopped. So there is no deadline on
 * the whole transfer: each side gives up after `idleMs` without progress (no chunk received, or a
 * full send buffer that did not drain), and the next attempt resumes where the receiver got to.
 */

/** The other side made no progress for the idle timeout. */
export class SnapshotStalledError extends DomainError {
  constructor(what: string, idleMs: number) {
    super(Code.DEADLINE_EXCEEDED, `snapshot stream: ${what} for ${idleMs} ms`);
  }
}

/**
 * The next value of `iterator`, or SnapshotStalledError after `idleMs` without one (the iterator is
 * then left to the caller to close).
 */
export async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  idleMs: number,
  what: string,
): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SnapshotStalledError(what, idleMs)), idleMs);
  });
  try {
    return await Promise.race([iterator.next(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** `work`'s outcome, or SnapshotStalledError after `idleMs` (the timer is cleared either way). */
export function within<T>(work: Promise<T>, idleMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SnapshotStalledError(what, idleMs)), idleMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** `work`'s outcome, or the call's end error if the call ends first. */
export function unlessGone<T>(work: Promise<T>, gone: Promise<Error>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    work.then(resolve, reject);
    void gone.then(reject);
  });
}

/** The parts of a grpc-js writable call the backpressure wait needs. */
export interface DrainableStream {
  write(message: unknown): boolean;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes `message`; when the stream's buffer is full (write returned false), waits for 'drain' — the
 * peer reading — so at most one buffer's worth is ever queued. `gone` resolves when the call ended
 * (cancelled, failed): waiting then stops with that error.
 */
export async function writeWithBackpressure(
  stream: DrainableStream,
  message: unknown,
  idleMs: number,
  gone: Promise<Error>,
): Promise<void> {
  if (stream.write(message)) return;
  let timer: NodeJS.Timeout | undefined;
  let drained: (() => void) | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        drained = resolve;
        stream.once('drain', resolve);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SnapshotStalledError('the receiver read nothing', idleMs)),
          idleMs,
        );
      }),
      gone.then((error) => Promise.reject(error)),
    ]);
  } finally {
    clearTimeout(timer);
    if (drained) stream.off('drain', drained);
  }
}

/** A promise of the error that ends a call, settled by `end`; never rejects (nothing left unhandled). */
export function callEnd(): { gone: Promise<Error>; end(error: Error): void } {
  let end: (error: Error) => void = () => undefined;
  const gone = new Promise<Error>((resolve) => {
    end = resolve;
  });
  return { gone, end };
}

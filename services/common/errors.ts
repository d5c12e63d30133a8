import { Metadata, status as Code } from '@grpc/grpc-js';
import type { ServiceError, StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/**
 * Typed domain errors. Handlers throw these; `toGrpcStatus` is the ONE place that turns anything
 * thrown into a gRPC status, and `fromGrpcError` is the ONE place that turns a client-side error back.
 */
export class DomainError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input; the message names the field. */
export class InvalidArgumentError extends DomainError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(Code.INVALID_ARGUMENT, `${field}: ${problem}`, { field });
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string, field?: string) {
    super(
      Code.NOT_FOUND,
      `${field ? `${field}: ` : ''}${what} ${JSON.stringify(id)} not found`,
      field ? { field } : {},
    );
  }
}

export class AlreadyExistsError extends DomainError {
  constructor(message: string) {
    super(Code.ALREADY_EXISTS, message);
  }
}

/** The request is valid but the state does not allow it (seat sold, hold expired, card declined). */
export class FailedPreconditionError extends DomainError {
  constructor(message: string, details: Record<string, string> = {}) {
    super(Code.FAILED_PRECONDITION, message, details);
  }
}

/** A concurrency conflict (deadlock, lost race); retrying the whole call may succeed. */
export class AbortedError extends DomainError {
  constructor(message: string) {
    super(Code.ABORTED, message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'authorization: a valid "Bearer <token>" is required') {
    super(Code.UNAUTHENTICATED, message);
  }
}

export class PermissionDeniedError extends DomainError {
  constructor(message: string) {
    super(Code.PERMISSION_DENIED, message);
  }
}

export class UnavailableError extends DomainError {
  constructor(message: string, details: Record<string, string> = {}) {
    super(Code.UNAVAILABLE, message, details);
  }
}

export class ResourceExhaustedError extends DomainError {
  constructor(message: string) {
    super(Code.RESOURCE_EXHAUSTED, message);
  }
}

const DETAIL_PREFIX = 'x-error-';

/** Turns anything a handler threw into a gRPC status. Unknown errors are logged and sent as INTERNAL. */
export function toGrpcStatus(error: unknown, logger: Logger): Partial<StatusObject> {
  const metadata = new Metadata();
  if (error instanceof DomainError) {
    for (const [key, value] of Object.entries(error.details)) metadata.set(DETAIL_PREFIX + key, value);
    return { code: error.code, details: error.message, metadata };
  }
  if (isGrpcError(error)) {
    // An error from a downstream call passes through with its code; its message already says what failed.
    return { code: error.code, details: error.details, metadata };
  }
  logger.error({ err: error }, 'unexpected error in handler');
  return { code: Code.INTERNAL, details: 'internal error; see the server log', metadata };
}

/** Codes a client may retry with the same idempotency key. */
export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.UNAVAILABLE,
  Code.ABORTED,
  Code.DEADLINE_EXCEEDED,
]);

/*
 * The retry rule for every client the project ships (README "Retries"; docs/ARCHITECTURE.md):
 *  - RETRYABLE_CODES: the server says so (no master yet, a lost race) or the deadline passed.
 *  - UNKNOWN_OUTCOME_CODES: the call may or may not have taken effect. grpc-js makes these up when
 *    the transport fails mid-call ("Received RST_STREAM with code 2" from nginx when a node dies
 *    after committing; "Call ended without gRPC status"; a stream cancelled by the transport).
 *    A server of this project sends INTERNAL/UNKNOWN itself only for a bug, and a client cannot
 *    reliably tell the two apart (a proxy turns one into the other), so it does not try: a call
 *    that is safe to repeat is repeated in either case. For a write with an idempotency key the
 *    retry returns the first answer if the first attempt committed, and fails the same way again
 *    if it did not (a real bug), until the client's retry budget is spent.
 * "Safe to repeat" is a read, or a write that carries an idempotency key. A write without one is
 * never repeated on an unknown outcome: the caller must look before trying again.
 */
export const UNKNOWN_OUTCOME_CODES: ReadonlySet<Code> = new Set([
  Code.INTERNAL,
  Code.UNKNOWN,
  Code.CANCELLED,
]);

/** May a call that failed with `error` be sent again (with the same idempotency key, if a write)? */
export function mayRetry(error: unknown, safeToRepeat: boolean): boolean {
  if (!isGrpcError(error)) return false;
  return RETRYABLE_CODES.has(error.code) || (safeToRepeat && UNKNOWN_OUTCOME_CODES.has(error.code));
}

/** Did the call fail without the client learning whether it took effect? */
export function isUnknownOutcome(error: unknown): boolean {
  return isGrpcError(error) && UNKNOWN_OUTCOME_CODES.has(error.code);
}

export function isGrpcError(error: unknown): error is ServiceError {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof (error as { code: unknown }).code === 'number' &&
    'details' in error
  );
}

/** Turns an error from a grpc-js client call back into a typed domain error. */
export function fromGrpcError(error: unknown): DomainError | unknown {
  if (!isGrpcError(error)) return error;
  const field = error.metadata?.get(DETAIL_PREFIX + 'field')[0];
  const details: Record<string, string> = field ? { field: String(field) } : {};
  return new DomainError(error.code, error.details, details);
}

import * as grpc from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';

/** Calls a ts-proto unary method with explicit metadata as a promise, with a deadline (30 s unless told). */
export function callWithMetadata<Req, Res>(
  method: (
    request: Req,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (error: ServiceError | null, response: Res) => void,
  ) => unknown,
  request: Req,
  metadata: grpc.Metadata,
  timeoutMs = 30000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, metadata, { deadline: Date.now() + timeoutMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** The gRPC status name of a client-side error ("UNAVAILABLE"), or "OTHER" for anything else. */
export function statusName(error: unknown): string {
  const code = (error as Partial<ServiceError> | undefined)?.code;
  return typeof code === 'number' ? (grpc.status[code] ?? `CODE_${code}`) : 'OTHER';
}

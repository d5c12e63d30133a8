import { Metadata } from '@grpc/grpc-js';
import type {
  CallOptions,
  ChannelOptions,
  ClientOptions,
  ClientUnaryCall,
  ServiceError,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { LamportClock } from './lamport';
import { lamportClientInterceptor } from './lamport-interceptors';
import { tracingClientInterceptor } from './tracing-interceptors';

/** Options for every client a service builds: its calls carry and learn `x-lamport`. */
export function grpcClientOptions(
  clock: LamportClock,
  logger: Logger,
  channel: ChannelOptions = {},
): ClientOptions {
  return { ...channel, interceptors: [tracingClientInterceptor(), lamportClientInterceptor(clock, logger)] };
}

/** The 4-argument overload every ts-proto grpc-js client method has. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface CallSettings {
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Every outgoing call has a deadline; 5 s unless told. */
  timeoutMs?: number;
  /** An absolute deadline inherited from the incoming call wins over timeoutMs when it is sooner. */
  deadline?: Date | number;
  /** More request metadata, e.g. `idempotency-key` for Register. */
  headers?: Readonly<Record<string, string>>;
}

/** Calls a unary method as a promise, with a deadline and optional bearer token. */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  settings: CallSettings = {},
): Promise<Res> {
  const metadata = new Metadata();
  if (settings.token) metadata.set('authorization', `Bearer ${settings.token}`);
  for (const [key, value] of Object.entries(settings.headers ?? {})) metadata.set(key, value);
  const own = Date.now() + (settings.timeoutMs ?? 5000);
  const inherited = settings.deadline === undefined ? Infinity : new Date(settings.deadline).getTime();
  const deadline = Math.min(own, Number.isFinite(inherited) ? inherited : own);
  return new Promise((resolve, reject) => {
    method(request, metadata, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

import { Server, ServerCredentials, status as Code } from '@grpc/grpc-js';
import type {
  Metadata,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
  handleUnaryCall,
  sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { InvalidArgumentError, toGrpcStatus } from './errors';
import { HealthRegistry, healthService } from './health';
import { descriptorIndex, reflectionServices } from './reflection';
import { misencodedField } from './wire-check';
import type { FieldDescriptorProto } from 'ts-proto-descriptors';
import { LamportClock } from './lamport';
import { crashBeforeAnswerInterceptor } from './fault-injection';
import type { CrashBeforeAnswer } from './fault-injection';
import { lamportServerInterceptor } from './lamport-interceptors';
import { grpcMetricsInterceptor } from './metrics';
import type { Metrics } from './metrics';
import {
  SpanKind,
  contextFromMetadata,
  endSpan,
  isTraced,
  startSpan,
  startsTraces,
  withSpan,
} from './tracing';
import type { Span } from '@opentelemetry/api';

/** What a handler sees of a call besides the request. */
export interface CallContext {
  metadata: Metadata;
  peer: string;
  /** Milliseconds left before the caller's deadline, or Infinity. Passed on to downstream calls. */
  deadline: Date | number;
}

/**
 * Async handlers for every unary method of a ts-proto generated `...Server` interface. Streaming
 * methods are left out (their handlers are written by hand); keeping them as `never`-typed keys
 * would make the type impossible to satisfy for any service that has one.
 */
export type AsyncHandlers<S> = {
  [
    K in keyof S as string extends K
      ? never
      : S[K] extends handleUnaryCall<infer _Req, infer _Res>
        ? K
        : never
  ]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? (request: Req, context: CallContext) => Promise<Res>
    : never;
};

const BAD_REQUEST = Symbol('bad request');
interface UndecodableRequest {
  [BAD_REQUEST]: string;
}
const BAD_FIELD = Symbol('misencoded field');
interface MisencodedRequest {
  [BAD_FIELD]: { field: string; problem: string };
}

/**
 * Adapts async handlers to grpc-js callbacks once: the callback is called exactly once, with the
 * response or with the status `toGrpcStatus` derives from whatever was thrown. Requests that do not
 * decode become INVALID_ARGUMENT instead of grpc-js's INTERNAL.
 */
export function adaptService<S>(
  definition: ServiceDefinition,
  handlers: AsyncHandlers<S>,
  logger: Logger,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const implementation: UntypedServiceImplementation = {};
  const safeDefinition: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = (handlers as Record<string, (req: unknown, ctx: CallContext) => Promise<unknown>>)[name];
    if (!handler) throw new Error(`no handler for ${method.path}`);
    safeDefinition[name] = {
      ...method,
      requestDeserialize: tolerantDeserializer(
        method.requestDeserialize,
        descriptorIndex().requestFields(method.path),
      ),
    };
    implementation[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      // The call's own span continues the caller's trace (its traceparent) and is active while the
      // handler runs: the handler's outgoing calls and log lines belong to it.
      const parent = contextFromMetadata(call.metadata);
      if (!isTraced(parent) && !startsTraces(method.path)) {
        serve(call, callback, undefined);
        return;
      }
      const span = startSpan(method.path.replace(/^\//, ''), SpanKind.SERVER, parent);
      withSpan(span, parent, () => serve(call, callback, span));
    };
    const serve = (
      call: ServerUnaryCall<unknown, unknown>,
      callback: sendUnaryData<unknown>,
      span: Span | undefined,
    ): void => {
      const request = call.request;
      const started = process.hrtime.bigint();
      const finish = (error: unknown, response?: unknown): void => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (error === undefined) {
          logger.debug({ method: method.path, ms }, 'call ok');
          if (span) endSpan(span, undefined, { 'rpc.system': 'grpc', 'rpc.grpc.status_code': Code.OK });
          callback(null, response);
          return;
        }
        const status = toGrpcStatus(error, logger);
        logger.info(
          { method: method.path, ms, code: Code[status.code ?? Code.UNKNOWN], msg2: status.details },
          'call failed',
        );
        if (span)
          endSpan(span, new Error(status.details ?? 'failed'), {
            'rpc.system': 'grpc',
            'rpc.grpc.status_code': status.code ?? Code.UNKNOWN,
          });
        callback(status, null);
      };
      if (isUndecodable(request)) {
        finish(new InvalidArgumentError('request', `could not be decoded: ${request[BAD_REQUEST]}`));
        return;
      }
      if (isMisencoded(request)) {
        finish(new InvalidArgumentError(request[BAD_FIELD].field, request[BAD_FIELD].problem));
        return;
      }
      let promise: Promise<unknown>;
      try {
        promise = handler(request, {
          metadata: call.metadata,
          peer: call.getPeer(),
          deadline: call.getDeadline(),
        });
      } catch (error) {
        finish(error);
        return;
      }
      promise.then(
        (response) => finish(undefined, response),
        (error: unknown) => finish(error),
      );
    };
  }
  return { definition: safeDefinition as ServiceDefinition, implementation };
}

function tolerantDeserializer(
  deserialize: (bytes: Buffer) => unknown,
  fields: readonly FieldDescriptorProto[] | undefined,
): (bytes: Buffer) => unknown {
  return (bytes) => {
    // A field with the wrong wire type would be skipped as unknown, and then reported as missing.
    const misencoded = fields ? misencodedField(bytes, fields) : undefined;
    if (misencoded) return { [BAD_FIELD]: misencoded } satisfies MisencodedRequest;
    try {
      return deserialize(bytes);
    } catch (error) {
      const undecodable: UndecodableRequest = {
        [BAD_REQUEST]: error instanceof Error ? error.message : String(error),
      };
      return undecodable;
    }
  };
}

function isUndecodable(request: unknown): request is UndecodableRequest {
  return typeof request === 'object' && request !== null && BAD_REQUEST in request;
}

function isMisencoded(request: unknown): request is MisencodedRequest {
  return typeof request === 'object' && request !== null && BAD_FIELD in request;
}

export interface ServiceRegistration {
  /** Fully-qualified name, e.g. marquee.catalog.v1.CatalogService, for health and reflection. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningServer {
  port: number;
  health: HealthRegistry;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then forces. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartServerOptions {
  host: string;
  port: number;
  services: ServiceRegistration[];
  logger: Logger;
  /** Reflection lists every service in the descriptor set, not only this server's (front-door answerer). */
  reflectionListsAll?: boolean;
  /** The process's Lamport clock; every request and response (errors too) carries `x-lamport`. */
  clock?: LamportClock;
  /** Largest request accepted, in bytes (default 4 MiB; the peer server takes snapshots). */
  maxReceiveMessageBytes?: number;
  /** The process's metrics: every call is counted and timed (marquee_grpc_*). */
  metrics?: Metrics;
  /** A test fault (fault-injection.ts): die after a call succeeded, before answering it. */
  crashBeforeAnswer?: CrashBeforeAnswer;
}

/** Starts a gRPC server with health checking and reflection; port 0 picks a free port. */
export async function startGrpcServer(options: StartServerOptions): Promise<RunningServer> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
    interceptors: [
      // Nearest the network, so it counts the status the caller gets (a Lamport failure's too); it
      // only watches, so the Lamport interceptor still stamps everything that sets a status.
      ...(options.metrics ? [grpcMetricsInterceptor(options.metrics)] : []),
      // The one place Lamport stamps are read and written on the server side; handlers never see them.
      lamportServerInterceptor(options.clock ?? new LamportClock(), options.logger),
      // Outermost: sees the handler's status while the Lamport interceptor still holds the reply.
      ...(options.crashBeforeAnswer
        ? [crashBeforeAnswerInterceptor(options.crashBeforeAnswer, options.logger)]
        : []),
    ],
  });
  const names = options.services.map((s) => s.name);
  const health = new HealthRegistry(names);
  for (const service of options.services) server.addService(service.definition, service.implementation);
  const healthImpl = healthService(health, options.logger);
  server.addService(healthImpl.definition, healthImpl.implementation);
  for (const reflection of reflectionServices(options.reflectionListsAll ? undefined : names)) {
    server.addService(reflection.definition, reflection.implementation);
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  health.setAll('SERVING');
  options.logger.info({ port, services: names }, 'gRPC server listening');
  return {
    port,
    health,
    stop: async (graceMs = 5000) => {
      health.setAll('NOT_SERVING');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

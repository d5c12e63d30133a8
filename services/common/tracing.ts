import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { Metadata } from '@grpc/grpc-js';
import { ConfigError } from './config';

/*
 * Distributed tracing with the OpenTelemetry API and W3C trace context (`traceparent`): a request's
 * trace id travels from the browser through nginx (which passes headers on), the gateway and every
 * gRPC hop. Spans are exported over OTLP/HTTP when an endpoint is configured; without one they are
 * still made, so every log line written inside a request carries its trace id (logger.ts) and
 * `npm run logs -- --trace <id>` shows one request across every process.
 *
 * One setup per process (its main.ts). Libraries only use the API: without a setup (unit tests) the
 * API is a no-op and nothing here costs anything.
 */

export interface TracingOptions {
  /** service.name of this process's spans, e.g. "booking". */
  service: string;
  /**
   * false: no tracing at all (no spans, no trace ids in log lines or X-Trace-Id), which saves the
   * context propagation's CPU on every call (docs/BENCHMARKS.md). Default true.
   */
  enabled?: boolean;
  nodeId?: number;
  /** OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); '' exports nothing. */
  otlpEndpoint?: string;
  /** Spans go here instead (tests): exported at once, not batched. */
  exporter?: SpanExporter;
  /**
   * Without an OTLP endpoint, each request this process serves is logged here as one `span` line
   * (trace id, name, duration, status), so `npm run logs -- --trace <id>` shows the request's path.
   */
  logger?: Logger;
}

/**
 * The spans of the work a process does for requests (the calls it serves, waits and replicated
 * entries it stores or applies), as log lines: the trace through the log files when no collector
 * is configured. Client spans are left out; the line of the server they called says it.
 *
 * A span processor rather than an exporter behind SimpleSpanProcessor: that one wraps every span's
 * export in promises and bookkeeping, which cost the booking node ~0.5 CPU ms per booking for what
 * is one synchronous log call (docs/BENCHMARKS.md).
 */
export class LogSpanProcessor implements SpanProcessor {
  constructor(private readonly logger: Logger) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (span.kind === SpanKind.CLIENT) return;
    const ids = span.spanContext();
    const ms = span.duration[0] * 1000 + span.duration[1] / 1e6;
    this.logger.info(
      {
        traceId: ids.traceId,
        spanId: ids.spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        span: span.name,
        ms: Math.round(ms * 10) / 10,
        ...(span.status.code === SpanStatusCode.ERROR ? { error: span.status.message } : {}),
      },
      'span',
    );
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Tracing {
  /** Sends what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

const TRACER = 'marquee';

/** Registers the context manager, the W3C propagator and a tracer provider for this process. */
export function setupTracing(options: TracingOptions): Tracing {
  // Off: the OpenTelemetry API stays a no-op, as in unit tests.
  if (options.enabled === false) return { shutdown: () => Promise.resolve() };
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const processors = [];
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  if (options.otlpEndpoint)
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint })));
  // Span lines are info lines: at a quieter level they would never be written, so none are made.
  else if (options.logger?.isLevelEnabled('info')) processors.push(new LogSpanProcessor(options.logger));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.service,
      ...(options.nodeId === undefined ? {} : { 'marquee.node_id': options.nodeId }),
    }),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
  return {
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The trace and span ids of the active span, for log lines (empty outside a traced request). */
export function activeTraceIds(): { traceId: string; spanId: string } | Record<string, never> {
  const span = trace.getActiveSpan();
  const ids = span?.spanContext();
  if (!ids || !trace.isSpanContextValid(ids)) return {};
  return { traceId: ids.traceId, spanId: ids.spanId };
}

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** The context a gRPC call's metadata carries (its `traceparent`), else the root context. */
export function contextFromMetadata(metadata: Metadata): Context {
  return propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
}

/** Writes the active context's `traceparent` into outgoing metadata. */
export function injectIntoMetadata(metadata: Metadata, from: Context = context.active()): void {
  propagation.inject(from, metadata, metadataSetter);
}

type Headers = Record<string, string | string[] | undefined>;

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

/** The context an HTTP request's headers carry (a browser's or nginx's `traceparent`). */
export function contextFromHeaders(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Whether `ctx` carries a real span (a traced request is in progress there). */
export function isTraced(ctx: Context): boolean {
  const span = trace.getSpan(ctx);
  return span !== undefined && trace.isSpanContextValid(span.spanContext());
}

/**
 * The group's own traffic (election heartbeats, replication appends, status, health checks) runs
 * many times a second outside any request: it is traced only when it carries a request's trace,
 * never as traces of its own, which would bury the requests' traces and log lines.
 */
export function startsTraces(path: string): boolean {
  return !/^\/?(marquee\.cluster\.v1\.|grpc\.)/.test(path);
}

/**
 * Election messages are never part of a request, but a timer or kick set up while a request ran
 * carries its context along (AsyncLocalStorage): their calls are left out, or requests would seem
 * to cause elections.
 */
export function belongsToRequests(path: string): boolean {
  return !/^\/?marquee\.cluster\.v1\.ElectionService\//.test(path);
}

/** Starts a span of `kind` as a child of `parent`; the caller ends it (see endSpan). */
export function startSpan(
  name: string,
  kind: SpanKind,
  parent: Context = context.active(),
  options: { startTime?: number; attributes?: Record<string, string | number> } = {},
): Span {
  return trace.getTracer(TRACER).startSpan(name, { kind, ...options }, parent);
}

/**
 * The `traceparent` of `from` (the active context by default) when a traced request is in progress
 * there, else ''. Work done for a request later and elsewhere (a replicated log entry) keeps it, so
 * its spans join the request's trace.
 */
export function traceParentOf(from: Context = context.active()): string {
  if (!isTraced(from)) return '';
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier.traceparent ?? '';
}

/** The context a kept `traceparent` names; the root context for '' (or one that does not parse). */
export function contextFromTraceParent(traceParent: string): Context {
  if (traceParent === '') return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent: traceParent }, headerGetter);
}

/** Ends `span`, marking it failed with `error`'s message when there is one. */
export function endSpan(
  span: Span,
  error?: unknown,
  attributes: Record<string, string | number> = {},
  /** Epoch ms; now unless given (spans that end at one instant, e.g. one COMMIT, share it). */
  endTime?: number,
): void {
  span.setAttributes(attributes);
  if (error !== undefined) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end(endTime);
}

/** Runs `work` with `span` active, so calls it makes and lines it logs belong to the span. */
export function withSpan<T>(span: Span, parent: Context, work: () => T): T {
  return context.with(trace.setSpan(parent, span), work);
}

export { SpanKind };

/** MARQUEE_TRACING: on (the default) or off (see TracingOptions.enabled). */
export function readTracingEnabled(env: NodeJS.ProcessEnv): boolean {
  const value = (env.MARQUEE_TRACING ?? '').trim().toLowerCase();
  if (value === '' || value === 'on') return true;
  if (value === 'off') return false;
  throw new ConfigError('MARQUEE_TRACING', `must be on or off (got ${JSON.stringify(env.MARQUEE_TRACING)})`);
}

/**
 * Where spans go, from the environment: MARQUEE_OTLP_ENDPOINT, else the OpenTelemetry standard
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; '' when neither is set (spans only feed log lines' trace ids).
 */
export function readOtlpEndpoint(env: NodeJS.ProcessEnv): string {
  const value = (env.MARQUEE_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '').trim();
  if (value !== '' && !/^https?:\/\/\S+$/.test(value))
    throw new ConfigError('MARQUEE_OTLP_ENDPOINT', `must be an http(s) URL (got ${JSON.stringify(value)})`);
  return value;
}

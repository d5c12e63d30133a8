import { Writable } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { context, trace } from '@opentelemetry/api';
import { createLogger } from '../logger';
import { LamportClock } from '../lamport';
import {
  SpanKind,
  belongsToRequests,
  contextFromTraceParent,
  endSpan,
  isTraced,
  readTracingEnabled,
  setupTracing,
  startSpan,
  startsTraces,
  traceParentOf,
  withSpan,
} from '../tracing';

/** A logger whose lines land in an array, parsed. */
function capture(options: Parameters<typeof createLogger>[1]) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', { ...options, destination }), lines };
}

describe('createLogger', () => {
  it('stamps every line with the Lamport clock and the context of the moment', () => {
    let term = 3;
    const clock = new LamportClock();
    clock.tick();
    const { logger, lines } = capture({ clock, nodeId: 2, context: () => ({ term }) });
    logger.info('first');
    term = 4;
    clock.tick();
    logger.info('second');
    expect(lines.map((l) => [l.msg, l.term, l.lamport, l.nodeId, l.service])).toEqual([
      ['first', 3, 1, 2, 'test'],
      ['second', 4, 2, 2, 'test'],
    ]);
  });

  it('adds the active span’s trace and span ids inside a traced request, nothing outside', async () => {
    const tracing = setupTracing({ service: 'test', exporter: new InMemorySpanExporter() });
    try {
      const { logger, lines } = capture({});
      logger.info('outside');
      const span = startSpan('request', SpanKind.SERVER, context.active());
      withSpan(span, context.active(), () => logger.info('inside'));
      endSpan(span);
      expect(lines[0]).not.toHaveProperty('traceId');
      expect(lines[1]).toMatchObject({
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
      });
    } finally {
      await tracing.shutdown();
    }
  });

  it('without a collector, logs each served request as one span line that --trace finds', async () => {
    const { logger, lines } = capture({});
    const tracing = setupTracing({ service: 'test', logger });
    try {
      const served = startSpan(
        'marquee.booking.v1.BookingService/HoldSeats',
        SpanKind.SERVER,
        context.active(),
      );
      const outgoing = startSpan(
        'marquee.catalog.v1.CatalogService/GetShow',
        SpanKind.CLIENT,
        context.active(),
      );
      const stored = startSpan(
        'replication.store',
        SpanKind.CONSUMER,
        trace.setSpan(context.active(), served),
      );
      endSpan(outgoing);
      endSpan(stored);
      endSpan(served, new Error('seat ORCH-A-1 is already held'));
      const spans = lines.filter((l) => l.msg === 'span');
      // Client spans are said by their server; work done for the request elsewhere is said.
      expect(spans.map((l) => l.span)).toEqual([
        'replication.store',
        'marquee.booking.v1.BookingService/HoldSeats',
      ]);
      expect(spans[0]).toMatchObject({
        traceId: served.spanContext().traceId,
        parentSpanId: served.spanContext().spanId,
      });
      expect(spans[1]).toMatchObject({
        traceId: served.spanContext().traceId,
        error: 'seat ORCH-A-1 is already held',
      });
    } finally {
      await tracing.shutdown();
    }
  });

  it('at a level above info writes no span lines, yet requests keep their trace ids', async () => {
    const { logger, lines } = capture({ level: 'warn' });
    const tracing = setupTracing({ service: 'test', logger });
    try {
      const served = startSpan(
        'marquee.booking.v1.BookingService/HoldSeats',
        SpanKind.SERVER,
        context.active(),
      );
      withSpan(served, context.active(), () => logger.warn('inside'));
      endSpan(served);
      expect(lines.map((l) => l.msg)).toEqual(['inside']);
      expect(lines[0]).toMatchObject({ traceId: served.spanContext().traceId });
    } finally {
      await tracing.shutdown();
    }
  });

  it('with tracing off makes no spans and puts no trace ids in lines', async () => {
    const { logger, lines } = capture({});
    const tracing = setupTracing({ service: 'test', logger, enabled: false });
    try {
      const served = startSpan('request', SpanKind.SERVER, context.active());
      withSpan(served, context.active(), () => logger.info('inside'));
      endSpan(served);
      expect(trace.isSpanContextValid(served.spanContext())).toBe(false);
      expect(lines.map((l) => l.msg)).toEqual(['inside']);
      expect(lines[0]).not.toHaveProperty('traceId');
    } finally {
      await tracing.shutdown();
    }
  });

  it('reads MARQUEE_TRACING: on by default, off, and names the variable otherwise', () => {
    expect(readTracingEnabled({})).toBe(true);
    expect(readTracingEnabled({ MARQUEE_TRACING: 'on' })).toBe(true);
    expect(readTracingEnabled({ MARQUEE_TRACING: ' OFF ' })).toBe(false);
    expect(() => readTracingEnabled({ MARQUEE_TRACING: 'no' })).toThrow(/MARQUEE_TRACING: must be on or off/);
  });

  it('keeps a request’s traceparent for work done later, and nothing outside a request', async () => {
    const tracing = setupTracing({ service: 'test', exporter: new InMemorySpanExporter() });
    try {
      expect(traceParentOf(context.active())).toBe('');
      const span = startSpan('request', SpanKind.SERVER, context.active());
      const kept = withSpan(span, context.active(), () => traceParentOf());
      endSpan(span);
      const ids = span.spanContext();
      expect(kept).toBe(`00-${ids.traceId}-${ids.spanId}-01`);
      const resumed = trace.getSpanContext(contextFromTraceParent(kept));
      expect(resumed).toMatchObject({ traceId: ids.traceId, spanId: ids.spanId, isRemote: true });
      expect(isTraced(contextFromTraceParent(''))).toBe(false);
      expect(isTraced(contextFromTraceParent('00-not-a-traceparent'))).toBe(false);
    } finally {
      await tracing.shutdown();
    }
  });

  it('the group’s own traffic never starts traces; API calls do, and anything inside a request is traced', async () => {
    expect(startsTraces('/marquee.cluster.v1.ElectionService/Deliver')).toBe(false);
    expect(startsTraces('/marquee.cluster.v1.ReplicationService/Append')).toBe(false);
    expect(startsTraces('/grpc.health.v1.Health/Check')).toBe(false);
    expect(startsTraces('/marquee.booking.v1.BookingService/HoldSeats')).toBe(true);
    expect(belongsToRequests('/marquee.cluster.v1.ElectionService/Deliver')).toBe(false);
    expect(belongsToRequests('/marquee.cluster.v1.ReplicationService/Append')).toBe(true);
    const tracing = setupTracing({ service: 'test', exporter: new InMemorySpanExporter() });
    try {
      expect(isTraced(context.active())).toBe(false);
      const span = startSpan('request', SpanKind.SERVER, context.active());
      withSpan(span, context.active(), () => expect(isTraced(context.active())).toBe(true));
      endSpan(span);
    } finally {
      await tracing.shutdown();
    }
  });
});

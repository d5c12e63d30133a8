import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { setupTracing } from '../../common/tracing';
import type { Tracing } from '../../common/tracing';
import { SseClient, eventually, newUser, send, startStack } from './harness';
import type { Stack } from './harness';

/*
 * W3C trace context end to end, in one process: a request with a browser's `traceparent` goes
 * through the gateway to the REAL booking node and catalog; every span of it (the gateway's HTTP
 * span, its gRPC client spans, the services' server spans) belongs to the caller's trace, and the
 * trace id comes back as X-Trace-Id.
 */

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let stack: Stack;

beforeAll(async () => {
  tracing = setupTracing({ service: 'tracing-test', exporter });
  stack = await startStack('gwtrace');
});

afterAll(async () => {
  await stack?.stop();
  await tracing?.shutdown();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('tracing through the gateway', () => {
  it('continues the caller’s trace across the gateway and the gRPC services, and says its id', async () => {
    const buyer = await newUser(stack.port, 'tracer');
    exporter.reset();
    const reply = await send(stack.port, {
      url: `/api/shows/${stack.show.id}/availability`,
      token: buyer.token,
      headers: { traceparent: PARENT },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-trace-id']).toBe(TRACE_ID);
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    const names = spans.map((s) => `${SpanKind[s.kind]} ${s.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'SERVER HTTP GET /api/shows/:showId/availability',
        'CLIENT marquee.booking.v1.BookingService/GetAvailability',
        'SERVER marquee.booking.v1.BookingService/GetAvailability',
      ]),
    );
    // The booking server's span is the child of the gateway's client span.
    const client = spans.find((s) => s.kind === SpanKind.CLIENT && s.name.endsWith('GetAvailability'))!;
    const server = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('GetAvailability'))!;
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
  });

  it('starts a new trace when the caller sends none, and marks failed calls', async () => {
    exporter.reset();
    const reply = await send(stack.port, { url: '/api/events/no-such-event' });
    expect(reply.status).toBe(404);
    const traceId = reply.headers['x-trace-id'];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(TRACE_ID);
    const failed = exporter
      .getFinishedSpans()
      .filter(
        (s) =>
          s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER && s.name.includes('GetEvent'),
      );
    expect(failed).toHaveLength(1);
    expect(failed[0]!.status.code).toBe(2); // SpanStatusCode.ERROR
  });

  it('traces an event stream from its request until the client leaves, and says its id', async () => {
    const viewer = await newUser(stack.port, 'streamer');
    exporter.reset();
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const stream = await SseClient.open(stack.port, `/api/shows/${stack.show.id}/events`, {
      authorization: `Bearer ${viewer.token}`,
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers['x-trace-id']).toBe(traceId);
      await stream.next((e) => e.event === 'snapshot', 'the first snapshot');
      // The stream is open: its span is not finished yet.
      expect(
        exporter
          .getFinishedSpans()
          .filter(
            (s) =>
              s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER && s.name.startsWith('HTTP'),
          ),
      ).toEqual([]);
    } finally {
      stream.close();
    }
    const span = await eventually(() => {
      const found = exporter
        .getFinishedSpans()
        .find((s) => s.spanContext().traceId === traceId && s.name.startsWith('HTTP'));
      expect(found).toBeDefined();
      return found!;
    });
    expect(span.name).toBe('HTTP GET /api/shows/:showId/events');
    expect(span.attributes['http.response.status_code']).toBe(200);
  });
});

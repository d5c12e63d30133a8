import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { setupTracing } from '../../common/tracing';
import type { Tracing } from '../../common/tracing';
import { BookingGroup, eventually, registerUser, retryUnavailable } from './booking-group';
import { call, makeShow } from './harness';

/*
 * Replication in a request's trace, on a real three-node group: a hold sent to a SLAVE with a
 * caller's traceparent is forwarded to the master, and every node's part of it is a span of the
 * caller's trace — the master's wait for the majority, and on each slave the entry stored and the
 * entry applied, children of the master's handler span. The group's own entries (a term start)
 * make none of these spans.
 */

const SHOW = 'trace-show';
const show = makeShow(SHOW, 6, []);
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let group: BookingGroup;

beforeAll(async () => {
  tracing = setupTracing({ service: 'replication-tracing-test', exporter });
  group = await new BookingGroup({
    label: 'btrace',
    shows: [show],
    env: { MARQUEE_ACK_POLICY: 'majority' },
  }).start();
});

afterAll(async () => {
  await group?.stop();
  await tracing?.shutdown();
});

const ofTrace = (traceId: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const replicationSpans = (): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.name.startsWith('replication.'));
const nodeOf = (span: ReadableSpan): unknown => span.attributes['marquee.node_id'];

describe('tracing through replication', () => {
  let token = '';

  it('records no replication spans for the group’s own entries (the term start)', async () => {
    await eventually(() => expect(group.writers()).toEqual([3]));
    // Every slave has the term-start entry: any span it would make has been made by now.
    await eventually(async () => {
      for (const id of [1, 2]) expect((await group.status(id)).appliedIndex).toBeGreaterThanOrEqual(1);
    });
    expect(replicationSpans()).toEqual([]);
  });

  it('puts the master’s wait and each slave’s store and apply of a forwarded write into the caller’s trace', async () => {
    const session = await registerUser(group.member(3), 'tracer');
    token = session.token;
    exporter.reset();
    const { booking } = group.member(1); // a slave: the hold is forwarded to the master
    const hold = await retryUnavailable(() =>
      call(
        booking.holdSeats.bind(booking),
        { showId: SHOW, seatIds: ['ORCH-A-1'], ga: [], idempotencyKey: 'trace-hold-key' },
        token,
        { traceparent: TRACEPARENT },
      ),
    );
    expect(hold.id).not.toBe('');

    // Each slave stores and applies every entry the hold made (the show's seats, the hold).
    const spans = await eventually(() => {
      const found = ofTrace(TRACE_ID);
      for (const id of [1, 2]) {
        const stored = indexesOf(found, 'replication.store', id);
        expect(stored.length).toBeGreaterThan(0);
        expect(indexesOf(found, 'replication.apply', id)).toEqual(stored);
        expect(opsOf(found, id)).toContain('booking.hold.created');
      }
      return found;
    });
    // The master waited for the majority once per entry (the show's seats, the hold), inside the
    // handler span of the call node 1 forwarded; that span is also every slave span's parent.
    const acknowledges = spans.filter((s) => s.name === 'replication.acknowledge');
    expect(acknowledges.length).toBeGreaterThan(0);
    expect(new Set(acknowledges.map(nodeOf))).toEqual(new Set([3]));
    const masterHandler = spans.find(
      (s) => s.spanContext().spanId === acknowledges[0]!.parentSpanContext?.spanId,
    );
    expect(masterHandler?.kind).toBe(SpanKind.SERVER);
    expect(masterHandler?.name).toBe('marquee.booking.v1.BookingService/HoldSeats');
    for (const span of acknowledges)
      expect(span.parentSpanContext?.spanId).toBe(masterHandler!.spanContext().spanId);
    const slaveSpans = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    for (const span of slaveSpans) {
      expect(span.parentSpanContext?.spanId).toBe(masterHandler!.spanContext().spanId);
      expect(span.status.code).not.toBe(2); // not ERROR
    }
    // A slave stores an entry before it applies it.
    for (const stored of slaveSpans.filter((s) => s.name === 'replication.store')) {
      const applied = slaveSpans.find(
        (s) =>
          s.name === 'replication.apply' &&
          nodeOf(s) === nodeOf(stored) &&
          s.attributes['marquee.log_index'] === stored.attributes['marquee.log_index'],
      )!;
      expect(compareTime(stored.endTime, applied.endTime)).toBeLessThanOrEqual(0);
    }
  });
});

function indexesOf(spans: readonly ReadableSpan[], name: string, nodeId: number): number[] {
  return spans
    .filter((s) => s.name === name && nodeOf(s) === nodeId)
    .map((s) => Number(s.attributes['marquee.log_index']))
    .sort((a, b) => a - b);
}

function opsOf(spans: readonly ReadableSpan[], nodeId: number): unknown[] {
  return spans
    .filter((s) => s.kind === SpanKind.CONSUMER && nodeOf(s) === nodeId)
    .map((s) => s.attributes['marquee.op']);
}

function compareTime(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

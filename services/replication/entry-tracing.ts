import { context, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { SpanKind, contextFromTraceParent, endSpan, isTraced, startSpan } from '../common/tracing';
import type { LogEntry, NodeId } from './types';

/*
 * Replication in a request's trace. One Append carries the entries of many requests, so the call
 * itself belongs to none of them; instead each entry keeps the traceparent of the request that made
 * it (the master's handler span), and every slave records, per entry, two spans of that request:
 *   replication.store — from the Append's arrival until the entry is durable in this node's log
 *                       (what the master's majority waits for);
 *   replication.apply — from the start of the apply transaction until it committed (from then on
 *                       this node's reads show the change).
 * The master records replication.acknowledge: its wait for the ack policy. Entries made outside a
 * traced request (hold expiries, term starts) make no spans.
 */

export type EntryStage = 'store' | 'apply';

export interface EntrySpan {
  readonly span: Span;
  /** The entry's request context with this span active: work run in it logs the trace id. */
  readonly context: Context;
}

/** Starts `entry`'s span of `stage` on node `nodeId`; undefined when the entry was made untraced. */
export function startEntrySpan(
  stage: EntryStage,
  entry: LogEntry,
  nodeId: NodeId,
  startTime?: number,
): EntrySpan | undefined {
  if (entry.traceParent === undefined) return undefined;
  const parent = contextFromTraceParent(entry.traceParent);
  if (!isTraced(parent)) return undefined;
  const span = startSpan(`replication.${stage}`, SpanKind.CONSUMER, parent, {
    ...(startTime === undefined ? {} : { startTime }),
    attributes: {
      'marquee.node_id': nodeId,
      'marquee.log_index': entry.index,
      'marquee.term': entry.term,
      'marquee.op': entry.op,
    },
  });
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Ends every span, marked failed with `error` when the work they cover failed; at `endTime` (epoch
 * ms) when given: the store and apply spans of one Append end at its one COMMIT.
 */
export function endEntrySpans(spans: readonly EntrySpan[], error?: unknown, endTime?: number): void {
  for (const { span } of spans) endSpan(span, error, {}, endTime);
}

/** Runs `work` inside `entrySpan`'s context when there is one (its log lines carry the trace id). */
export function inEntrySpan<T>(entrySpan: EntrySpan | undefined, work: () => T): T {
  return entrySpan === undefined ? work() : context.with(entrySpan.context, work);
}

/**
 * Runs `wait` (the master waiting for the ack policy on `index`) as span replication.acknowledge of
 * the active request; untraced outside one.
 */
export async function traceAcknowledge<T>(index: number, nodeId: NodeId, wait: () => Promise<T>): Promise<T> {
  const parent = context.active();
  if (!isTraced(parent)) return wait();
  const span = startSpan('replication.acknowledge', SpanKind.INTERNAL, parent, {
    attributes: { 'marquee.node_id': nodeId, 'marquee.log_index': index },
  });
  try {
    const result = await wait();
    endSpan(span);
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

import { trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SpanKind, contextFromHeaders, endSpan, startSpan, withSpan } from '../common/tracing';

/*
 * Each HTTP request is a SERVER span that continues the caller's trace (a browser or nginx sends
 * `traceparent`) and is active while the route runs, so the gRPC calls the route makes are its
 * children and the lines it logs carry its trace id. The trace id goes back as `X-Trace-Id`: a person
 * reporting an error can quote it, and `npm run logs -- --trace <id>` finds every line of it.
 *
 * Event streams and imports take the response over (hijack): fastify's onResponse never runs for a
 * stream the client closed, so the span also ends when the connection closes — a stream's span lasts
 * as long as the stream. The header is set on the raw response, which a hijacked route writes itself.
 */
export function registerTracing(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  const finish = (request: FastifyRequest, reply: FastifyReply): void => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    // The route's pattern, never the raw URL: ids and tokens stay out of span names.
    const route = request.routeOptions.url ?? 'unknown route';
    span.updateName(`HTTP ${request.method} ${route}`);
    endSpan(span, reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined, {
      'http.request.method': request.method,
      'http.route': route,
      'http.response.status_code': reply.statusCode,
    });
  };
  app.addHook('onRequest', (request, reply, done) => {
    const parent = contextFromHeaders(request.headers);
    const span = startSpan(`HTTP ${request.method}`, SpanKind.SERVER, parent);
    spans.set(request, span);
    const ids = span.spanContext();
    if (trace.isSpanContextValid(ids)) reply.raw.setHeader('x-trace-id', ids.traceId);
    reply.raw.once('close', () => finish(request, reply));
    withSpan(span, parent, done);
  });
  app.addHook('onResponse', async (request, reply) => finish(request, reply));
}

import { trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SpanKind, contextFromHeaders, endSpan, startSpan, withSpan } from '../common/tracing';

/*
 * Each HTTP request is a SERVER span that continues the caller's trace (a browser or nginx sends
 * `traceparent`) and is active while the route runs, so the gRPC calls the route makes are its
 * children and the lines it logs carry its trace id. The trace id goes back as `X-Trace-Id`: a person
 * reporting an error can quote it, and `npm run logs -- --trace <id>` finds every line of it.
 */
export function registerTracing(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, reply, done) => {
    const parent = contextFromHeaders(request.headers);
    const span = startSpan(`HTTP ${request.method}`, SpanKind.SERVER, parent);
    spans.set(request, span);
    const ids = span.spanContext();
    if (trace.isSpanContextValid(ids)) void reply.header('x-trace-id', ids.traceId);
    withSpan(span, parent, done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    // The route's pattern, never the raw URL: ids and tokens stay out of span names.
    const route = request.routeOptions.url ?? 'unknown route';
    span.updateName(`HTTP ${request.method} ${route}`);
    endSpan(span, reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined, {
      'http.request.method': request.method,
      'http.route': route,
      'http.response.status_code': reply.statusCode,
    });
  });
}

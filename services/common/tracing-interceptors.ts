import { InterceptingCall, status as Code } from '@grpc/grpc-js';
import type { Interceptor, StatusObject } from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { SpanKind, belongsToRequests, endSpan, injectIntoMetadata, isTraced, startSpan } from './tracing';

/*
 * Outgoing gRPC calls: a CLIENT span per call, child of whatever span is active where the call is
 * made (a gateway request, a server handler, a forwarded write), and its `traceparent` in the
 * request metadata so the server's span continues the same trace. With tracing not set up the API
 * is a no-op and this only copies an empty context.
 */
export function tracingClientInterceptor(): Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path;
    const parent = context.active();
    // Calls made outside a traced request (heartbeats, replication loops, probes) stay untraced,
    // and so do election messages wherever they are sent from.
    if (!isTraced(parent) || !belongsToRequests(method)) return new InterceptingCall(nextCall(options));
    const span = startSpan(method.replace(/^\//, ''), SpanKind.CLIENT, parent);
    return new InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) => {
        // A copy: the caller may reuse one Metadata for several calls. The callee's parent is this
        // call's span.
        const outgoing = metadata.clone();
        injectIntoMetadata(outgoing, trace.setSpan(parent, span));
        next(outgoing, {
          onReceiveStatus: (status: StatusObject, nextStatus: (status: StatusObject) => void) => {
            endSpan(span, status.code === Code.OK ? undefined : new Error(status.details), {
              'rpc.system': 'grpc',
              'rpc.grpc.status_code': status.code,
            });
            nextStatus(status);
          },
        });
      },
    });
  };
}

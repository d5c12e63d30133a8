import { InterceptingCall, Metadata, ServerInterceptingCall, status as Code } from '@grpc/grpc-js';
import type {
  Interceptor,
  Listener,
  Responder,
  ServerInterceptingCallInterface,
  ServerInterceptor,
  StatusObject,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { LAMPORT_METADATA_KEY, parseLamportStamp } from './lamport';
import type { LamportClock } from './lamport';

/*
 * The ONE place where Lamport stamps cross the wire (DESIGN: every request and response, errors
 * too, carries x-lamport). Sends tick; receipts receive(). On the client the request is a send and
 * the response headers and trailers are receipts; on the server it is the mirror image. Headers and
 * trailers are stamped separately because a streaming reply can run long between them, and a client
 * that has seen the headers has already learned something.
 *
 * Two rules hold on every path:
 *  - Nothing from the wire can fail a call or crash the process: a missing header (grpcurl, probes)
 *    is skipped, a malformed one is logged and skipped.
 *  - A stamp leaves the process only once the clock says it is durable (see lamport-store.ts); if the
 *    clock cannot persist, the call fails with UNAVAILABLE rather than risk reusing stamps after a restart.
 */

type Where = 'request' | 'response headers' | 'response trailers';

/** Learns the peer's stamp from `metadata`, if it carries a usable one. Never throws. */
function observe(
  clock: LamportClock,
  metadata: Metadata,
  logger: Logger,
  method: string,
  where: Where,
): void {
  const values = metadata.get(LAMPORT_METADATA_KEY);
  // No header: a peer without the interceptor. Nothing causal to learn, so nothing to do.
  if (values.length === 0) return;
  const stamp = values.length === 1 ? parseLamportStamp(values[0]) : undefined;
  if (stamp === undefined) {
    // Cut and quoted, so a hostile header cannot flood or forge log lines.
    logger.warn(
      { method, where, header: values.map((v) => String(v).slice(0, 40)) },
      'ignored a malformed x-lamport header',
    );
    return;
  }
  try {
    clock.receive(stamp);
  } catch (error) {
    // Only reachable with a stamp at the very top of the range: refuse it rather than fail the call.
    logger.warn({ method, where, stamp, err: error }, 'ignored an x-lamport stamp the clock cannot accept');
  }
}

/**
 * Ticks for a send and stamps a copy of `metadata` (the caller may reuse its own, and grpc-js may
 * serialize it later), then calls `send(stamped)` as soon as the stamp is durable: synchronously in
 * the normal case, after the clock's pending reservation otherwise. Calls `fail` with the unstamped
 * copy if it never will be.
 */
function stampForSend(
  clock: LamportClock,
  logger: Logger,
  method: string,
  metadata: Metadata,
  send: (stamped: Metadata) => void,
  fail: (error: unknown, unstamped: Metadata) => void,
): void {
  const outgoing = metadata.clone();
  const stamped = (stamp: number): void => {
    outgoing.set(LAMPORT_METADATA_KEY, String(stamp));
    send(outgoing);
  };
  let stamp: number;
  let gate: Promise<void> | undefined;
  try {
    stamp = clock.tick();
    gate = clock.whenDurable(stamp);
  } catch (error) {
    logger.error({ method, err: error }, 'Lamport clock cannot stamp a send; failing the call');
    fail(error, outgoing);
    return;
  }
  if (gate === undefined) {
    stamped(stamp);
    return;
  }
  gate
    .then(
      () => stamped(stamp),
      (error: unknown) => {
        logger.error({ method, err: error }, 'Lamport stamp could not be made durable; failing the call');
        fail(error, outgoing);
      },
    )
    // send/fail hand over to grpc-js; should it throw, log it instead of an unhandled rejection.
    .catch((error: unknown) =>
      logger.error({ method, err: error }, 'Lamport interceptor failed after waiting for the clock'),
    );
}

function unavailable(error: unknown): string {
  return `local Lamport clock unavailable: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Client side, for `new SomeClient(address, credentials, { interceptors: [lamportClientInterceptor(clock, logger)] })`.
 * Put it LAST in the list, nearest the network, so every attempt an outer retry interceptor makes is
 * stamped as its own send.
 */
export function lamportClientInterceptor(clock: LamportClock, logger: Logger): Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path;
    const inner = nextCall(options);
    return new InterceptingCall(inner, {
      start: (metadata, listener, next) => {
        const observing: Listener = {
          onReceiveMetadata: (headers, nextHeaders) => {
            observe(clock, headers, logger, method, 'response headers');
            nextHeaders(headers);
          },
          // Every status passes here: OK, server errors (trailers-only responses included) and local
          // failures such as DEADLINE_EXCEEDED, which carry no stamp and are skipped by observe().
          onReceiveStatus: (status, nextStatus) => {
            observe(clock, status.metadata, logger, method, 'response trailers');
            nextStatus(status);
          },
        };
        stampForSend(
          clock,
          logger,
          method,
          metadata,
          (stamped) => next(stamped, observing),
          (error) => {
            // The request never starts, so no unstamped request can reach a server and act. Ending
            // the inner call releases its deadline timer and the channel's call count.
            inner.cancelWithStatus(Code.UNAVAILABLE, unavailable(error));
            const status: StatusObject = {
              code: Code.UNAVAILABLE,
              details: unavailable(error),
              metadata: new Metadata(),
            };
            listener.onReceiveStatus(status);
          },
        );
      },
    });
  };
}

type PartialStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * Server side. Put it first among the server's interceptors that may set a status: grpc-js makes
 * the first in the list the one nearest the network, so statuses produced by later ones (an auth
 * check) pass through it and are stamped. Only watchers (metrics) belong nearer the network.
 *
 * An answer and its status leave together (DESIGN, Liveness): a reply whose message has gone out
 * but whose status has not looks, to a client whose server dies in between, like a reset stream
 * (INTERNAL), though the write committed. So nothing here may wait on I/O between the two:
 *  - a single-message reply (unary, client-streaming) is held whole: headers, message and status are
 *    stamped at the status, the clock's durable write (if one is needed) is awaited before anything
 *    leaves, and then all three are handed to the transport back to back, synchronously;
 *  - a streaming reply cannot be held, so before each message leaves the durable mark is pushed
 *    STREAM_HEADROOM stamps past the clock; the status's stamp is then already durable unless the
 *    clock jumped further than that in between (a far-ahead peer), the one case where it still waits.
 */
export function lamportServerInterceptor(clock: LamportClock, logger: Logger): ServerInterceptor {
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path;
    const observing: Responder = {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            observe(clock, metadata, logger, method, 'request');
            nextMetadata(metadata);
          },
        });
      },
    };
    return methodDescriptor.responseStream
      ? streamingReply(call, observing, clock, logger, method)
      : new WholeReply(call, observing, clock, logger, method);
  };
}

/** Stamps the status a server is about to send; `fail` gets UNAVAILABLE instead when the stamp cannot be made durable. */
function stampStatus(
  clock: LamportClock,
  logger: Logger,
  method: string,
  status: PartialStatus,
  send: (status: PartialStatus) => void,
  fail: (status: PartialStatus) => void = send,
): void {
  stampForSend(
    clock,
    logger,
    method,
    // grpc-js accepts statuses without metadata (a bare callback({ code, details })).
    status.metadata ?? new Metadata(),
    (stamped) => send({ ...status, metadata: stamped }),
    (error, unstamped) => fail({ code: Code.UNAVAILABLE, details: unavailable(error), metadata: unstamped }),
  );
}

/**
 * A reply of one message: nothing goes on until the status, then everything at once. The handler's
 * message callback is called at once, as grpc-js's unary path sends the status from inside it.
 */
class WholeReply extends ServerInterceptingCall {
  private headers: Metadata | undefined;
  private message: { value: unknown } | undefined;
  private ended = false;

  constructor(
    next: ServerInterceptingCallInterface,
    responder: Responder,
    private readonly clock: LamportClock,
    private readonly logger: Logger,
    private readonly method: string,
  ) {
    super(next, responder);
  }

  override sendMetadata(metadata: Metadata): void {
    // grpc-js ignores all but the first headers; so does this.
    this.headers ??= metadata.clone();
  }

  override sendMessage(message: unknown, callback: () => void): void {
    this.message = { value: message };
    callback();
  }

  override sendStatus(status: PartialStatus): void {
    if (this.ended) return;
    this.ended = true;
    const headers = this.headers ?? (this.message ? new Metadata() : undefined);
    let headerStamp: number | undefined;
    try {
      // Two sends, two ticks: headers before trailers, as on the wire.
      if (headers) headerStamp = this.clock.tick();
    } catch (error) {
      this.logger.error(
        { method: this.method, err: error },
        'Lamport clock cannot stamp a send; failing the call',
      );
      super.sendStatus({ code: Code.UNAVAILABLE, details: unavailable(error), metadata: new Metadata() });
      return;
    }
    // The trailers' stamp is the higher one, so its durability covers the headers' too.
    stampStatus(
      this.clock,
      this.logger,
      this.method,
      status,
      (stamped) => {
        if (headers && headerStamp !== undefined) {
          headers.set(LAMPORT_METADATA_KEY, String(headerStamp));
          super.sendMetadata(headers);
        }
        // The base call reports a failed write through its own status; nothing to do when it completes.
        if (this.message) super.sendMessage(this.message.value, () => undefined);
        super.sendStatus(stamped);
      },
      // Nothing has left yet, so the whole reply becomes the failure: no unstamped answer goes out.
      (failure) => super.sendStatus(failure),
    );
  }
}

/** How far past the clock a streaming reply's messages push the durable mark (see above). */
const STREAM_HEADROOM = 256;

function streamingReply(
  next: ServerInterceptingCallInterface,
  observing: Responder,
  clock: LamportClock,
  logger: Logger,
  method: string,
): ServerInterceptingCall {
  return new ServerInterceptingCall(next, {
    ...observing,
    sendMetadata: (metadata, nextMetadata) =>
      stampForSend(
        clock,
        logger,
        method,
        metadata,
        nextMetadata,
        // Headers cannot carry a status; the trailers will fail the call (sendStatus below).
        (_error, unstamped) => nextMetadata(unstamped),
      ),
    sendMessage: (message, nextMessage) => {
      const gate = clock.whenDurable(Math.min(clock.now() + STREAM_HEADROOM, Number.MAX_SAFE_INTEGER - 1));
      if (gate === undefined) {
        nextMessage(message);
        return;
      }
      gate.then(
        () => nextMessage(message),
        (error: unknown) => {
          // The message carries no stamp, so it may still go; the status will fail the call closed.
          logger.error(
            { method, err: error },
            'Lamport headroom for a streamed message could not be persisted',
          );
          nextMessage(message);
        },
      );
    },
    sendStatus: (status, nextStatus) => stampStatus(clock, logger, method, status, nextStatus),
  });
}

/** What to spread into `new Server({...})`: `new Server({ ...options, ...lamportServerOptions(clock, logger) })`. */
export function lamportServerOptions(
  clock: LamportClock,
  logger: Logger,
): { interceptors: ServerInterceptor[] } {
  return { interceptors: [lamportServerInterceptor(clock, logger)] };
}

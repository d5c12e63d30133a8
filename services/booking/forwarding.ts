import { credentials } from '@grpc/grpc-js';
import type { CallOptions, ClientUnaryCall, ServiceError, Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AccountServiceClient, BookingServiceClient } from '../../proto/gen/marquee/booking/v1/booking';
import type { AccountServiceServer, BookingServiceServer } from '../../proto/gen/marquee/booking/v1/booking';
import { DomainError, UnavailableError } from '../common/errors';
import { grpcClientOptions } from '../common/grpc-client';
import type { AsyncHandlers, CallContext } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import { PEER_AUTH_METADATA_KEY, requirePeer } from '../common/peer-auth';
import type { ClusterSecret } from '../common/peer-auth';
import { LAMPORT_METADATA_KEY } from '../common/lamport';
import type { BookingCluster } from './cluster';
import { MasterOnlyError } from './replication';

/*
 * Any node accepts any call (DESIGN "Booking group"): in cluster mode a call this node cannot serve
 * is proxied to the master with the same request, the caller's headers and its remaining deadline,
 * and the master's answer (or gRPC error) goes back unchanged. Validation, authentication and
 * idempotency all happen on the master, so a forwarded call behaves exactly like one sent there.
 */

/** Carried by a forwarded call: a node that is not the master refuses it instead of forwarding again. */
export const FORWARDED_BY_HEADER = 'x-marquee-forwarded-by';

/** A forwarded call without a deadline of its own gets this one. */
export const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;

/**
 * write: changes state, so only the master may run it.
 * current read: must see the caller's own writes, which only the master is sure to hold.
 * local read: browsing data, served by whichever node got the call.
 */
export type Route = 'write' | 'current read' | 'local read';

type Routes<S> = { readonly [K in keyof AsyncHandlers<S>]: Route };

/**
 * Every RPC, once (the types make a new RPC fail to compile until it is listed here).
 * Availability (the seat map) is read locally: it may lag the master by a heartbeat, which browsing
 * tolerates, and every decision that can oversell is made on the master by HoldSeats anyway. A local
 * read that fails with MasterOnlyError (its show is not materialised on this slave yet) goes to the
 * master as a write would: only the master may materialise it.
 */
export const ROUTES = {
  AccountService: {
    register: 'write',
    login: 'current read', // an account registered a moment ago may not have reached this node yet
    whoAmI: 'current read', // same: a fresh token's account may not be here yet
  },
  BookingService: {
    getAvailability: 'local read',
    holdSeats: 'write',
    releaseHold: 'write',
    confirmBooking: 'write',
    cancelBooking: 'write',
    getBooking: 'current read', // read-your-writes: the booking just confirmed through the master
    listMyBookings: 'current read',
  },
} as const satisfies {
  AccountService: Routes<AccountServiceServer>;
  BookingService: Routes<BookingServiceServer>;
};

export type ServiceName = keyof typeof ROUTES;

/** What the decision needs to know about the group, read once per call. */
export interface GroupView {
  readonly nodeId: number;
  readonly canServeWrites: boolean;
  readonly masterId: number | undefined;
  /** The master's client address when another node is master and its address is configured. */
  readonly masterAddress: string | undefined;
}

export type Decision =
  | { readonly kind: 'local' }
  | { readonly kind: 'forward'; readonly address: string }
  | { readonly kind: 'refuse'; readonly error: UnavailableError };

/** Where a call goes (pure). `forwardedBy` is the FORWARDED_BY_HEADER value, if the call carries one. */
export function decide(route: Route, group: GroupView, forwardedBy: string | undefined): Decision {
  if (route === 'local read' || group.canServeWrites) return { kind: 'local' };
  const { nodeId, masterId, masterAddress } = group;
  if (forwardedBy === undefined && masterAddress !== undefined)
    return { kind: 'forward', address: masterAddress };
  const details = {
    ...(masterId === undefined ? {} : { masterId: String(masterId) }),
    ...(masterAddress === undefined ? {} : { masterAddress }),
  };
  if (forwardedBy !== undefined)
    // The sender's view of the master was stale; a second hop could chase a moving master in circles.
    return refuse(
      `${notMaster(group)}; this call was forwarded here by node ${forwardedBy} and is not forwarded twice: retry`,
      details,
    );
  if (masterId === undefined || masterId === nodeId)
    return refuse(`${notMaster(group)}; retry shortly`, details);
  return refuse(
    `${notMaster(group)} (its client address is not configured, see MARQUEE_BOOKING_ADDRS, ` +
      'so calls are not forwarded: retry there)',
    details,
  );
}

/** The situation, in the words cluster.ts uses for a refused write. */
function notMaster({ nodeId, masterId, masterAddress }: GroupView): string {
  if (masterId === undefined)
    return `node ${nodeId} is not the master and no master is known yet (election in progress)`;
  if (masterId === nodeId) return `node ${nodeId} is not the master yet (taking over)`;
  return (
    `node ${nodeId} is not the master; the master is node ${masterId}` +
    (masterAddress === undefined ? '' : ` at ${masterAddress}`)
  );
}

function refuse(message: string, details: Record<string, string>): Decision {
  return { kind: 'refuse', error: new UnavailableError(message, details) };
}

/** Headers that belong to the hop, not to the call: the transport and the Lamport interceptor set them. */
const HOP_HEADERS = new Set([
  'user-agent',
  'host',
  LAMPORT_METADATA_KEY,
  FORWARDED_BY_HEADER,
  PEER_AUTH_METADATA_KEY,
]);

/**
 * The caller's metadata (authorization, idempotency-key, ...) for the forwarded call, marked as
 * forwarded and carrying this node's cluster credential (a peer call: only peers may say "forwarded").
 */
export function forwardedMetadata(incoming: Metadata, nodeId: number, secret: ClusterSecret): Metadata {
  const outgoing = secret.metadata();
  for (const [key, values] of Object.entries(incoming.toJSON())) {
    if (HOP_HEADERS.has(key) || key.startsWith('grpc-')) continue;
    for (const value of values) outgoing.add(key, value);
  }
  outgoing.set(FORWARDED_BY_HEADER, String(nodeId));
  return outgoing;
}

type Callback = (error: ServiceError | null, response: unknown) => void;
type AnyUnary = (
  request: unknown,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: Callback,
) => ClientUnaryCall;

interface MasterClients {
  readonly address: string;
  readonly AccountService: AccountServiceClient;
  readonly BookingService: BookingServiceClient;
}

export interface ForwarderOptions {
  nodeId: number;
  cluster: Pick<BookingCluster, 'canServeWrites' | 'masterClientAddress' | 'status'>;
  /** Sent with every forwarded call and required of every call that says it was forwarded. */
  secret: ClusterSecret;
  lamport: LamportClock;
  logger: Logger;
}

/** Wraps handler maps so calls this node cannot serve go to the master. One client per master address. */
export class Forwarder {
  private clients: MasterClients | undefined;
  private count = 0;
  private stopped = false;

  constructor(private readonly options: ForwarderOptions) {}

  /** Calls forwarded so far (successful or not). */
  get forwarded(): number {
    return this.count;
  }

  wrap<S>(service: ServiceName, handlers: AsyncHandlers<S>): AsyncHandlers<S> {
    const routes: Readonly<Record<string, Route>> = ROUTES[service];
    const local = handlers as Record<string, (request: unknown, context: CallContext) => Promise<unknown>>;
    const wrapped: typeof local = {};
    for (const [name, handler] of Object.entries(local)) {
      const route = routes[name];
      if (route === undefined) throw new Error(`${service}.${name} has no route in ROUTES`);
      wrapped[name] = (request, context) => {
        const by = forwardedBy(context.metadata);
        // A forwarded call is a peer call: the credential first (refused and logged without it).
        if (by !== undefined)
          requirePeer(context.metadata, this.options.secret, {
            peer: context.peer,
            method: `${service}.${name}`,
            logger: this.options.logger,
          });
        const decision = decide(route, this.view(), by);
        if (decision.kind === 'refuse') return Promise.reject(decision.error);
        if (decision.kind === 'forward')
          return this.forward(service, name, decision.address, request, context);
        return handler(request, context).catch((error: unknown) => {
          // A local read that would have to write first (a show not materialised here): the master's.
          if (!(error instanceof MasterOnlyError)) throw error;
          const fallback = decide('write', this.view(), by);
          if (fallback.kind === 'refuse') throw fallback.error;
          if (fallback.kind === 'forward')
            return this.forward(service, name, fallback.address, request, context);
          return handler(request, context); // this node has become the master meanwhile
        });
      };
    }
    return wrapped as AsyncHandlers<S>;
  }

  /** Closes the clients; call after the server has drained its calls. */
  stop(): void {
    this.stopped = true;
    this.closeClients();
  }

  private view(): GroupView {
    const { cluster, nodeId } = this.options;
    return {
      nodeId,
      canServeWrites: cluster.canServeWrites(),
      masterId: cluster.status().election.masterId,
      masterAddress: cluster.masterClientAddress(),
    };
  }

  private forward(
    service: ServiceName,
    method: string,
    address: string,
    request: unknown,
    context: CallContext,
  ): Promise<unknown> {
    if (this.stopped) return Promise.reject(new UnavailableError('this node is shutting down; retry'));
    const client = this.clientsFor(address)[service] as unknown as Record<string, AnyUnary>;
    const call = client[method];
    if (call === undefined) return Promise.reject(new Error(`${service} client has no method ${method}`));
    this.count += 1;
    const { nodeId, logger } = this.options;
    logger.debug({ service, method, master: address }, 'forwarding a call to the master');
    const inherited = new Date(context.deadline).getTime();
    const deadline = Number.isFinite(inherited) ? inherited : Date.now() + DEFAULT_FORWARD_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      call.call(
        client,
        request,
        forwardedMetadata(context.metadata, nodeId, this.options.secret),
        { deadline },
        (error, response) => (error ? reject(passBack(error, address)) : resolve(response)),
      );
    });
  }

  private clientsFor(address: string): MasterClients {
    if (this.clients?.address === address) return this.clients;
    // A new master: the old one's channel would only keep reconnecting to a node that is not master.
    this.closeClients();
    const { lamport, logger } = this.options;
    const insecure = credentials.createInsecure();
    const options = grpcClientOptions(lamport, logger);
    this.clients = {
      address,
      AccountService: new AccountServiceClient(address, insecure, options),
      BookingService: new BookingServiceClient(address, insecure, options),
    };
    return this.clients;
  }

  private closeClients(): void {
    this.clients?.AccountService.close();
    this.clients?.BookingService.close();
    this.clients = undefined;
  }
}

function forwardedBy(metadata: Metadata): string | undefined {
  const value = metadata.get(FORWARDED_BY_HEADER)[0];
  return value === undefined ? undefined : String(value).slice(0, 20);
}

const DETAIL_PREFIX = 'x-error-';

/**
 * The master's error as a DomainError with the same code, message and x-error-* details, so the one
 * status mapping (toGrpcStatus) sends it on unchanged. An error without the master's Lamport stamp
 * never reached the master (connection refused, deadline): its message says where it failed.
 */
function passBack(error: ServiceError, address: string): DomainError {
  const details: Record<string, string> = {};
  for (const [key, values] of Object.entries(error.metadata?.toJSON() ?? {}))
    if (key.startsWith(DETAIL_PREFIX) && values[0] !== undefined)
      details[key.slice(DETAIL_PREFIX.length)] = String(values[0]);
  const fromMaster = (error.metadata?.get(LAMPORT_METADATA_KEY).length ?? 0) > 0;
  const message = fromMaster
    ? error.details
    : `forwarding to the master at ${address} failed: ${error.details}`;
  return new DomainError(error.code, message, details);
}

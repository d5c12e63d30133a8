import * as grpc from '@grpc/grpc-js';
import { AccountServiceClient, BookingServiceClient } from '../../../proto/gen/marquee/booking/v1/booking';
import type {
  Availability,
  Booking,
  CancelBookingRequest,
  ConfirmBookingRequest,
  Hold,
  HoldSeatsRequest,
  RegisterRequest,
  Session,
} from '../../../proto/gen/marquee/booking/v1/booking';
import type { UnaryMethod } from '../../../services/common/grpc-client';
import { LAMPORT_METADATA_KEY, parseLamportStamp } from '../../../services/common/lamport';
import { FAST_RECONNECT } from './observer';

/*
 * The booking calls the workload makes, addressed per call (the retry picks the node). The gRPC
 * implementation keeps one client per address and reads the server's x-lamport from the response
 * headers so that acknowledged writes land on the timeline with the stamp of the node that made them.
 */

export interface Answer<T> {
  value: T;
  /** The answering node's Lamport stamp (x-lamport of its response headers). */
  lamport?: number;
}

export interface BookingTransport {
  register(address: string, request: RegisterRequest, idempotencyKey: string): Promise<Answer<Session>>;
  availability(address: string, showId: string, token: string): Promise<Answer<Availability>>;
  hold(address: string, request: HoldSeatsRequest, token: string): Promise<Answer<Hold>>;
  confirm(address: string, request: ConfirmBookingRequest, token: string): Promise<Answer<Booking>>;
  cancel(address: string, request: CancelBookingRequest, token: string): Promise<Answer<Booking>>;
  close(): void;
}

export class GrpcBookingTransport implements BookingTransport {
  private readonly booking = new Map<string, BookingServiceClient>();
  private readonly accounts = new Map<string, AccountServiceClient>();

  /** Per attempt: long enough for a write under load, short enough to move on from a paused node. */
  constructor(private readonly timeoutMs = 1500) {}

  register(address: string, request: RegisterRequest, idempotencyKey: string): Promise<Answer<Session>> {
    const client = this.accountsAt(address);
    return this.call(client.register.bind(client), request, { 'idempotency-key': idempotencyKey });
  }

  availability(address: string, showId: string, token: string): Promise<Answer<Availability>> {
    const client = this.bookingAt(address);
    return this.call(client.getAvailability.bind(client), { showId }, bearer(token));
  }

  hold(address: string, request: HoldSeatsRequest, token: string): Promise<Answer<Hold>> {
    const client = this.bookingAt(address);
    return this.call(client.holdSeats.bind(client), request, bearer(token));
  }

  confirm(address: string, request: ConfirmBookingRequest, token: string): Promise<Answer<Booking>> {
    const client = this.bookingAt(address);
    return this.call(client.confirmBooking.bind(client), request, bearer(token));
  }

  cancel(address: string, request: CancelBookingRequest, token: string): Promise<Answer<Booking>> {
    const client = this.bookingAt(address);
    return this.call(client.cancelBooking.bind(client), request, bearer(token));
  }

  close(): void {
    for (const client of [...this.booking.values(), ...this.accounts.values()]) client.close();
    this.booking.clear();
    this.accounts.clear();
  }

  private bookingAt(address: string): BookingServiceClient {
    let client = this.booking.get(address);
    if (!client) {
      client = new BookingServiceClient(address, grpc.credentials.createInsecure(), FAST_RECONNECT);
      this.booking.set(address, client);
    }
    return client;
  }

  private accountsAt(address: string): AccountServiceClient {
    let client = this.accounts.get(address);
    if (!client) {
      client = new AccountServiceClient(address, grpc.credentials.createInsecure(), FAST_RECONNECT);
      this.accounts.set(address, client);
    }
    return client;
  }

  private call<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    headers: Record<string, string>,
  ): Promise<Answer<Res>> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    return new Promise((resolve, reject) => {
      let lamport: number | undefined;
      const call = method(request, metadata, { deadline: Date.now() + this.timeoutMs }, (error, value) =>
        error ? reject(error) : resolve({ value, lamport }),
      );
      // Response headers arrive before the message (and before the callback).
      call.on('metadata', (received: grpc.Metadata) => {
        const value = received.get(LAMPORT_METADATA_KEY)[0];
        lamport = value === undefined ? undefined : parseLamportStamp(value);
      });
    });
  }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

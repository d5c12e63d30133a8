import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Booking, BookingState, ConfirmBookingRequest } from '../../../proto/gen/marquee/booking/v1/booking';
import { freePort } from '../../../scripts/lib/processes';
import { send, startGateway } from './harness';

/*
 * A booking node that commits a payment and then loses the answer: its stream is reset with
 * INTERNAL_ERROR (what nginx does when the node dies mid-answer), so grpc-js reports
 * "INTERNAL: Received RST_STREAM with code 2". The gateway must retry with the same idempotency key
 * and answer the browser with the booking, never 500. A raw HTTP/2 server plays the node, so the
 * client sees exactly the transport error of the issue.
 */

interface FakeNode {
  port: number;
  /** Idempotency keys of the ConfirmBooking calls received, in order. */
  keys: string[];
  close(): Promise<void>;
}

function grpcFrame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, Buffer.from(message)]);
}

async function startFakeNode(resets: number): Promise<FakeNode> {
  const keys: string[] = [];
  const booking = Booking.fromPartial({
    id: 'bk_1',
    holdId: 'hld_1',
    showId: 'shw_1',
    totalCents: 1250,
    currency: 'EUR',
    state: BookingState.BOOKING_STATE_CONFIRMED,
    createdAt: new Date(0).toISOString(),
  });
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    // Our own reset below also surfaces here, as the stream's error: it is the point of the fake.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ERR_HTTP2_STREAM_ERROR') throw error;
    });
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (headers[':path'] !== '/marquee.booking.v1.BookingService/ConfirmBooking') {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
          { endStream: true },
        );
        return;
      }
      const request = ConfirmBookingRequest.decode(Buffer.concat(chunks).subarray(5));
      keys.push(request.idempotencyKey);
      // The first `resets` answers are lost after the commit; the retry gets the first answer.
      if (keys.length <= resets) {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(Booking.encode(booking).finish()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    keys,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };

describe('a checkout whose node reset the stream after committing (INTERNAL: Received RST_STREAM with code 2)', () => {
  it('is retried with the same idempotency key and answered 201 with the booking', async () => {
    const node = await startFakeNode(1);
    const { gateway, port } = await startGateway({
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${await freePort()}`,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${node.port}`,
    });
    try {
      const reply = await send(port, {
        method: 'POST',
        url: '/api/holds/hld_1/checkout',
        token: 'any.token',
        headers: { 'idempotency-key': 'checkout-key-1' },
        body: { card },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ id: 'bk_1' });
      expect(node.keys).toEqual(['checkout-key-1', 'checkout-key-1']);
    } finally {
      await gateway.stop();
      await node.close();
    }
  });

  it('when the outcome is still unknown at the end of the retry budget, answers 503 (or 504) naming the key to retry with, not 500', async () => {
    const node = await startFakeNode(Infinity);
    const { gateway, port } = await startGateway({
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${await freePort()}`,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${node.port}`,
      MARQUEE_GATEWAY_RETRY_MS: '1000',
    });
    try {
      const reply = await send(port, {
        method: 'POST',
        url: '/api/holds/hld_1/checkout',
        token: 'any.token',
        body: { card },
      });
      // 504 when the last attempt, cut to what was left of the budget, ran out of time instead.
      expect([503, 504]).toContain(reply.status);
      if (reply.status === 503)
        expect(JSON.stringify(reply.body)).toContain('retry with the same Idempotency-Key');
      const key = reply.headers['idempotency-key'];
      expect(key).toMatch(/^gw-/);
      expect(new Set(node.keys)).toEqual(new Set([key]));
    } finally {
      await gateway.stop();
      await node.close();
    }
  });
});

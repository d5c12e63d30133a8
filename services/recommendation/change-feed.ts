import { Metadata, credentials, status as Code } from '@grpc/grpc-js';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BookingChangeServiceClient } from '../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange } from '../../proto/gen/marquee/booking/v1/booking';
import { isGrpcError } from '../common/errors';
import { FeedAssembler, FeedProtocolError, coalesce } from './feed-batches';
import type { FeedBatch } from './feed-batches';

/*
 * Follows the booking group's change stream (BookingChangeService.StreamChanges) from the position
 * the consumer has stored, across failovers: when the node it reads from fails or stops, it resumes
 * on the next node from the last position it handed over. Every node serves the same committed log,
 * so nothing is missed or seen twice (feed-batches.ts has the position rule).
 *
 * Batches go to `apply` one at a time, in order; while `apply` works, arriving changes queue and are
 * folded into the next batch. A slow consumer pauses the stream rather than buffering without end.
 */

export interface ChangeFeedOptions {
  /** Booking nodes' client addresses, tried in turn. */
  addresses: readonly string[];
  /** The authorization for the stream (an admin token: the changes name users). */
  token: () => string;
  /** The position stored by the consumer: the stream starts after it. */
  position: number;
  /** Stores a batch; the feed's position moves to the batch's only once this resolves. */
  apply: (batch: FeedBatch) => Promise<void>;
  logger: Logger;
  /** Wait before trying the next node after a failure (default 250 ms; 0 for the first retry). */
  retryMs?: number;
  /** Queue length at which the stream is paused (default 2000 batches). */
  highWater?: number;
}

export interface ChangeFeedStatus {
  position: number;
  address: string | undefined;
  connected: boolean;
  switches: number;
  applied: number;
  lastError: string | undefined;
}

export class ChangeFeed {
  private position: number;
  private readonly clients: BookingChangeServiceClient[];
  private nodeIndex = 0;
  private stream: ClientReadableStream<BookingChange> | undefined;
  private stopped = false;
  private queue: FeedBatch[] = [];
  private draining: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly counters = {
    switches: 0,
    applied: 0,
    connected: false,
    lastError: undefined as string | undefined,
  };
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ChangeFeedOptions) {
    if (options.addresses.length === 0) throw new Error('ChangeFeed needs at least one booking node address');
    this.position = options.position;
    this.clients = options.addresses.map(
      (address) =>
        new BookingChangeServiceClient(address, credentials.createInsecure(), {
          'grpc.initial_reconnect_backoff_ms': 100,
          'grpc.max_reconnect_backoff_ms': 1000,
        }),
    );
  }

  status(): ChangeFeedStatus {
    return {
      position: this.position,
      address: this.options.addresses[this.nodeIndex],
      connected: this.counters.connected,
      switches: this.counters.switches,
      applied: this.counters.applied,
      lastError: this.counters.lastError,
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.cancel();
    this.wake?.();
    await this.loop;
    await this.draining;
    for (const client of this.clients) client.close();
  }

  /** One stream after another, moving to the next node after each failure, until stopped. */
  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const outcome = await this.follow(this.clients[this.nodeIndex]!);
      // Hand over what was received before resuming: the next stream starts after it.
      await this.draining;
      if (this.stopped) break;
      if (outcome !== 'ended') {
        this.counters.lastError = outcome;
        failures += 1;
        this.options.logger.info(
          { address: this.options.addresses[this.nodeIndex], err: outcome, position: this.position },
          'change stream lost; resuming on the next booking node',
        );
      }
      this.nodeIndex = (this.nodeIndex + 1) % this.clients.length;
      this.counters.switches += 1;
      // After a full round of failures, wait a little (an election, every node restarting).
      const wait = failures % this.clients.length === 0 ? (this.options.retryMs ?? 250) : 0;
      if (wait > 0)
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait);
        });
    }
  }

  /** Reads one stream until it ends or fails; resolves with 'ended' or the failure's description. */
  private follow(client: BookingChangeServiceClient): Promise<string> {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.options.token()}`);
    const assembler = new FeedAssembler(this.lastQueuedPosition());
    const stream = client.streamChanges({ afterPosition: this.lastQueuedPosition() }, metadata);
    this.stream = stream;
    return new Promise<string>((resolve) => {
      let settled = false;
      const finish = (outcome: string): void => {
        if (settled) return;
        settled = true;
        this.counters.connected = false;
        this.stream = undefined;
        resolve(outcome);
      };
      stream.on('metadata', () => (this.counters.connected = true));
      stream.on('data', (change: BookingChange) => {
        this.counters.connected = true;
        let batches: FeedBatch[];
        try {
          batches = assembler.push(change);
        } catch (error) {
          if (!(error instanceof FeedProtocolError)) throw error;
          stream.cancel();
          finish(`protocol: ${error.message}`);
          return;
        }
        if (batches.length === 0) return;
        this.queue.push(...batches);
        if (this.queue.length >= (this.options.highWater ?? 2000)) stream.pause();
        this.drain(stream);
      });
      stream.on('error', (error: Error) => {
        if (isGrpcError(error) && error.code === Code.CANCELLED && this.stopped) finish('ended');
        else finish(isGrpcError(error) ? `${Code[error.code]}: ${error.details}` : error.message);
      });
      stream.on('end', () => finish('ended'));
    });
  }

  /** The position the next stream starts after: the last batch received (applied or queued). */
  private lastQueuedPosition(): number {
    return this.queue.at(-1)?.position ?? this.position;
  }

  /** Applies queued batches one at a time (folded together), resuming a paused stream as it empties. */
  private drain(stream: ClientReadableStream<BookingChange>): void {
    if (this.draining) return;
    this.draining = (async () => {
      while (this.queue.length > 0) {
        const batches = coalesce(this.queue.splice(0));
        for (const batch of batches) {
          try {
            await this.options.apply(batch);
          } catch (error) {
            // Not applied: the position stays, the stream is dropped and read again from there.
            this.options.logger.error(
              { err: error, position: this.position },
              'applying booking changes failed',
            );
            this.queue = [];
            stream.cancel();
            return;
          }
          this.position = batch.position;
          this.counters.applied += batch.kind === 'reset' ? batch.bookings.length : batch.changes.length;
        }
        if (stream.isPaused()) stream.resume();
      }
    })().finally(() => {
      this.draining = undefined;
    });
  }
}

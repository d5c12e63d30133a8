import { credentials } from '@grpc/grpc-js';
import type {
  ClientReadableStream,
  Metadata,
  ServerReadableStream,
  ServerWritableStream,
  ServiceDefinition,
  ServiceError,
  sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ReplicationServiceClient,
  ReplicationServiceService,
} from '../../proto/gen/marquee/cluster/v1/replication';
import type {
  AppendRequest,
  AppendResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  OfferSnapshotRequest,
  OfferSnapshotResponse,
  ReplicationServiceServer,
  SnapshotChunk as WireSnapshotChunk,
  SnapshotResponse,
} from '../../proto/gen/marquee/cluster/v1/replication';
import { UnavailableError, toGrpcStatus } from '../common/errors';
import { grpcClientOptions } from '../common/grpc-client';
import { adaptService } from '../common/grpc-server';
import type { CallContext, ServiceRegistration } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import { requirePeer } from '../common/peer-auth';
import type { ClusterSecret } from '../common/peer-auth';
import type {
  CatchUpPeer,
  CatchUpSource,
  FetchArgs,
  FetchResult,
  FetchSnapshotArgs,
  SnapshotStreamOptions,
} from './catch-up';
import type { AppendArgs, AppendResult, Follower } from './follower';
import type { ChunkResult, OfferResult, SnapshotInstaller } from './snapshot-install';
import { callEnd, nextWithin, unlessGone, within, writeWithBackpressure } from './snapshot-stream';
import type { NodeId, SnapshotChunk } from './types';
import {
  fromAppendRequest,
  fromAppendResponse,
  fromFetchRequest,
  fromFetchResponse,
  fromFetchSnapshotRequest,
  fromOfferRequest,
  fromOfferResponse,
  fromSnapshotResponse,
  fromWireChunk,
  toAppendRequest,
  toAppendResponse,
  toFetchRequest,
  toFetchResponse,
  toFetchSnapshotRequest,
  toOfferRequest,
  toOfferResponse,
  toSnapshotResponse,
  toWireChunk,
} from './wire';
import type { OfferArgs, SentChunk } from './wire';

export const REPLICATION_SERVICE_NAME = 'marquee.cluster.v1.ReplicationService';

/**
 * The largest message a peer channel or the peer server takes. Snapshots no longer need it (they
 * travel in chunks of about a megabyte: snapshot-source.ts); Append batches do — maxBatch entries of a
 * show's materialisation carry every seat of the show — and a batch that never fits would stall the
 * slave for good.
 */
export const MAX_PEER_MESSAGE_BYTES = 256 * 1024 * 1024;

/** How the master reaches one slave; the replicator sees only this, so it can be faked. */
export interface ReplicationPeer extends CatchUpPeer {
  append(args: AppendArgs, timeoutMs: number): Promise<AppendResult>;
  offerSnapshot(args: OfferArgs, timeoutMs: number): Promise<OfferResult>;
  /** Streams `chunks` to the slave (backpressured; no deadline, only the idle timeout); its answer to the last. */
  installSnapshot(
    sender: { term: number; senderId: NodeId },
    chunks: AsyncIterable<SnapshotChunk>,
    options: SnapshotStreamOptions,
  ): Promise<ChunkResult>;
  close(): void;
}

/** One gRPC channel to one slave, stamped with Lamport clocks and the cluster credential. */
export class GrpcReplicationPeer implements ReplicationPeer {
  private readonly client: ReplicationServiceClient;

  constructor(
    address: string,
    private readonly secret: ClusterSecret,
    clock: LamportClock,
    private readonly logger: Logger,
    /** A restarted slave must not wait out grpc-js's default 120 s reconnect backoff. */
    maxReconnectBackoffMs = 1000,
    maxMessageBytes = MAX_PEER_MESSAGE_BYTES,
  ) {
    this.client = new ReplicationServiceClient(
      address,
      credentials.createInsecure(),
      grpcClientOptions(clock, logger, {
        'grpc.initial_reconnect_backoff_ms': Math.min(100, maxReconnectBackoffMs),
        'grpc.max_reconnect_backoff_ms': maxReconnectBackoffMs,
        'grpc.max_send_message_length': maxMessageBytes,
        'grpc.max_receive_message_length': maxMessageBytes,
      }),
    );
  }

  async append(args: AppendArgs, timeoutMs: number): Promise<AppendResult> {
    const response = await this.call<AppendRequest, AppendResponse>(
      (request, metadata, deadline, done) => this.client.append(request, metadata, { deadline }, done),
      toAppendRequest(args),
      timeoutMs,
    );
    return fromAppendResponse(response);
  }

  async offerSnapshot(args: OfferArgs, timeoutMs: number): Promise<OfferResult> {
    const response = await this.call<OfferSnapshotRequest, OfferSnapshotResponse>(
      (request, metadata, deadline, done) => this.client.offerSnapshot(request, metadata, { deadline }, done),
      toOfferRequest(args),
      timeoutMs,
    );
    return fromOfferResponse(response);
  }

  installSnapshot(
    sender: { term: number; senderId: NodeId },
    chunks: AsyncIterable<SnapshotChunk>,
    options: SnapshotStreamOptions,
  ): Promise<ChunkResult> {
    const { gone, end } = callEnd();
    let answer: { error: ServiceError | null; response: SnapshotResponse } | undefined;
    const call = this.client.installSnapshot(this.secret.metadata(), {}, (error, response) => {
      answer = { error, response };
      end(error ?? new UnavailableError('the slave answered before the last chunk'));
    });
    const outcome = (given: NonNullable<typeof answer>): SnapshotResponse => {
      if (given.error) throw given.error;
      return given.response;
    };
    const abort = (): void => call.cancel();
    options.signal.addEventListener('abort', abort);
    const pump = async (): Promise<SnapshotResponse> => {
      const iterator = chunks[Symbol.asyncIterator]();
      let drained = false;
      try {
        // Reading the next chunk is raced with the call's end: a slave that gave up is noticed even
        // while the sender's database is slow to produce the next batch.
        for (;;) {
          const next = await unlessGone(iterator.next(), gone);
          if (next.done) break;
          await writeWithBackpressure(
            call,
            toWireChunk({ ...sender, chunk: next.value }),
            options.idleMs,
            gone,
          );
        }
        drained = true;
        call.end();
        // The slave answers once the last chunk is installed; that is progress too, so the same bound.
        await within(gone, options.idleMs, 'no answer to the last chunk');
        if (answer === undefined) throw new UnavailableError('snapshot stream ended without an answer');
        return outcome(answer);
      } catch (error) {
        // The slave answered before the end (a newer term, a chunk it refused): that is the outcome.
        if (answer) return outcome(answer);
        call.cancel();
        throw error;
      } finally {
        options.signal.removeEventListener('abort', abort);
        // Hands the read point back (the generator lingers it); it may still be mid-batch, so not awaited.
        if (!drained)
          iterator
            .return?.()
            .catch((error: unknown) =>
              this.logger.warn({ err: error }, 'replication: closing a snapshot reader failed'),
            );
      }
    };
    return pump().then(fromSnapshotResponse);
  }

  async fetch(args: FetchArgs, timeoutMs: number): Promise<FetchResult> {
    const response = await this.call<FetchRequest, FetchResponse>(
      (request, metadata, deadline, done) => this.client.fetch(request, metadata, { deadline }, done),
      toFetchRequest(args),
      timeoutMs,
    );
    return fromFetchResponse(response);
  }

  async *fetchSnapshot(args: FetchSnapshotArgs, options: SnapshotStreamOptions): AsyncGenerator<SentChunk> {
    const call: ClientReadableStream<WireSnapshotChunk> = this.client.fetchSnapshot(
      toFetchSnapshotRequest(args),
      this.secret.metadata(),
      {},
    );
    const abort = (): void => call.cancel();
    options.signal.addEventListener('abort', abort);
    const iterator = (call as AsyncIterable<WireSnapshotChunk>)[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        // Reading one message at a time leaves the rest to HTTP/2 flow control: the source waits for us.
        const next = await nextWithin(iterator, options.idleMs, 'no chunk from the catch-up source');
        if (next.done) break;
        yield fromWireChunk(next.value);
      }
      finished = true;
    } finally {
      options.signal.removeEventListener('abort', abort);
      if (!finished) call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }

  private call<Req, Res>(
    method: (
      request: Req,
      metadata: Metadata,
      deadline: number,
      done: (error: ServiceError | null, response: Res) => void,
    ) => void,
    request: Req,
    timeoutMs: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method(request, this.secret.metadata(), Date.now() + timeoutMs, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }
}

/**
 * The slave side of ReplicationService, ready for startGrpcServer: authenticate first (an
 * unauthenticated caller learns nothing and changes nothing), then validate, then hand to the follower
 * (entries), the installer (snapshots) or the catch-up source.
 */
export function replicationService(options: {
  readonly nodeId: NodeId;
  readonly follower: Follower;
  readonly installer: SnapshotInstaller;
  readonly source: CatchUpSource;
  readonly secret: ClusterSecret;
  readonly logger: Logger;
  /** A snapshot stream without a chunk (or a drain) for this long is ended; the sender resumes. */
  readonly snapshotIdleMs: number;
}): ServiceRegistration {
  const { follower, installer, source, secret, logger, snapshotIdleMs } = options;
  const authorize = (context: CallContext, method: string) =>
    requirePeer(context.metadata, secret, { peer: context.peer, method, logger });
  const { installSnapshot, fetchSnapshot, ...unary } = ReplicationServiceService;
  const adapted = adaptService<ReplicationServiceServer>(
    unary as unknown as ServiceDefinition,
    {
      append: async (request, context) => {
        authorize(context, ReplicationServiceService.append.path);
        return toAppendResponse(await follower.append(fromAppendRequest(request)));
      },
      offerSnapshot: async (request, context) => {
        authorize(context, ReplicationServiceService.offerSnapshot.path);
        const offer = fromOfferRequest(request);
        return toOfferResponse(await installer.offer(offer.term, offer.leaderId, offer));
      },
      fetch: async (request, context) => {
        authorize(context, ReplicationServiceService.fetch.path);
        return toFetchResponse(await source.fetch(fromFetchRequest(request)));
      },
    },
    logger,
  );
  const context = (
    call: ServerReadableStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  ) => ({
    metadata: call.metadata,
    peer: call.getPeer(),
    deadline: call.getDeadline(),
  });

  /** Client streaming: store each chunk before reading the next (the master waits on flow control). */
  const install = (
    call: ServerReadableStream<WireSnapshotChunk, SnapshotResponse>,
    callback: sendUnaryData<SnapshotResponse>,
  ): void => {
    const run = async (): Promise<SnapshotResponse> => {
      authorize(context(call), installSnapshot.path);
      const iterator = (call as AsyncIterable<WireSnapshotChunk>)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await nextWithin(iterator, snapshotIdleMs, 'no chunk from the master');
          if (next.done) throw new UnavailableError('the snapshot stream ended before its last chunk');
          const { term, senderId, chunk } = fromWireChunk(next.value);
          const result = await installer.accept(term, senderId, chunk);
          if (!result.success || chunk.done) return toSnapshotResponse(result);
        }
      } finally {
        // Not awaited: after an idle timeout a read is still pending, and the stream's return waits
        // for it; the answer (our error status) must go now, and it ends the call for both sides.
        iterator
          .return?.()
          .catch((error: unknown) =>
            logger.debug({ err: error }, 'replication: closing a snapshot stream we stopped reading'),
          );
      }
    };
    let cancelled = false;
    call.on('cancelled', () => (cancelled = true));
    run().then(
      (response) => callback(null, response),
      (error: unknown) => {
        // A master that cancels (its term ended, it gave up) breaks our read with a stream error; what
        // is staged stays for its resume, and nobody is left to answer.
        const gone = cancelled || (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
        const failure = gone ? new UnavailableError('the master cancelled the snapshot stream') : error;
        logger.info({ err: failure }, 'replication: a snapshot stream from the master stopped');
        callback(toGrpcStatus(failure, logger), null);
      },
    );
  };

  /** Server streaming: chunks from a read point, each written only when the puller has room. */
  const fetch = (call: ServerWritableStream<FetchSnapshotRequest, WireSnapshotChunk>): void => {
    const { gone, end } = callEnd();
    call.on('cancelled', () => end(new UnavailableError('the puller cancelled the snapshot stream')));
    const run = async (): Promise<void> => {
      authorize(context(call), fetchSnapshot.path);
      const args = fromFetchSnapshotRequest(call.request);
      for await (const sent of source.fetchSnapshot(args, options.nodeId))
        await writeWithBackpressure(call, toWireChunk(sent), snapshotIdleMs, gone);
      call.end();
    };
    run().catch((error: unknown) => {
      logger.info({ err: error }, 'replication: serving a catch-up snapshot stopped');
      call.emit('error', toGrpcStatus(error, logger));
    });
  };

  return {
    name: REPLICATION_SERVICE_NAME,
    definition: { ...adapted.definition, installSnapshot, fetchSnapshot } as unknown as ServiceDefinition,
    implementation: { ...adapted.implementation, installSnapshot: install, fetchSnapshot: fetch },
  };
}

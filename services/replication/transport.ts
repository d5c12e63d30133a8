import { credentials } from '@grpc/grpc-js';
import type { Metadata, ServiceDefinition, ServiceError } from '@grpc/grpc-js';
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
  FetchSnapshotResponse,
  ReplicationServiceServer,
  SnapshotRequest,
  SnapshotResponse,
} from '../../proto/gen/marquee/cluster/v1/replication';
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
  FetchSnapshotResult,
} from './catch-up';
import type { AppendArgs, AppendResult, Follower, SnapshotArgs, SnapshotResult } from './follower';
import {
  fromAppendRequest,
  fromFetchRequest,
  fromFetchResponse,
  fromFetchSnapshotRequest,
  fromFetchSnapshotResponse,
  toFetchRequest,
  toFetchResponse,
  toFetchSnapshotResponse,
  fromAppendResponse,
  fromSnapshotRequest,
  fromSnapshotResponse,
  toAppendRequest,
  toAppendResponse,
  toSnapshotRequest,
  toSnapshotResponse,
} from './wire';

export const REPLICATION_SERVICE_NAME = 'marquee.cluster.v1.ReplicationService';

/**
 * Snapshots travel as one message (Snapshot pushed by the master, FetchSnapshot pulled by a new
 * master). gRPC's 4 MiB default is reached at a few thousand bookings, and a node that cannot take
 * the snapshot it needs never catches up (and, as the highest id, keeps winning elections it cannot
 * serve), so peer channels and the peer server allow this much. Chunked snapshots would lift the
 * bound altogether; until then, a state larger than this is the documented limit of one group.
 */
export const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

/** How the master reaches one slave; the replicator sees only this, so it can be faked. */
export interface ReplicationPeer extends CatchUpPeer {
  append(args: AppendArgs, timeoutMs: number): Promise<AppendResult>;
  snapshot(args: SnapshotArgs, timeoutMs: number): Promise<SnapshotResult>;
  close(): void;
}

/** One gRPC channel to one slave, stamped with Lamport clocks and the cluster credential. */
export class GrpcReplicationPeer implements ReplicationPeer {
  private readonly client: ReplicationServiceClient;

  constructor(
    address: string,
    private readonly secret: ClusterSecret,
    clock: LamportClock,
    logger: Logger,
    /** A restarted slave must not wait out grpc-js's default 120 s reconnect backoff. */
    maxReconnectBackoffMs = 1000,
  ) {
    this.client = new ReplicationServiceClient(
      address,
      credentials.createInsecure(),
      grpcClientOptions(clock, logger, {
        'grpc.initial_reconnect_backoff_ms': Math.min(100, maxReconnectBackoffMs),
        'grpc.max_reconnect_backoff_ms': maxReconnectBackoffMs,
        // Snapshots travel as one message (see replication.proto and MAX_SNAPSHOT_BYTES), both ways.
        'grpc.max_send_message_length': MAX_SNAPSHOT_BYTES,
        'grpc.max_receive_message_length': MAX_SNAPSHOT_BYTES,
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

  async snapshot(args: SnapshotArgs, timeoutMs: number): Promise<SnapshotResult> {
    const response = await this.call<SnapshotRequest, SnapshotResponse>(
      (request, metadata, deadline, done) => this.client.snapshot(request, metadata, { deadline }, done),
      toSnapshotRequest(args),
      timeoutMs,
    );
    return fromSnapshotResponse(response);
  }

  async fetch(args: FetchArgs, timeoutMs: number): Promise<FetchResult> {
    const response = await this.call<FetchRequest, FetchResponse>(
      (request, metadata, deadline, done) => this.client.fetch(request, metadata, { deadline }, done),
      toFetchRequest(args),
      timeoutMs,
    );
    return fromFetchResponse(response);
  }

  async fetchSnapshot(args: FetchSnapshotArgs, timeoutMs: number): Promise<FetchSnapshotResult> {
    const response = await this.call<FetchSnapshotRequest, FetchSnapshotResponse>(
      (request, metadata, deadline, done) => this.client.fetchSnapshot(request, metadata, { deadline }, done),
      { ...args },
      timeoutMs,
    );
    return fromFetchSnapshotResponse(response);
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
 * unauthenticated caller learns nothing and changes nothing), then validate, then hand to the follower.
 */
export function replicationService(options: {
  readonly follower: Follower;
  readonly source: CatchUpSource;
  readonly secret: ClusterSecret;
  readonly logger: Logger;
}): ServiceRegistration {
  const { follower, source, secret, logger } = options;
  const authorize = (context: CallContext, method: string) =>
    requirePeer(context.metadata, secret, { peer: context.peer, method, logger });
  const adapted = adaptService<ReplicationServiceServer>(
    ReplicationServiceService as unknown as ServiceDefinition,
    {
      append: async (request, context) => {
        authorize(context, ReplicationServiceService.append.path);
        return toAppendResponse(await follower.append(fromAppendRequest(request)));
      },
      snapshot: async (request, context) => {
        authorize(context, ReplicationServiceService.snapshot.path);
        return toSnapshotResponse(await follower.installSnapshot(fromSnapshotRequest(request)));
      },
      fetch: async (request, context) => {
        authorize(context, ReplicationServiceService.fetch.path);
        return toFetchResponse(await source.fetch(fromFetchRequest(request)));
      },
      fetchSnapshot: async (request, context) => {
        authorize(context, ReplicationServiceService.fetchSnapshot.path);
        return toFetchSnapshotResponse(await source.fetchSnapshot(fromFetchSnapshotRequest(request)));
      },
    },
    logger,
  );
  return { name: REPLICATION_SERVICE_NAME, ...adapted };
}

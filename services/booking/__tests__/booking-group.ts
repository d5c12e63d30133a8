import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { AccountServiceClient, BookingServiceClient } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Session } from '../../../proto/gen/marquee/booking/v1/booking';
import { ClusterServiceClient } from '../../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../../proto/gen/marquee/cluster/v1/cluster';
import { freePort } from '../../../scripts/lib/processes';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import type { Pool } from '../../common/mysql';
import { loadConfig } from '../config';
import { startBookingServer } from '../server';
import type { BookingServer } from '../server';
import { StaticShowSource } from '../show-source';
import { call } from './harness';
import type { ShowInventory } from '../show-source';

/*
 * A booking group for integration tests: N booking servers in this process, in cluster mode,
 * configured only through the environment, each with its own MariaDB database and state dir.
 * A member can be stopped and started again over the same database (a process restart).
 */

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

export interface GroupMember {
  readonly id: number;
  readonly pool: Pool;
  readonly clientAddress: string;
  readonly peerPort: number;
  server: BookingServer | undefined;
  readonly booking: BookingServiceClient;
  readonly accounts: AccountServiceClient;
}

export class BookingGroup {
  readonly members = new Map<number, GroupMember>();
  private readonly drops: (() => Promise<void>)[] = [];
  private readonly envs = new Map<number, NodeJS.ProcessEnv>();
  private stateRoot = '';

  constructor(
    private readonly options: {
      readonly label: string;
      readonly shows: ShowInventory[];
      readonly size?: number;
      /** More environment for every node (MARQUEE_ETCD_ENDPOINTS, MARQUEE_ACK_POLICY, ...). */
      readonly env?: NodeJS.ProcessEnv;
      /** Called after every start of a member (the first and each restart), e.g. to watch its election. */
      readonly onStarted?: (id: number, server: BookingServer) => void;
    },
  ) {}

  async start(): Promise<this> {
    const ids = Array.from({ length: this.options.size ?? 3 }, (_, i) => i + 1);
    this.stateRoot = await mkdtemp(path.join(tmpdir(), `marquee-${this.options.label}-`));
    const peerPorts = new Map<number, number>();
    const clientPorts = new Map<number, number>();
    for (const id of ids) {
      peerPorts.set(id, await freePort());
      clientPorts.set(id, await freePort());
    }
    const list = (ports: Map<number, number>): string =>
      ids.map((id) => `${id}=127.0.0.1:${ports.get(id)}`).join(',');
    for (const id of ids) {
      const database = await freshDatabase(`${this.options.label}${id}`);
      this.drops.push(database.drop);
      this.envs.set(id, {
        MARQUEE_NODE_ID: String(id),
        MARQUEE_BOOKING_PORT: String(clientPorts.get(id)),
        MARQUEE_MYSQL_URL: testMysqlUrl(),
        MARQUEE_BOOKING_DB: database.name,
        MARQUEE_BOOKING_MYSQL_CONNECTIONS: '8',
        MARQUEE_LOG_LEVEL: 'silent',
        MARQUEE_PEERS: list(peerPorts),
        MARQUEE_BOOKING_ADDRS: list(clientPorts),
        MARQUEE_CLUSTER_SECRET: `${this.options.label}-test-secret-0123456789`,
        MARQUEE_STATE_DIR: path.join(this.stateRoot, `node-${id}`),
        ...this.options.env,
      });
      const clientAddress = `127.0.0.1:${clientPorts.get(id)}`;
      this.members.set(id, {
        id,
        pool: database.pool,
        clientAddress,
        peerPort: peerPorts.get(id)!,
        server: undefined,
        booking: new BookingServiceClient(clientAddress, grpc.credentials.createInsecure()),
        accounts: new AccountServiceClient(clientAddress, grpc.credentials.createInsecure()),
      });
    }
    for (const id of ids) await this.startMember(id);
    await this.settled();
    return this;
  }

  /**
   * Waits until the group is up as `npm start` means it: one node accepts writes and every running
   * member names it as master in the same term. Returns the master's id.
   */
  async settled(ms = 30_000): Promise<number> {
    return eventually(async () => {
      const [writer, ...others] = this.writers();
      if (writer === undefined || others.length > 0) throw new Error(`writers: ${this.writers().join(',')}`);
      const running = [...this.members.values()].filter((m) => m.server !== undefined);
      const statuses = await Promise.all(running.map((m) => this.status(m.id)));
      const agreed = statuses.every((s) => s.masterId === writer && s.term === statuses[0]?.term);
      if (!agreed) throw new Error(`members do not agree yet on master ${writer}`);
      return writer;
    }, ms);
  }

  member(id: number): GroupMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no node ${id}`);
    return m;
  }

  /** Ids of the nodes that would accept a write right now. */
  writers(): number[] {
    return [...this.members.values()].filter((m) => m.server?.cluster?.canServeWrites()).map((m) => m.id);
  }

  async startMember(id: number): Promise<BookingServer> {
    const member = this.member(id);
    member.server = await startBookingServer({
      config: loadConfig(this.envs.get(id)!),
      logger: logger.child({ nodeId: id }),
      pool: member.pool,
      showSource: new StaticShowSource(this.options.shows),
    });
    this.options.onStarted?.(id, member.server);
    return member.server;
  }

  async stopMember(id: number): Promise<void> {
    const member = this.member(id);
    await member.server?.stop();
    member.server = undefined;
  }

  /** ClusterService.Status of a node, on its peer port (open: no cluster secret needed). */
  async status(id: number): Promise<NodeStatus> {
    const client = new ClusterServiceClient(
      `127.0.0.1:${this.member(id).peerPort}`,
      grpc.credentials.createInsecure(),
    );
    try {
      return await new Promise<NodeStatus>((resolve, reject) =>
        client.status({}, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (error, status) =>
          error ? reject(error) : resolve(status),
        ),
      );
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    for (const m of [...this.members.values()].reverse()) {
      m.booking.close();
      m.accounts.close();
      await m.server?.stop().catch(() => undefined);
    }
    for (const drop of this.drops) await drop().catch(() => undefined);
    if (this.stateRoot) await rm(this.stateRoot, { recursive: true, force: true });
  }
}

/**
 * Registers `<name>@example.com` through `member`, as a real client does it: an election meanwhile is
 * retried with the same idempotency key. Returns the session (token and user).
 */
export function registerUser(member: GroupMember, name: string): Promise<Session> {
  const { accounts } = member;
  return retryUnavailable(() =>
    call(
      accounts.register.bind(accounts),
      { email: `${name}@example.com`, password: 'correct horse battery', displayName: name },
      undefined,
      { 'idempotency-key': `register-${name}-key` },
    ),
  );
}

/** Polls `check` until it passes (returning its value) or `ms` ran out (throwing its last error). */
export async function eventually<T>(check: () => T | Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * Retries `attempt` while it fails with UNAVAILABLE (an election, a write not yet acknowledged by a
 * majority), as a real client does: callers pass the SAME idempotency keys each time.
 */
export async function retryUnavailable<T>(attempt: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as { code?: number }).code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

import { Metadata, credentials, status as Code } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { ElectionServiceClient, NodeRole } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { ElectionEnvelope } from '../../proto/gen/marquee/cluster/v1/cluster';
import { freePort } from '../../scripts/lib/processes';
import { PEER_AUTH_METADATA_KEY, ClusterSecret } from '../../services/common/peer-auth';
import { startElectionNode } from '../cluster-node';
import type { ElectionNode } from '../cluster-node';
import { MemoryTermStore } from '../term-store';
import { toEnvelope } from '../wire';
import { LamportClock, SECRET, nodeLogger, statusOver } from './grpc-helpers';
import type { LogLine } from './grpc-helpers';

/*
 * One real node (id 1 of a group of 3 whose other members are down, so it can never win an election
 * and its term stays 0 unless a peer moves it). Deliver calls come from a hand-built client.
 */

const DELIVER = '/marquee.cluster.v1.ElectionService/Deliver';
const store = new MemoryTermStore();
let node: ElectionNode;
let address: string;
let lines: LogLine[];
let raw: string[];
let client: ElectionServiceClient;

/** A COORDINATOR from node 3 for term 5: accepted, it would move node 1 into term 5 with a vote for 3. */
const coordinator: ElectionEnvelope = toEnvelope({
  type: 'coordinator',
  from: 3,
  to: 1,
  term: 5,
  probe: false,
  lastTerm: 0,
  lastIndex: 0,
});

function deliver(envelope: ElectionEnvelope, metadata: Metadata): Promise<ServiceError | null> {
  return new Promise((resolve) => {
    client.deliver(envelope, metadata, { deadline: Date.now() + 2000 }, (error) => resolve(error));
  });
}

function withAuth(value: string): Metadata {
  const metadata = new Metadata();
  metadata.set(PEER_AUTH_METADATA_KEY, value);
  return metadata;
}

beforeAll(async () => {
  const clock = new LamportClock();
  const logged = nodeLogger(clock, 'info');
  lines = logged.lines;
  raw = logged.raw;
  const port = await freePort();
  const peers = new Map([
    [1, `127.0.0.1:${port}`],
    [2, `127.0.0.1:${await freePort()}`],
    [3, `127.0.0.1:${await freePort()}`],
  ]);
  node = await startElectionNode({
    id: 1,
    peers,
    host: '127.0.0.1',
    port,
    secret: SECRET,
    termStore: store,
    logger: logged.logger,
    clock,
  });
  address = `127.0.0.1:${node.port}`;
  client = new ElectionServiceClient(address, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await node.stop(0);
});

it.each([
  ['without the cluster credential', () => new Metadata()],
  [
    'with a credential made from another secret',
    () => new ClusterSecret('some-other-secret-0123456789').metadata(),
  ],
  ['with the raw secret instead of the derived credential', () => withAuth('test-cluster-secret-0123456789')],
])(
  'a Deliver %s is UNAUTHENTICATED, logged at warn without the secret, and changes nothing',
  async (_case, metadata) => {
    const writesBefore = store.writes;
    const warnsBefore = lines.filter((l) => l.level === 40).length;

    const error = await deliver(coordinator, metadata());

    expect(error?.code).toBe(Code.UNAUTHENTICATED);
    expect(node.runner.status()).toMatchObject({ term: 0, masterId: undefined });
    expect(store.writes).toBe(writesBefore);
    expect(store.state).toEqual({ term: 0 });
    const warns = lines.filter((l) => l.level === 40);
    expect(warns.length).toBe(warnsBefore + 1);
    expect(warns.at(-1)).toMatchObject({
      method: DELIVER,
      msg: expect.stringMatching(/refused a peer call/),
    });
    expect(String(warns.at(-1)?.peer)).toMatch(/127\.0\.0\.1/);
    const token = SECRET.metadata().get(PEER_AUTH_METADATA_KEY)[0];
    for (const line of raw) {
      expect(line).not.toContain('test-cluster-secret');
      expect(line).not.toContain(String(token));
    }
  },
);

it('a Deliver with the cluster credential is accepted and moves the node (the control for the cases above)', async () => {
  expect(await deliver(coordinator, SECRET.metadata())).toBeNull();
  // The vote is persisted before the ack goes out; the runner drains asynchronously.
  await node.runner.idle();
  expect(store.state).toEqual({ term: 5, votedFor: 3 });
  expect(node.runner.status().term).toBe(5);
});

it('an authenticated but malformed or misrouted envelope is refused with a status that names the problem', async () => {
  const empty = await deliver({ from: 3, to: 1, term: 6, message: undefined }, SECRET.metadata());
  expect(empty?.code).toBe(Code.INVALID_ARGUMENT);
  expect(empty?.details).toMatch(/^message:/);
  const misrouted = await deliver({ ...coordinator, to: 2, term: 7 }, SECRET.metadata());
  expect(misrouted?.code).toBe(Code.FAILED_PRECONDITION);
  expect(misrouted?.details).toMatch(/this is node 1, not node 2/);
  expect(node.runner.status().term).toBe(5);
});

it('Status over gRPC reports role, term, master and a Lamport clock that has moved', async () => {
  const status = await statusOver(address);
  expect(status).toMatchObject({ nodeId: 1, term: 5, canServeWrites: false, etcdLeaseHolder: 0 });
  expect([NodeRole.NODE_ROLE_SLAVE, NodeRole.NODE_ROLE_CANDIDATE]).toContain(status.role);
  expect(status.lamport).toBeGreaterThan(0);
});

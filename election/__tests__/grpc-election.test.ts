import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodeRole } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../proto/gen/marquee/cluster/v1/cluster';
import { freePort } from '../../scripts/lib/processes';
import { TERM_FILE, startElectionNode } from '../cluster-node';
import type { ElectionNode } from '../cluster-node';
import type { RoleChangeEvent } from '../runner';
import { FileTermStore } from '../term-store';
import type { TermStore } from '../term-store';
import type { NodeId, PersistentState } from '../types';
import { LamportClock, SECRET, nodeLogger, statusOver, waitFor } from './grpc-helpers';

/*
 * Three election nodes in this process, each on its own real gRPC server on 127.0.0.1 with its own
 * Lamport clock and term file. The scenario runs in order (elect, fail over, return, restart a slave),
 * so each test starts from the state the previous one left. Only outcomes are asserted, never timings.
 */

/** A FileTermStore that also records, synchronously, every state it made durable. */
class RecordingTermStore implements TermStore {
  readonly saved: PersistentState[] = [];
  private readonly file: FileTermStore;

  constructor(dir: string) {
    this.file = new FileTermStore(path.join(dir, TERM_FILE));
  }

  load(): Promise<PersistentState> {
    return this.file.load();
  }

  async save(state: PersistentState): Promise<void> {
    await this.file.save(state);
    this.saved.push(state);
  }
}

const IDS: readonly NodeId[] = [1, 2, 3];
let root: string;
let peers: Map<NodeId, string>;
const nodes = new Map<NodeId, ElectionNode>();
const stores = new Map<NodeId, RecordingTermStore>();
const events = new Map<NodeId, RoleChangeEvent[]>();

function dirOf(id: NodeId): string {
  return path.join(root, `node-${id}`);
}

async function start(id: NodeId): Promise<ElectionNode> {
  const clock = new LamportClock();
  const store = new RecordingTermStore(dirOf(id));
  const node = await startElectionNode({
    id,
    peers,
    host: '127.0.0.1',
    port: Number(peers.get(id)?.split(':')[1]),
    secret: SECRET,
    termStore: store,
    logger: nodeLogger(clock, 'silent').logger,
    clock,
  });
  nodes.set(id, node);
  stores.set(id, store);
  const seen: RoleChangeEvent[] = [];
  events.set(id, seen);
  node.runner.onRoleChange((event) => seen.push(event));
  return node;
}

async function stop(id: NodeId): Promise<void> {
  await nodes.get(id)?.stop(0);
  nodes.delete(id);
}

function addressOf(id: NodeId): string {
  const address = peers.get(id);
  if (address === undefined) throw new Error(`no address for node ${id}`);
  return address;
}

/** Waits until every listed node's Status (over gRPC) names `master` as master of one common term. */
async function agreedMaster(ids: readonly NodeId[], master: NodeId): Promise<NodeStatus[]> {
  return waitFor(`nodes ${ids.join(',')} to agree that node ${master} is master`, async () => {
    const statuses = await Promise.all(ids.map((id) => statusOver(addressOf(id))));
    const terms = new Set(statuses.map((s) => s.term));
    const agreed = statuses.every((s) => s.masterId === master) && terms.size === 1;
    const masterStatus = statuses.find((s) => s.nodeId === master);
    return agreed && masterStatus?.canServeWrites === true ? statuses : undefined;
  });
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'marquee-election-'));
  peers = new Map();
  // Ports first: every node must know every other node's address before any of them starts.
  for (const id of IDS) peers.set(id, `127.0.0.1:${await freePort()}`);
  for (const id of IDS) await start(id);
});

afterAll(async () => {
  await Promise.all([...nodes.keys()].map((id) => stop(id)));
  rmSync(root, { recursive: true, force: true });
});

let firstTerm = 0;
let failoverTerm = 0;

it('three nodes elect the highest id, node 3, and Status over gRPC says so on every node', async () => {
  const statuses = await agreedMaster(IDS, 3);
  for (const status of statuses) {
    expect(status).toMatchObject({ masterId: 3, commitIndex: 0, appliedIndex: 0, slaves: [] });
    expect(status.role).toBe(status.nodeId === 3 ? NodeRole.NODE_ROLE_MASTER : NodeRole.NODE_ROLE_SLAVE);
    expect(status.term).toBeGreaterThanOrEqual(1);
    expect(status.lamport).toBeGreaterThan(0);
  }
  firstTerm = statuses[0]?.term ?? 0;
  // The master's role change was announced with a Lamport stamp, after its term was durable.
  const announced = events.get(3)?.find((e) => e.role === 'master' && e.term === firstTerm);
  expect(announced?.lamport).toBeGreaterThan(0);
  expect(stores.get(3)?.saved).toContainEqual({ term: firstTerm, votedFor: 3 });
});

it('when the master stops, node 2 is elected in a higher term and the survivors report it', async () => {
  await stop(3);
  const statuses = await agreedMaster([1, 2], 2);
  failoverTerm = statuses[0]?.term ?? 0;
  expect(failoverTerm).toBeGreaterThan(firstTerm);
  expect(statuses.find((s) => s.nodeId === 2)?.role).toBe(NodeRole.NODE_ROLE_MASTER);
});

it('a restarted node 3 resumes from its persisted term and becomes master only with a majority durably voting for it', async () => {
  const persisted = await new FileTermStore(path.join(dirOf(3), TERM_FILE)).load();
  expect(persisted).toEqual({ term: firstTerm, votedFor: 3 });

  // At the instant node 3 announces itself master of a term, a majority (itself and at least one
  // survivor) must already have that vote on disk: the group saw it before it acts as master.
  const votersAtAnnouncement: number[] = [];
  const node3 = await start(3);
  expect(node3.runner.status().term).toBeGreaterThanOrEqual(persisted.term);
  node3.runner.onRoleChange((event) => {
    if (event.role !== 'master') return;
    const voters = [1, 2].filter((id) =>
      stores.get(id)?.saved.some((s) => s.term === event.term && s.votedFor === 3),
    );
    votersAtAnnouncement.push(voters.length);
  });

  const statuses = await agreedMaster(IDS, 3);
  const term = statuses[0]?.term ?? 0;
  expect(term).toBeGreaterThan(failoverTerm);
  expect(votersAtAnnouncement.length).toBeGreaterThanOrEqual(1);
  for (const voters of votersAtAnnouncement) expect(voters).toBeGreaterThanOrEqual(1);
  // Node 2 stepped down rather than keep a second master.
  expect(events.get(2)?.at(-1)).toMatchObject({ role: 'slave', term });
});

it('a restarted slave keeps its persisted term (terms never go backwards) and rejoins under the same master', async () => {
  const before = await statusOver(addressOf(3));
  await stop(1);
  const persisted = await new FileTermStore(path.join(dirOf(1), TERM_FILE)).load();
  expect(persisted.term).toBeGreaterThanOrEqual(failoverTerm);

  const node1 = await start(1);
  expect(node1.runner.status().term).toBeGreaterThanOrEqual(persisted.term);
  const statuses = await agreedMaster(IDS, 3);
  expect(statuses[0]?.term).toBeGreaterThanOrEqual(before.term);
  for (const saved of stores.get(1)?.saved ?? []) expect(saved.term).toBeGreaterThanOrEqual(persisted.term);
});

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/lib/processes';
import { startElectionNode } from '../cluster-node';
import type { ElectionNode } from '../cluster-node';
import type { NodeId } from '../types';
import { LamportClock, SECRET, nodeLogger, statusOver, waitFor } from './grpc-helpers';
import type { LogLine } from './grpc-helpers';

/*
 * Strong evidence end to end, on real gRPC servers: a 3 s silence timeout (60 ticks; the group's
 * first election waits it out), against which a master's death must be found by probing its peer
 * port first: the survivor's log shows the refusal before its candidacy.
 */

const IDS: readonly NodeId[] = [1, 2, 3];
const SILENCE = { failureTicks: 60 };
let root: string;
const peers = new Map<NodeId, string>();
const nodes = new Map<NodeId, ElectionNode>();
const logs = new Map<NodeId, LogLine[]>();

async function start(id: NodeId): Promise<void> {
  const clock = new LamportClock();
  const { logger, lines } = nodeLogger(clock, 'info');
  const node = await startElectionNode({
    id,
    peers,
    host: '127.0.0.1',
    port: Number(peers.get(id)?.split(':')[1]),
    secret: SECRET,
    dataDir: path.join(root, `node-${id}`),
    timings: SILENCE,
    logger,
    clock,
  });
  nodes.set(id, node);
  logs.set(id, lines);
}

async function master(ids: readonly NodeId[]): Promise<NodeId> {
  return waitFor(
    `nodes ${ids.join(',')} to agree on a serving master`,
    async () => {
      const statuses = await Promise.all(ids.map((id) => statusOver(peers.get(id) ?? '')));
      const masterId = statuses[0]?.masterId;
      const agreed = statuses.every((s) => s.masterId === masterId && s.term === statuses[0]?.term);
      const serving = statuses.find((s) => s.nodeId === masterId)?.canServeWrites === true;
      return agreed && serving ? masterId : undefined;
    },
    20_000,
  );
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'marquee-evidence-'));
  for (const id of IDS) peers.set(id, `127.0.0.1:${await freePort()}`);
  for (const id of IDS) await start(id);
});

afterAll(async () => {
  await Promise.all([...nodes.values()].map((node) => node.stop(0)));
  rmSync(root, { recursive: true, force: true });
});

it('a master whose peer port is gone is replaced on that evidence, with no silence timeout to wait for', async () => {
  expect(await master(IDS)).toBe(3);
  const from = logs.get(2)?.length ?? 0;
  await nodes.get(3)?.stop(0);
  nodes.delete(3);
  expect(await master([1, 2])).toBe(2);
  const lines = logs.get(2)?.slice(from) ?? [];
  const down = lines.findIndex((line) => line.event === 'peer-down' && line.peer === 3);
  const candidacy = lines.findIndex((line) => line.event === 'role' && line.role === 'candidate');
  expect(down).toBeGreaterThanOrEqual(0);
  expect(candidacy).toBeGreaterThan(down);
});

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  STACK_FILE,
  StackControlClient,
  StackOpError,
  readStackDescription,
  startControlServer,
} from '../stack-control';
import type { StackNodeInfo, StackOps } from '../stack-control';

/** A stack of three nodes that only keeps books: the rules the real one enforces for pause/resume/kill. */
function fakeStack(): StackOps & { calls: string[] } {
  const nodes = new Map<number, StackNodeInfo>(
    [1, 2, 3].map((id) => [
      id,
      {
        id,
        pid: 1000 + id,
        state: 'running',
        partitioned: false,
        clientAddress: `127.0.0.1:5007${id}`,
        peerAddress: `127.0.0.1:5008${id}`,
        database: `marquee_booking_${id}`,
      },
    ]),
  );
  const calls: string[] = [];
  const node = (id: number): StackNodeInfo => {
    const found = nodes.get(id);
    if (!found) throw new StackOpError(404, `no booking node ${id}`);
    return found;
  };
  const op =
    (name: string, change: (n: StackNodeInfo) => void) =>
    (id: number): Promise<StackNodeInfo> => {
      calls.push(`${name} ${id}`);
      const n = node(id);
      change(n);
      return Promise.resolve({ ...n });
    };
  return {
    calls,
    nodes: () => [...nodes.values()].map((n) => ({ ...n })),
    kill: op('kill', (n) => {
      if (n.pid === undefined) throw new StackOpError(409, `node ${n.id} is ${n.state}: cannot kill it`);
      Object.assign(n, { state: 'killed', pid: undefined });
    }),
    pause: op('pause', (n) => {
      if (n.state !== 'running') throw new StackOpError(409, `node ${n.id} is ${n.state}: cannot pause it`);
      n.state = 'paused';
    }),
    resume: op('resume', (n) => {
      n.state = 'running';
    }),
    restart: op('restart', (n) => Object.assign(n, { state: 'running', pid: 2000 + n.id })),
    partition: op('partition', (n) => (n.partitioned = true)),
    heal: op('heal', (n) => (n.partitioned = false)),
  };
}

const description = {
  grpcAddress: '127.0.0.1:50050',
  mysqlUrl: 'mysql://root@127.0.0.1:53306',
  catalogAddress: '127.0.0.1:50061',
  recommendationAddress: '127.0.0.1:50091',
  tokenSecret: 'a-token-secret-0123',
  adminEmail: 'admin@marquee.local',
  adminPassword: 'marquee-admin',
  // Not under the data dir, as with `npm start`.
  logsDir: '/srv/marquee/.data/logs',
};

describe('the stack control API (server + client, against a fake stack)', () => {
  let dataDir: string;
  let stack: ReturnType<typeof fakeStack>;
  let server: { url: string; stop(): Promise<void> };
  let client: StackControlClient;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'marquee-control-'));
    stack = fakeStack();
    server = await startControlServer(stack, dataDir, description);
    client = new StackControlClient(server.url);
  });

  afterEach(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves on 127.0.0.1 and writes stack.json with its URL, the description and the nodes', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const written = readStackDescription(dataDir);
    expect(written).toEqual({ controlUrl: server.url, ...description, nodes: stack.nodes() });
    expect(written.logsDir).toBe('/srv/marquee/.data/logs');
  });

  it('lists the nodes and applies each operation to the node named, answering its new state', async () => {
    expect((await client.nodes()).map((n) => n.id)).toEqual([1, 2, 3]);
    expect(await client.pause(2)).toMatchObject({ id: 2, state: 'paused' });
    expect(await client.resume(2)).toMatchObject({ id: 2, state: 'running' });
    expect(await client.partition(3)).toMatchObject({ id: 3, partitioned: true });
    expect(await client.heal(3)).toMatchObject({ id: 3, partitioned: false });
    expect(await client.kill(1)).toMatchObject({ id: 1, state: 'killed', pid: undefined });
    expect(await client.restart(1)).toMatchObject({ id: 1, state: 'running', pid: 2001 });
    expect(stack.calls).toEqual(['pause 2', 'resume 2', 'partition 3', 'heal 3', 'kill 1', 'restart 1']);
  });

  it('rewrites stack.json after an operation', async () => {
    await client.kill(3);
    const node3 = readStackDescription(dataDir).nodes.find((n) => n.id === 3);
    expect(node3?.state).toBe('killed');
  });

  it("passes the stack's refusals on: 409 for an operation the node's state forbids, 404 for no such node", async () => {
    await client.kill(1);
    await expect(client.pause(1)).rejects.toThrow('node 1 is killed: cannot pause it');
    await expect(client.kill(7)).rejects.toThrow('no booking node 7');
    const raw = await fetch(`${server.url}/nodes/1/pause`, { method: 'POST' });
    expect(raw.status).toBe(409);
    expect(await raw.json()).toEqual({ error: 'node 1 is killed: cannot pause it' });
    expect((await fetch(`${server.url}/nodes/7/kill`, { method: 'POST' })).status).toBe(404);
  });

  it('answers 400 naming the field for a bad id or operation, and touches no node', async () => {
    const bad = async (route: string): Promise<{ status: number; error: string }> => {
      const response = await fetch(`${server.url}${route}`, { method: 'POST' });
      return { status: response.status, error: ((await response.json()) as { error: string }).error };
    };
    expect(await bad('/nodes/abc/kill')).toEqual({
      status: 400,
      error: 'id: must be a node id (a positive integer), got "abc"',
    });
    expect(await bad('/nodes/0/kill')).toMatchObject({ status: 400, error: expect.stringMatching(/^id: /) });
    expect(await bad('/nodes/1/explode')).toEqual({
      status: 400,
      error: 'op: must be one of kill, pause, resume, restart, partition, heal, got "explode"',
    });
    await expect(client.kill(-1)).rejects.toThrow(/^id: /);
    expect(stack.calls).toEqual([]);
  });

  it('answers 404 for an unknown route and 405 for the wrong method', async () => {
    expect((await fetch(`${server.url}/reboot`)).status).toBe(404);
    expect((await fetch(`${server.url}/nodes`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/nodes/1/kill`)).status).toBe(405);
  });

  it('removes stack.json on stop; then the client says the stack is not running', async () => {
    await server.stop();
    expect(existsSync(path.join(dataDir, STACK_FILE))).toBe(false);
    await expect(client.nodes()).rejects.toThrow('is `npm start` running?');
  });
});

describe('readStackDescription', () => {
  it('names the file and asks whether `npm start` runs when there is no stack.json', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'marquee-control-'));
    try {
      expect(() => readStackDescription(dir)).toThrow(
        `${path.join(dir, STACK_FILE)} does not exist: is \`npm start\` running?`,
      );
      expect(existsSync(path.join(dir, STACK_FILE))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a stack.json without logsDir (one an older `npm start` wrote), asking for a restart', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'marquee-control-'));
    try {
      const { logsDir: _, ...older } = description;
      writeFileSync(
        path.join(dir, STACK_FILE),
        JSON.stringify({ controlUrl: 'http://x', ...older, nodes: [] }),
      );
      expect(() => readStackDescription(dir)).toThrow(
        `${path.join(dir, STACK_FILE)} has no logsDir: it was written by an older \`npm start\`; restart it`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

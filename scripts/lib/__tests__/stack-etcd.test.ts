import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { StackControlClient, startControlServer } from '../stack-control';
import type { StackOps } from '../stack-control';
import { StackEtcd, etcdModeFromEnv } from '../stack-etcd';

/*
 * The stack's private etcd (npm start's default) driven through the control API, against the real
 * etcd: kill, restart on the same port and data, pause, resume. Processes are checked by PID.
 */

const dir = path.join(__dirname, '..', '..', '..', '.data', 'test', `stack-etcd-${process.pid}`);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A stack with no nodes: only its etcd matters here. */
function stackWith(etcd: StackEtcd | undefined): StackOps {
  const none = () => Promise.reject(new Error('no nodes in this test'));
  return {
    nodes: () => [],
    kill: none,
    pause: none,
    resume: none,
    restart: none,
    partition: none,
    heal: none,
    ...(etcd
      ? {
          etcd: {
            info: () => etcd.info(),
            kill: () => etcd.kill(),
            pause: () => etcd.pause(),
            resume: () => etcd.resume(),
            restart: () => etcd.restart(),
          },
        }
      : {}),
  };
}

const description = {
  grpcAddress: '127.0.0.1:1',
  mysqlUrl: 'mysql://root@127.0.0.1:2',
  catalogAddress: '127.0.0.1:3',
  recommendationAddress: '127.0.0.1:4',
  tokenSecret: 'a-token-secret-0123',
  adminEmail: 'admin@marquee.local',
  adminPassword: 'marquee-admin',
  logsDir: dir,
};

async function readKey(endpoint: string, key: string): Promise<string | null> {
  const client = new Etcd3({
    hosts: endpoint,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 2000 }),
  });
  try {
    return await client.get(key).string();
  } finally {
    client.close();
  }
}

describe("the stack's private etcd through the control API", () => {
  let etcd: StackEtcd | undefined;
  let server: { url: string; stop(): Promise<void> } | undefined;

  beforeAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await server?.stop();
    await etcd?.stop();
    server = etcd = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill, restart (same port, same data), pause and resume; each answer is the new state', async () => {
    etcd = await StackEtcd.start({
      dataDir: path.join(dir, 'etcd'),
      logFile: path.join(dir, 'etcd.log'),
      fresh: true,
    });
    server = await startControlServer(stackWith(etcd), dir, description);
    const client = new StackControlClient(server.url);
    const first = await client.etcd();
    expect(first).toMatchObject({ state: 'running', endpoint: etcd.endpoint });
    const admin = new Etcd3({ hosts: etcd.endpoint });
    await admin.put('/marquee/test/kept').value('across restarts');
    admin.close();

    const bad = await fetch(`${server.url}/etcd/explode`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'op: must be one of kill, pause, resume, restart, got "explode"',
    });

    const killed = await client.etcdOp('kill');
    expect(killed).toEqual({ endpoint: first.endpoint, state: 'killed', pid: undefined });
    expect(alive(first.pid!)).toBe(false);
    await expect(client.etcdOp('pause')).rejects.toThrow('etcd is killed: cannot pause it');

    const restarted = await client.etcdOp('restart');
    expect(restarted).toMatchObject({ endpoint: first.endpoint, state: 'running' });
    expect(restarted.pid).not.toBe(first.pid);
    expect(await readKey(etcd.endpoint, '/marquee/test/kept')).toBe('across restarts');

    expect(await client.etcdOp('pause')).toMatchObject({ state: 'paused', pid: restarted.pid });
    await expect(client.etcdOp('pause')).rejects.toThrow('etcd is already paused');
    expect(await client.etcdOp('resume')).toMatchObject({ state: 'running', pid: restarted.pid });
    expect(await readKey(etcd.endpoint, '/marquee/test/kept')).toBe('across restarts');

    // Paused again, then stopped: stop resumes it first, and the process is gone.
    await client.etcdOp('pause');
    await etcd.stop();
    expect(alive(restarted.pid!)).toBe(false);
    expect(etcd.info()).toMatchObject({ state: 'stopped', pid: undefined });
  }, 60_000);

  it('a stack without its own etcd says so (404)', async () => {
    mkdirSync(dir, { recursive: true });
    server = await startControlServer(stackWith(undefined), dir, description);
    const client = new StackControlClient(server.url);
    await expect(client.etcd()).rejects.toThrow(/runs no etcd of its own/);
    expect((await fetch(`${server.url}/etcd/kill`, { method: 'POST' })).status).toBe(404);
  });
});

describe('MARQUEE_ETCD_ENDPOINTS as npm start reads it', () => {
  it('unset: a private etcd; empty: none; a URL list: that etcd', () => {
    expect(etcdModeFromEnv(undefined)).toBe('private');
    expect(etcdModeFromEnv('')).toBe('off');
    expect(etcdModeFromEnv('  ')).toBe('off');
    expect(etcdModeFromEnv('http://10.0.0.5:2379')).toEqual({ endpoints: 'http://10.0.0.5:2379' });
  });
});

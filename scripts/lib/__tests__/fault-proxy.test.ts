import net from 'node:net';
import { FaultMesh, FaultProxy } from '../fault-proxy';

/*
 * Real sockets on 127.0.0.1: an upstream that records what it receives and echoes it, a proxy in
 * front of it, clients that dial the proxy.
 */

interface Upstream {
  port: number;
  received: string[];
  stop(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (data) => {
      received.push(data.toString());
      socket.write(data);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Client {
  socket: net.Socket;
  answers: string[];
  closed: Promise<void>;
}

async function dial(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const answers: string[] = [];
  socket.on('data', (data) => answers.push(data.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, answers, closed };
}

async function eventually(check: () => void, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('FaultProxy', () => {
  let upstream: Upstream;
  let proxy: FaultProxy;
  const clients: Client[] = [];
  const client = async (): Promise<Client> => {
    const c = await dial(proxy.port);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    upstream = await startUpstream();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: upstream.port });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy.stop();
    await upstream.stop();
  });

  it('forwards bytes both ways while healthy', async () => {
    const c = await client();
    c.socket.write('ping');
    await eventually(() => expect(c.answers.join('')).toBe('ping'));
    expect(upstream.received.join('')).toBe('ping');
  });

  it('a cut closes open connections and black-holes new ones: accepted, never forwarded, never answered', async () => {
    const before = await client();
    before.socket.write('one');
    await eventually(() => expect(before.answers.join('')).toBe('one'));

    proxy.cut();
    expect(proxy.isCut).toBe(true);
    await before.closed;

    const during = await client(); // the connect itself succeeds, as it would to a dead host's switch
    during.socket.write('lost');
    let closedEarly = false;
    void during.closed.then(() => (closedEarly = true));
    await sleep(300);
    expect(upstream.received.join('')).toBe('one');
    expect(during.answers).toEqual([]);
    expect(closedEarly).toBe(false);
  });

  it('heal forwards new connections again and closes the ones held during the cut', async () => {
    proxy.cut();
    const held = await client();
    held.socket.write('lost');
    proxy.heal();
    expect(proxy.isCut).toBe(false);
    await held.closed;

    const after = await client();
    after.socket.write('back');
    await eventually(() => expect(after.answers.join('')).toBe('back'));
    expect(upstream.received.join('')).toBe('back');
  });

  it('stop closes the listener and every connection', async () => {
    const open = await client();
    proxy.cut();
    const held = await client();
    proxy.heal();
    const fresh = await client();
    await proxy.stop();
    await Promise.all([open.closed, held.closed, fresh.closed]);
    await expect(dial(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('closes the client when the target refuses (a killed node looks refused, not partitioned)', async () => {
    await upstream.stop();
    const c = await client();
    await c.closed;
  });
});

describe('FaultMesh', () => {
  let mesh: FaultMesh;
  const real = new Map([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 40000 + id }]));

  beforeAll(async () => {
    mesh = await FaultMesh.start(real);
  });

  afterAll(async () => {
    await mesh.stop();
  });

  afterEach(() => mesh.healAll());

  const cutLinks = (): string[] =>
    [1, 2, 3]
      .flatMap((from) => [1, 2, 3].filter((to) => to !== from).map((to) => [from, to] as const))
      .filter(([from, to]) => mesh.proxy(from, to).isCut)
      .map(([from, to]) => `${from}→${to}`);

  it("gives each node its own real address and a proxy per other node, forwarding to that node's real port", () => {
    const entries = mesh.peersFor(2).split(',');
    expect(entries[1]).toBe('2=127.0.0.1:40002');
    expect(entries[0]).toBe(`1=127.0.0.1:${mesh.proxy(2, 1).port}`);
    expect(entries[2]).toBe(`3=127.0.0.1:${mesh.proxy(2, 3).port}`);
    expect(mesh.proxy(2, 3).target).toEqual({ host: '127.0.0.1', port: 40003 });
    expect(mesh.proxy(3, 2).port).not.toBe(mesh.proxy(2, 3).port);
  });

  it('partition cuts every link into and out of the node, and nothing else', () => {
    mesh.partition(3);
    expect(mesh.isPartitioned(3)).toBe(true);
    expect(cutLinks()).toEqual(['1→3', '2→3', '3→1', '3→2']);
  });

  it('healing one node keeps its links to a node that is still partitioned cut', () => {
    mesh.partition(1);
    mesh.partition(2);
    mesh.heal(1);
    expect(mesh.isPartitioned(1)).toBe(false);
    expect(cutLinks()).toEqual(['1→2', '2→1', '2→3', '3→2']);
    mesh.healAll();
    expect(cutLinks()).toEqual([]);
  });
});

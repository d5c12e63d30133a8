import net from 'node:net';

/*
 * Fault injection between booking nodes, for `npm start` and chaos runs: every DIRECTED pair of
 * nodes (i dials j) gets its own TCP proxy, so a partition can cut exactly the links it names.
 * A cut behaves like a dropped network, not like a closed port: open connections are torn down and
 * new ones are accepted and then held without a byte of answer, so the dialler's gRPC deadlines
 * fire (as they would on a real partition) instead of a fast "connection refused".
 */

export interface Endpoint {
  host: string;
  port: number;
}

/** One listening port that forwards to `target` unless cut. */
export class FaultProxy {
  private readonly forwarding = new Set<net.Socket>();
  private readonly held = new Set<net.Socket>();
  private cutNow = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly target: Endpoint,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 and a free port (or `listenPort`). */
  static async start(target: Endpoint, listenPort = 0): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('fault proxy: no port');
    return new FaultProxy(server, address.port, target);
  }

  get isCut(): boolean {
    return this.cutNow;
  }

  /** Tears down every forwarded connection and black-holes new ones until heal(). */
  cut(): void {
    this.cutNow = true;
    for (const socket of this.forwarding) socket.destroy();
  }

  /**
   * New connections are forwarded again. Connections held during the cut are closed: whatever they
   * carried is long past its deadline, and closing them makes the dialler redial now.
   */
  heal(): void {
    this.cutNow = false;
    for (const socket of this.held) socket.destroy();
  }

  /** Closes the listener and every connection. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of [...this.forwarding, ...this.held]) socket.destroy();
    await closed;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined); // a reset from either side is routine here
    if (this.cutNow) {
      // Never read, never answer: what the dialler wrote sits in a buffer, as on a dead link.
      client.pause();
      this.track(this.held, client);
      return;
    }
    const upstream = net.connect(this.target);
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      // The target's port refused: pass that on as the reset its kernel would have sent the dialler
      // directly, so a dead peer looks dead through the proxy too (election/peer-probe.ts).
      if (error.code === 'ECONNREFUSED' && !client.destroyed) client.resetAndDestroy();
    });
    // A pass-through link must not add latency: without this, Nagle holds small gRPC frames back
    // until the previous segment is acknowledged (~40 ms per replication round trip measured).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.track(this.forwarding, client);
    this.track(this.forwarding, upstream);
    // Either side going away takes the other with it: a half-open pair would hide a dead peer.
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(set: Set<net.Socket>, socket: net.Socket): void {
    set.add(socket);
    socket.once('close', () => set.delete(socket));
  }
}

/**
 * The proxies of a whole group: node i's address for node j is proxy(i→j), which forwards to j's
 * real peer port. A link is cut while either end is partitioned, so healing one node never
 * reconnects it to another node that is still partitioned.
 */
export class FaultMesh {
  private readonly partitioned = new Set<number>();

  private constructor(
    private readonly peers: ReadonlyMap<number, Endpoint>,
    private readonly proxies: ReadonlyMap<string, FaultProxy>,
  ) {}

  /** One proxy per ordered pair of distinct nodes in `peers` (node id → real peer address). */
  static async start(peers: ReadonlyMap<number, Endpoint>): Promise<FaultMesh> {
    const proxies = new Map<string, FaultProxy>();
    try {
      for (const from of peers.keys())
        for (const [to, target] of peers)
          if (from !== to) proxies.set(link(from, to), await FaultProxy.start(target));
    } catch (error) {
      await Promise.all([...proxies.values()].map((proxy) => proxy.stop()));
      throw error;
    }
    return new FaultMesh(peers, proxies);
  }

  /** MARQUEE_PEERS for node `id`: its own real address, every other node through a proxy. */
  peersFor(id: number): string {
    return [...this.peers]
      .map(([to, real]) => `${to}=${real.host}:${to === id ? real.port : this.proxy(id, to).port}`)
      .join(',');
  }

  proxy(from: number, to: number): FaultProxy {
    const proxy = this.proxies.get(link(from, to));
    if (!proxy) throw new Error(`fault mesh: no link ${link(from, to)}`);
    return proxy;
  }

  isPartitioned(id: number): boolean {
    return this.partitioned.has(id);
  }

  /** Cuts every link into and out of `id`. */
  partition(id: number): void {
    this.partitioned.add(id);
    this.apply();
  }

  heal(id: number): void {
    this.partitioned.delete(id);
    this.apply();
  }

  healAll(): void {
    this.partitioned.clear();
    this.apply();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.stop()));
  }

  private apply(): void {
    for (const [from] of this.peers)
      for (const [to] of this.peers) {
        if (from === to) continue;
        const proxy = this.proxy(from, to);
        const cut = this.partitioned.has(from) || this.partitioned.has(to);
        if (cut && !proxy.isCut) proxy.cut();
        if (!cut && proxy.isCut) proxy.heal();
      }
  }
}

function link(from: number, to: number): string {
  return `${from}→${to}`;
}

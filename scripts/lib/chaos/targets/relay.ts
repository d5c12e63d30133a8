import net from 'node:net';
import type { AddressInfo } from 'node:net';

/*
 * A local TCP port that forwards each new connection to wherever a node is now. The chaos session
 * reads every node's address once (from stack.json), but a container that is started again may come
 * back on another address; the relay asks `target()` at every connection, and refuses it (closes at
 * once, as a closed port would) while the node has no address (stopped, or cut off its network).
 */

export interface Endpoint {
  host: string;
  port: number;
}

export class Relay {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 and a free port. */
  static async start(target: () => Endpoint | undefined): Promise<Relay> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const relay = new Relay(server, (server.address() as AddressInfo).port);
    server.on('connection', (client) => relay.accept(client, target()));
    return relay;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, target: Endpoint | undefined): void {
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(socket);
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

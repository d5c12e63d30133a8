import net from 'node:net';
import { FaultProxy } from '../../scripts/lib/fault-proxy';
import { parseAddress, probePort } from '../peer-probe';

// Real sockets on 127.0.0.1: what a probe concludes from a live, a dead and a proxied port.

async function listen(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port that was just in use and is now closed: nothing listens there. */
async function deadPort(): Promise<number> {
  const server = await listen();
  const port = portOf(server);
  await close(server);
  return port;
}

describe('peer probe', () => {
  it('a port with a listener is listening; a closed one is refused', async () => {
    const server = await listen();
    try {
      expect(await probePort(`127.0.0.1:${portOf(server)}`, 100)).toBe('listening');
    } finally {
      await close(server);
    }
    expect(await probePort(`127.0.0.1:${await deadPort()}`, 100)).toBe('refused');
  });

  it('through a fault proxy, a dead target is refused too (the proxy resets), a live one listening', async () => {
    const server = await listen();
    const live = await FaultProxy.start({ host: '127.0.0.1', port: portOf(server) });
    const dead = await FaultProxy.start({ host: '127.0.0.1', port: await deadPort() });
    try {
      expect(await probePort(`127.0.0.1:${live.port}`, 200)).toBe('listening');
      expect(await probePort(`127.0.0.1:${dead.port}`, 200)).toBe('refused');
    } finally {
      await Promise.all([live.stop(), dead.stop(), close(server)]);
    }
  });

  it('a cut link is no evidence: the proxy holds the connection and the probe learns nothing', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: await deadPort() });
    try {
      proxy.cut();
      expect(await probePort(`127.0.0.1:${proxy.port}`, 100)).not.toBe('refused');
    } finally {
      await proxy.stop();
    }
  });

  it('reads host:port, bracketed IPv6 too, and names a bad address', () => {
    expect(parseAddress('127.0.0.1:50081')).toEqual({ host: '127.0.0.1', port: 50081 });
    expect(parseAddress('[::1]:7')).toEqual({ host: '::1', port: 7 });
    expect(() => parseAddress('booking-1')).toThrow('peer address "booking-1" is not host:port');
  });
});

import net from 'node:net';
import { freePort } from '../processes';

describe('freePort', () => {
  it('never hands out the same port twice, and each can be bound', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 100; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    // Below the kernel's ephemeral range (32768+), which outgoing connections also draw from.
    for (const port of ports) expect(port).toBeLessThan(32768);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../../scripts/lib/processes';
import type { Gateway } from '../server';
import { resolveStaticFile } from '../static-files';
import { send, startGateway } from './harness';

/** A GET with the path sent exactly as given (fetch would normalize `..`). */
function rawGet(port: number, rawPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: rawPath }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }),
        );
      })
      .on('error', reject);
  });
}

describe('the web UI files', () => {
  let parent: string;
  let root: string;
  let gateway: Gateway;
  let port: number;

  beforeAll(async () => {
    // The UI root inside a private directory that also holds a file no request may reach.
    parent = await mkdtemp(path.join(tmpdir(), 'marquee-gateway-static-'));
    root = path.join(parent, 'ui');
    await mkdir(root);
    await writeFile(path.join(parent, 'marquee-gateway-secret.txt'), 'secret');
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>Marquee</title>');
    await mkdir(path.join(root, 'assets'));
    await writeFile(path.join(root, 'assets', 'app.js'), 'console.log("marquee")');
    await writeFile(path.join(root, 'assets', 'seat.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    const dead = `127.0.0.1:${await freePort()}`;
    ({ gateway, port } = await startGateway({
      MARQUEE_CATALOG_ADDR: dead,
      MARQUEE_BOOKING_ADDRS: `1=${dead}`,
      MARQUEE_PEERS: `1=${dead}`,
      MARQUEE_GATEWAY_RETRY_MS: '0',
      MARQUEE_GATEWAY_STATIC_DIR: root,
    }));
  });

  afterAll(async () => {
    await gateway?.stop();
    await rm(parent, { recursive: true, force: true });
  });

  it('serves files with their content type, and index.html at /', async () => {
    const index = await rawGet(port, '/');
    expect(index).toEqual({
      status: 200,
      type: 'text/html; charset=utf-8',
      body: '<!doctype html><title>Marquee</title>',
    });
    expect(await rawGet(port, '/assets/app.js')).toMatchObject({
      status: 200,
      type: 'text/javascript; charset=utf-8',
    });
    expect(await rawGet(port, '/assets/seat.svg')).toMatchObject({ status: 200, type: 'image/svg+xml' });
  });

  it('answers the UI’s own routes with index.html, and never a file outside the root', async () => {
    expect(await rawGet(port, '/events/evt_1?tab=shows')).toMatchObject({
      status: 200,
      body: expect.stringContaining('Marquee'),
    });
    for (const escape of [
      '/../marquee-gateway-secret.txt',
      '/..%2fmarquee-gateway-secret.txt',
      '/assets/%2e%2e/%2e%2e/marquee-gateway-secret.txt',
    ]) {
      const reply = await rawGet(port, escape);
      expect(reply.body).not.toContain('secret');
    }
  });

  it('keeps /api errors as JSON', async () => {
    const reply = await send(port, { url: '/api/nope' });
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('NOT_FOUND');
    expect((await send(port, { method: 'POST', url: '/assets/app.js' })).status).toBe(404);
  });

  it('resolves only paths inside the root', async () => {
    expect(await resolveStaticFile(root, '/assets/app.js')).toBe(path.join(root, 'assets', 'app.js'));
    expect(await resolveStaticFile(root, '/assets')).toBeUndefined(); // a directory without index.html
    expect(await resolveStaticFile(root, '/')).toBe(path.join(root, 'index.html'));
    expect(await resolveStaticFile(root, '/../marquee-gateway-secret.txt')).toBeUndefined();
    expect(await resolveStaticFile(root, '/%E0%A4%A')).toBeUndefined();
    expect(await resolveStaticFile(root, '/index.html%00.js')).toBeUndefined();
  });
});

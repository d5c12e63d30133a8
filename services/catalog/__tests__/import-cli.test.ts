import { execFile } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from '../../../scripts/import-catalog';
import { SECRET, startHarness } from './harness';
import type { Harness } from './harness';

const ROOT = path.join(__dirname, '../../..');

/** Runs scripts/import-catalog.ts as `npm run import` would, with the test server's token secret. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts/import-catalog.ts'), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, MARQUEE_TOKEN_SECRET: SECRET, MARQUEE_CATALOG_ADDR: '' },
        timeout: 30_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let h: Harness;

beforeAll(async () => {
  h = await startHarness('catalog_cli');
});
afterAll(async () => {
  await h.close();
});

describe('import arguments', () => {
  it('needs exactly one source and takes the address from --catalog, MARQUEE_CATALOG_ADDR or the front door', () => {
    expect(parseArgs(['--demo'], {})).toEqual({ source: { kind: 'demo' }, address: '127.0.0.1:50050' });
    expect(parseArgs(['--url', 'http://x/c.json'], { MARQUEE_CATALOG_ADDR: '10.0.0.1:50061' })).toEqual({
      source: { kind: 'url', url: 'http://x/c.json' },
      address: '10.0.0.1:50061',
    });
    expect(parseArgs(['--file', 'c.json', '--catalog', 'h:1'], { MARQUEE_CATALOG_ADDR: 'x:2' }).address).toBe(
      'h:1',
    );
    expect(() => parseArgs(['--file', 'a.json', '--demo'], {})).toThrow(
      'give exactly one of --file, --url and --demo',
    );
    expect(() => parseArgs([], {})).toThrow('give exactly one');
    expect(() => parseArgs(['--file'], {})).toThrow('--file needs a value');
    expect(() => parseArgs(['--verbose'], {})).toThrow('unknown argument "--verbose"');
  });
});

describe('npm run import', () => {
  it('imports the demo catalog, then finds everything unchanged', async () => {
    const first = await cli(['--demo', '--catalog', h.address]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain(
      `imported 310 records into ${h.address}: 310 created, 0 updated, 0 unchanged`,
    );
    const second = await cli(['--demo', '--catalog', h.address]);
    expect(second.stdout).toContain('imported 310 records into');
    expect(second.stdout).toContain('0 created, 0 updated, 310 unchanged');
  });

  it('imports a file and explains failures with exit code 1', async () => {
    const file = await cli([
      '--file',
      path.join(ROOT, 'test/fixtures/catalog-import.json'),
      '--catalog',
      h.address,
    ]);
    expect(file.stdout).toContain('imported 9 records');
    expect(file.code).toBe(0);
    const refused = await cli(['--url', 'ftp://example.com/x.json', '--catalog', h.address]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('import failed: INVALID_ARGUMENT: source_url: must be an http(s) URL');
  });
});

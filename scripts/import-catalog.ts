/**
 * `npm run import -- --file catalog.json | --url https://... | --demo  [--catalog 127.0.0.1:50050]`
 *
 * Imports a catalog document (docs/IMPORT.md) through CatalogService/ImportCatalog with an admin
 * token minted from MARQUEE_TOKEN_SECRET (the secret the services use), showing a progress bar and
 * the final counts. --file is read here and sent inline; --url is fetched by the catalog service;
 * --demo sends the demo catalog (scripts/demo-data/demo-catalog.ts) for the next two weeks.
 * The address defaults to MARQUEE_CATALOG_ADDR, else the front door 127.0.0.1:50050.
 * Exit code 0 on success, 1 with a one-line reason otherwise.
 */
import { readFileSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { SingleBar } from 'cli-progress';
import { signToken } from '../services/common/auth';
import { readTokenSecret } from '../services/common/config';
import { CatalogServiceClient } from '../proto/gen/marquee/catalog/v1/catalog';
import type { ImportProgress } from '../proto/gen/marquee/catalog/v1/catalog';
import { demoCatalog } from './demo-data/demo-catalog';

/** grpc-js servers refuse larger messages by default; bigger documents go by --url. */
const INLINE_LIMIT_BYTES = 4 * 1024 * 1024 - 1024;
const CALL_TIMEOUT_MS = 10 * 60_000;

const USAGE = 'usage: npm run import -- (--file PATH | --url URL | --demo) [--catalog HOST:PORT]';

interface Options {
  source: { kind: 'file'; path: string } | { kind: 'url'; url: string } | { kind: 'demo' };
  address: string;
}

class UsageError extends Error {}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Options {
  const sources: Options['source'][] = [];
  let address = env.MARQUEE_CATALOG_ADDR || '127.0.0.1:50050';
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (flag === '--file') sources.push({ kind: 'file', path: value() });
    else if (flag === '--url') sources.push({ kind: 'url', url: value() });
    else if (flag === '--demo') sources.push({ kind: 'demo' });
    else if (flag === '--catalog') address = value();
    else throw new UsageError(`unknown argument ${JSON.stringify(flag)}`);
  }
  const [source, extra] = sources;
  if (!source || extra) throw new UsageError('give exactly one of --file, --url and --demo');
  return { source, address };
}

function documentFor(source: Options['source']): { sourceUrl: string; documentJson: string } {
  switch (source.kind) {
    case 'url':
      return { sourceUrl: source.url, documentJson: '' };
    case 'demo':
      return { sourceUrl: '', documentJson: JSON.stringify(demoCatalog(new Date())) };
    case 'file': {
      const size = statSync(source.path).size;
      if (size > INLINE_LIMIT_BYTES) {
        throw new Error(
          `${source.path} is ${(size / 1024 / 1024).toFixed(1)} MB; inline documents are limited to 4 MB, so serve it over http and use --url`,
        );
      }
      return { sourceUrl: '', documentJson: readFileSync(source.path, 'utf8') };
    }
  }
}

function runImport(
  address: string,
  request: { sourceUrl: string; documentJson: string },
  token: string,
): Promise<ImportProgress> {
  const client = new CatalogServiceClient(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const bar = new SingleBar({
    format:
      ' {phase} [{bar}] {value}/{total} records | created {created} updated {updated} unchanged {unchanged}',
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  let last: ImportProgress | undefined;
  return new Promise<ImportProgress>((resolve, reject) => {
    const call = client.importCatalog(request, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS });
    call.on('data', (progress: ImportProgress) => {
      last = progress;
      const payload = {
        phase: progress.phase.padEnd(7),
        created: progress.created,
        updated: progress.updated,
        unchanged: progress.unchanged,
      };
      if (!started) {
        bar.start(progress.total, progress.done, payload);
        started = true;
      } else {
        bar.setTotal(progress.total);
        bar.update(progress.done, payload);
      }
    });
    call.on('error', (error: grpc.ServiceError) => reject(error));
    call.on('end', () =>
      last ? resolve(last) : reject(new Error('the import ended without reporting progress')),
    );
  }).finally(() => {
    if (started) bar.stop();
    client.close();
  });
}

function describe(error: unknown, address: string): string {
  if (error instanceof UsageError) return `${error.message}\n${USAGE}`;
  const grpcError = error as Partial<grpc.ServiceError>;
  if (typeof grpcError.code === 'number' && typeof grpcError.details === 'string') {
    const hint =
      grpcError.code === grpc.status.UNAVAILABLE
        ? ` (is the catalog running at ${address}? set --catalog or MARQUEE_CATALOG_ADDR)`
        : '';
    return `${grpc.status[grpcError.code]}: ${grpcError.details}${hint}`;
  }
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  let address = '127.0.0.1:50050';
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    const options = parseArgs(process.argv.slice(2), process.env);
    address = options.address;
    const token = signToken(
      { userId: 'import-cli', email: 'import@marquee.local', role: 'admin' },
      readTokenSecret(process.env),
      3600,
      Date.now(),
    );
    const result = await runImport(address, documentFor(options.source), token);
    process.stdout.write(
      `imported ${result.total} records into ${address}: ${result.created} created, ${result.updated} updated, ${result.unchanged} unchanged\n`,
    );
  } catch (error) {
    process.stderr.write(`import failed: ${describe(error, address)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();

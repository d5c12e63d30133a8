import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CatalogServiceClient } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freePort } from '../../../scripts/lib/processes';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { ConfigError } from '../config';
import { callUnary } from '../grpc-client';
import { readOtlpEndpoint } from '../tracing';

/*
 * With an OTLP endpoint configured, a service's spans leave the process over OTLP/HTTP: the REAL
 * catalog process runs with MARQUEE_OTLP_ENDPOINT pointing at a plain HTTP server standing in for
 * the collector, serves one traced call, and sends its span by the time it has stopped.
 */

const ROOT = path.join(__dirname, '../../..');
const TRACE_ID = '5b8efff798038103d269b633813fc60c';

interface Received {
  path: string;
  contentType: string;
  body: string;
}

async function startCollector(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'] ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('OTLP export from a service process', () => {
  it('sends the catalog’s span of a traced call, with the service name, to the collector', async () => {
    const collector = await startCollector();
    const database = await freshDatabase('otlp_catalog');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'services/catalog/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        MARQUEE_CATALOG_PORT: String(port),
        MARQUEE_MYSQL_URL: testMysqlUrl(),
        MARQUEE_CATALOG_DB: database.name,
        MARQUEE_LOG_LEVEL: 'warn',
        MARQUEE_OTLP_ENDPOINT: collector.url,
        MARQUEE_METRICS_PORT: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const catalog = new CatalogServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      // Ready once it answers; the call itself fails (no such event) and is traced all the same.
      const deadline = Date.now() + 30_000;
      let code: number | undefined;
      while (code === undefined || code === grpc.status.UNAVAILABLE) {
        if (Date.now() > deadline) throw new Error(`the catalog did not start: ${stderr}`);
        code = await callUnary(
          catalog.getEvent.bind(catalog),
          { eventId: 'evt_missing' },
          { headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } },
        ).then(
          () => grpc.status.OK,
          (error: { code: number }) => error.code,
        );
        if (code === grpc.status.UNAVAILABLE) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(code).toBe(grpc.status.NOT_FOUND);
      child.kill('SIGTERM'); // a graceful stop flushes the batch of spans
      expect(await exited).toBe(0);
      const sent = collector.received.filter((r) => r.body.includes(TRACE_ID));
      expect(sent.length).toBeGreaterThan(0);
      expect(sent[0]).toMatchObject({ path: '/v1/traces', contentType: expect.stringContaining('json') });
      expect(sent[0]!.body).toContain('marquee.catalog.v1.CatalogService/GetEvent');
      expect(sent[0]!.body).toMatch(/"service\.name","value":\{"stringValue":"catalog"\}/);
    } finally {
      catalog.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await collector.close();
      await database.drop();
    }
  }, 60_000);
});

describe('readOtlpEndpoint', () => {
  it('reads MARQUEE_OTLP_ENDPOINT, else the OpenTelemetry variable, else nothing', () => {
    expect(readOtlpEndpoint({})).toBe('');
    expect(readOtlpEndpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://otel:4318/v1/traces' })).toBe(
      'http://otel:4318/v1/traces',
    );
    expect(
      readOtlpEndpoint({
        MARQUEE_OTLP_ENDPOINT: ' https://collector.example/v1/traces ',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://otel:4318/v1/traces',
      }),
    ).toBe('https://collector.example/v1/traces');
  });

  it('names the variable when the value is not an http(s) URL', () => {
    expect(() => readOtlpEndpoint({ MARQUEE_OTLP_ENDPOINT: 'collector:4318' })).toThrow(ConfigError);
    expect(() => readOtlpEndpoint({ MARQUEE_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /MARQUEE_OTLP_ENDPOINT/,
    );
  });
});

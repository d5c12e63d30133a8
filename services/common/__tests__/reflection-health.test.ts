import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../../../proto/gen/grpc/health/v1/health';
import * as reflectionV1 from '../../../proto/gen/grpc/reflection/v1/reflection';
import * as reflectionV1alpha from '../../../proto/gen/grpc/reflection/v1alpha/reflection';
import { FileDescriptorProto } from 'ts-proto-descriptors';
import { startGrpcServer } from '../grpc-server';
import type { RunningServer } from '../grpc-server';
import { createLogger } from '../logger';

const run = promisify(execFile);
const logger = createLogger('test', { level: 'silent' });

type ReflectionClient = reflectionV1.ServerReflectionClient;

/** Sends reflection requests on one stream and collects the answers. */
async function reflect(client: ReflectionClient, requests: reflectionV1.ServerReflectionRequest[]) {
  const call = client.serverReflectionInfo();
  const answers: reflectionV1.ServerReflectionResponse[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (answer: reflectionV1.ServerReflectionResponse) => answers.push(answer));
    call.on('error', reject);
    call.on('end', resolve);
  });
  for (const request of requests) call.write(request);
  call.end();
  await done;
  return answers;
}

describe('reflection and health over a real connection', () => {
  let server: RunningServer;
  let address: string;

  beforeAll(async () => {
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      services: [],
      logger,
      reflectionListsAll: true,
    });
    address = `127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop());

  it.each([
    ['v1', reflectionV1.ServerReflectionClient],
    ['v1alpha', reflectionV1alpha.ServerReflectionClient],
  ])('reflection %s lists every marquee service, health and reflection', async (_version, Client) => {
    const client = new Client(address, grpc.credentials.createInsecure());
    const [answer] = await reflect(client, [
      { host: '', messageRequest: { $case: 'listServices', value: '' } },
    ]);
    client.close();
    const listed =
      answer?.messageResponse?.$case === 'listServicesResponse'
        ? answer.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(listed).toEqual(
      expect.arrayContaining([
        'marquee.catalog.v1.CatalogService',
        'marquee.booking.v1.BookingService',
        'marquee.booking.v1.AccountService',
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
      ]),
    );
  });

  it('describes the peer-only cluster services but leaves them out of the whole-mesh listing', async () => {
    const client = new reflectionV1.ServerReflectionClient(address, grpc.credentials.createInsecure());
    const [listing, described] = await reflect(client, [
      { host: '', messageRequest: { $case: 'listServices', value: '' } },
      {
        host: '',
        messageRequest: { $case: 'fileContainingSymbol', value: 'marquee.cluster.v1.ElectionService' },
      },
    ]);
    client.close();
    const listed =
      listing?.messageResponse?.$case === 'listServicesResponse'
        ? listing.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(listed.filter((name) => name.startsWith('marquee.cluster.'))).toEqual([]);
    expect(described?.messageResponse?.$case).toBe('fileDescriptorResponse');
  });

  it('answers file_containing_symbol for a method with the file that defines it', async () => {
    const client = new reflectionV1.ServerReflectionClient(address, grpc.credentials.createInsecure());
    const answers = await reflect(client, [
      {
        host: '',
        messageRequest: {
          $case: 'fileContainingSymbol',
          value: 'marquee.booking.v1.BookingService.HoldSeats',
        },
      },
      { host: '', messageRequest: { $case: 'fileContainingSymbol', value: 'marquee.nope.v1.Missing' } },
    ]);
    client.close();
    const found = answers[0]?.messageResponse;
    if (found?.$case !== 'fileDescriptorResponse') throw new Error(`expected a file, got ${found?.$case}`);
    const file = FileDescriptorProto.decode(found.value.fileDescriptorProto[0]!);
    expect(file.name).toBe('marquee/booking/v1/booking.proto');
    expect(file.service.map((s) => s.name)).toContain('BookingService');
    const missing = answers[1]?.messageResponse;
    expect(missing?.$case).toBe('errorResponse');
    if (missing?.$case === 'errorResponse') expect(missing.value.errorCode).toBe(grpc.status.NOT_FOUND);
  });

  it('health answers SERVING for the server and NOT_FOUND for an unknown service', async () => {
    const client = new HealthClient(address, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<ServingStatus>((resolve, reject) =>
        client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))),
      );
    await expect(check('')).resolves.toBe(ServingStatus.SERVING);
    await expect(check('marquee.nope.v1.Missing')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
  });

  it('a real third-party client (buf curl) calls health through reflection alone', async () => {
    const buf = path.join(__dirname, '../../../node_modules/.bin/buf');
    const { stdout } = await run(buf, [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      `http://${address}/grpc.health.v1.Health/Check`,
      '-d',
      '{}',
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: 'SERVING' });
    const listed = await run(buf, [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      '--list-methods',
      `http://${address}`,
    ]);
    expect(listed.stdout).toContain('marquee.booking.v1.BookingService/HoldSeats');
  });
});

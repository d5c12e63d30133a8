import * as grpc from '@grpc/grpc-js';
import { Metadata, status as Code } from '@grpc/grpc-js';
import type { ServiceDefinition, ServiceError, StatusObject, handleUnaryCall } from '@grpc/grpc-js';
import pino from 'pino';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '../errors';
import { adaptService } from '../grpc-server';
import type { CallContext } from '../grpc-server';
import { LAMPORT_METADATA_KEY, LamportClock, parseLamportStamp } from '../lamport';
import { lamportClientInterceptor, lamportServerOptions } from '../lamport-interceptors';
import { MemoryLamportStore, PersistentLamportClock } from '../lamport-store';
import type { LamportStore } from '../lamport-store';

const identity = (bytes: Buffer): Buffer => bytes;

function unary(path: string): ServiceDefinition[string] {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** A tiny raw-bytes service: enough to see every header the interceptors add. */
const ECHO = '/marquee.test.v1.Lamport/Echo';
const FAIL = '/marquee.test.v1.Lamport/Fail';
const BARE = '/marquee.test.v1.Bare/Fail';
const definition: ServiceDefinition = { echo: unary(ECHO), fail: unary(FAIL) };
const bareDefinition: ServiceDefinition = { fail: unary(BARE) };
interface LamportTestServer {
  echo: handleUnaryCall<Buffer, Buffer>;
  fail: handleUnaryCall<Buffer, Buffer>;
}

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  where?: string;
  header?: string[];
}

function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

interface Seen {
  /** x-lamport as the handler saw it in the request metadata. */
  requestHeader: string[];
  /** The server clock while the handler ran. */
  serverNow: number;
}

interface TestServer {
  address: string;
  clock: LamportClock;
  seen: Seen[];
  lines: LogLine[];
  stop(): void;
}

/** A real grpc-js server on 127.0.0.1:0 with the Lamport server interceptor and the project's adaptService. */
async function startServer(clock: LamportClock): Promise<TestServer> {
  const { logger, lines } = capturingLogger();
  const seen: Seen[] = [];
  const server = new grpc.Server({ ...lamportServerOptions(clock, logger) });
  const note = (context: CallContext) =>
    seen.push({
      requestHeader: context.metadata.get(LAMPORT_METADATA_KEY).map(String),
      serverNow: clock.now(),
    });
  const adapted = adaptService<LamportTestServer>(
    definition,
    {
      echo: (request, context) => {
        note(context);
        return Promise.resolve(request);
      },
      fail: (_request, context) => {
        note(context);
        return Promise.reject(new FailedPreconditionError('show 7 is sold out'));
      },
    },
    logger,
  );
  server.addService(adapted.definition, adapted.implementation);
  // A handler outside adaptService that fails with a bare status, without metadata.
  server.addService(bareDefinition, {
    fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback({ code: Code.ABORTED, details: 'bare' }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, clock, seen, lines, stop: () => server.forceShutdown() };
}

interface Outcome {
  response?: Buffer;
  error?: ServiceError;
  headers?: Metadata;
  status: StatusObject;
}

/** One unary call, with everything that came back: response or error, headers (if any) and trailers. */
function call(client: grpc.Client, path: string, metadata = new Metadata()): Promise<Outcome> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    let result: Pick<Outcome, 'response' | 'error'> | undefined;
    let status: StatusObject | undefined;
    const finish = () => {
      if (result && status) resolve({ ...result, headers, status });
    };
    const request = Buffer.from('ping');
    const pending = client.makeUnaryRequest(
      path,
      identity,
      identity,
      request,
      metadata,
      { deadline: Date.now() + 5000 },
      (error, response) => {
        result = error ? { error } : { response };
        finish();
      },
    );
    pending.on('metadata', (received: Metadata) => (headers = received));
    pending.on('status', (received: StatusObject) => {
      status = received;
      finish();
    });
  });
}

function stampOf(metadata: Metadata | undefined): number | undefined {
  const values = metadata?.get(LAMPORT_METADATA_KEY) ?? [];
  return values.length === 1 ? parseLamportStamp(values[0]) : undefined;
}

function lamportClient(
  address: string,
  clock: LamportClock,
  logger: Logger = pino({ level: 'silent' }),
): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    interceptors: [lamportClientInterceptor(clock, logger)],
  });
}

/** A client without the interceptor: grpcurl, a health probe, or a peer sending whatever it likes. */
function plainClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

function withHeader(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add(LAMPORT_METADATA_KEY, value);
  return metadata;
}

describe('Lamport interceptors over a real connection', () => {
  let server: TestServer;
  let clientClock: LamportClock;
  let client: grpc.Client;

  beforeEach(async () => {
    server = await startServer(new LamportClock());
    clientClock = new LamportClock();
    client = lamportClient(server.address, clientClock);
  });
  afterEach(() => {
    client.close();
    server.stop();
  });

  it('stamps the request, moves the server past it, stamps headers and trailers, and moves the client past both', async () => {
    const before = clientClock.now();
    const outcome = await call(client, ECHO);
    expect(outcome.response?.toString()).toBe('ping');

    const [seen] = server.seen;
    const requestStamp = parseLamportStamp(seen?.requestHeader[0]);
    expect(requestStamp).toBe(before + 1);
    expect(requestStamp).toBeGreaterThan(0);
    expect(seen?.serverNow).toBeGreaterThan(requestStamp ?? Infinity);

    const headerStamp = stampOf(outcome.headers);
    const trailerStamp = stampOf(outcome.status.metadata);
    expect(headerStamp).toBeGreaterThan(seen?.serverNow ?? Infinity);
    expect(trailerStamp).toBeGreaterThan(headerStamp ?? Infinity);
    expect(clientClock.now()).toBeGreaterThan(trailerStamp ?? Infinity);
    expect(server.lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('carries a server far ahead over to the client, and from there into the next request', async () => {
    server.clock.receive(1_000_000);
    const first = await call(client, ECHO);
    expect(stampOf(first.status.metadata)).toBeGreaterThan(1_000_000);
    expect(clientClock.now()).toBeGreaterThan(stampOf(first.status.metadata) ?? Infinity);
    await call(client, ECHO);
    expect(parseLamportStamp(server.seen[1]?.requestHeader[0])).toBeGreaterThan(1_000_001);
  });

  it('an error status still carries x-lamport in its trailers, and the client clock moves past it', async () => {
    const outcome = await call(client, FAIL);
    expect(outcome.error?.code).toBe(Code.FAILED_PRECONDITION);
    expect(outcome.error?.details).toBe('show 7 is sold out');
    const trailerStamp = stampOf(outcome.error?.metadata);
    expect(trailerStamp).toBeGreaterThan(server.seen[0]?.serverNow ?? Infinity);
    expect(stampOf(outcome.status.metadata)).toBe(trailerStamp);
    expect(clientClock.now()).toBeGreaterThan(trailerStamp ?? Infinity);
  });

  it('an error sent as a bare status without metadata is stamped too', async () => {
    const before = server.clock.now();
    const outcome = await call(client, BARE);
    expect(outcome.error?.code).toBe(Code.ABORTED);
    expect(stampOf(outcome.error?.metadata)).toBeGreaterThan(before);
    expect(clientClock.now()).toBeGreaterThan(stampOf(outcome.error?.metadata) ?? Infinity);
  });

  it.each([
    ['banana'],
    ['-5'],
    ['1e3'],
    ['0x10'],
    ['12.5'],
    ['99999999999999999999'],
    [String(Number.MAX_SAFE_INTEGER)],
    [''],
  ])(
    'a garbage x-lamport %p is logged and ignored: the server neither crashes nor jumps, and the call succeeds',
    async (garbage) => {
      const peer = plainClient(server.address);
      try {
        const outcome = await call(peer, ECHO, withHeader(garbage));
        expect(outcome.response?.toString()).toBe('ping');
        expect(stampOf(outcome.status.metadata)).toBeGreaterThan(0);
        expect(server.clock.now()).toBeLessThan(10);
        expect(server.lines.filter((l) => l.level >= 40)).toEqual([
          expect.objectContaining({
            level: 40,
            msg: 'ignored a malformed x-lamport header',
            method: ECHO,
            where: 'request',
          }),
        ]);
        // The server still works afterwards, for a well-behaved client too.
        expect((await call(client, ECHO)).response?.toString()).toBe('ping');
      } finally {
        peer.close();
      }
    },
  );

  it('two x-lamport values are garbage too, not a choice between them', async () => {
    const peer = plainClient(server.address);
    try {
      const outcome = await call(peer, ECHO, withHeader('5', '500000'));
      expect(outcome.response?.toString()).toBe('ping');
      expect(server.clock.now()).toBeLessThan(10);
      expect(server.lines.map((l) => l.msg)).toContain('ignored a malformed x-lamport header');
    } finally {
      peer.close();
    }
  });

  it('a request without x-lamport (grpcurl, a probe) is served and answered with a stamp, silently', async () => {
    const peer = plainClient(server.address);
    try {
      const outcome = await call(peer, ECHO);
      expect(outcome.response?.toString()).toBe('ping');
      expect(stampOf(outcome.headers)).toBeGreaterThan(0);
      expect(stampOf(outcome.status.metadata)).toBeGreaterThan(0);
      expect(server.lines.filter((l) => l.level >= 40)).toEqual([]);
    } finally {
      peer.close();
    }
  });

  it('concurrent calls each get their own request stamp, and the client ends past every reply', async () => {
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => call(client, ECHO)));
    const requestStamps = server.seen.map((s) => parseLamportStamp(s.requestHeader[0]));
    expect(new Set(requestStamps).size).toBe(50);
    const replies = outcomes.map((o) => stampOf(o.status.metadata) ?? Infinity);
    expect(new Set(replies).size).toBe(50);
    expect(clientClock.now()).toBeGreaterThan(Math.max(...replies));
  });
});

describe('Lamport client interceptor against a server without one', () => {
  it('ignores and logs garbage x-lamport in response headers and trailers; the call succeeds', async () => {
    const server = new grpc.Server();
    server.addService(bareDefinition, {
      fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        call.sendMetadata(withHeader('not-a-number'));
        callback(null, Buffer.from('pong'), withHeader('-1'));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const { logger, lines } = capturingLogger();
    const clock = new LamportClock();
    const client = lamportClient(`127.0.0.1:${port}`, clock, logger);
    try {
      const outcome = await call(client, BARE);
      expect(outcome.response?.toString()).toBe('pong');
      expect(clock.now()).toBe(1);
      expect(lines.map((l) => [l.msg, l.where])).toEqual([
        ['ignored a malformed x-lamport header', 'response headers'],
        ['ignored a malformed x-lamport header', 'response trailers'],
      ]);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('a locally generated failure (nobody listening) carries no stamp and leaves the clock alone', async () => {
    const { logger, lines } = capturingLogger();
    const clock = new LamportClock();
    // Port 1 on loopback: nothing listens, so grpc-js fails the call itself.
    const client = lamportClient('127.0.0.1:1', clock, logger);
    try {
      const outcome = await call(client, ECHO);
      expect(outcome.error?.code).toBe(Code.UNAVAILABLE);
      expect(clock.now()).toBe(1);
      expect(lines).toEqual([]);
    } finally {
      client.close();
    }
  });
});

/** A store whose writes take a while and can be made to fail. */
class SlowStore implements LamportStore {
  readonly inner = new MemoryLamportStore();
  failing = false;
  delayMs = 30;

  load(): Promise<number> {
    return this.inner.load();
  }

  async reserve(upTo: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failing) throw new Error('EIO: disk on fire');
    await this.inner.reserve(upTo);
  }
}

describe('Lamport interceptors with a persisted clock', () => {
  let store: SlowStore;
  let server: TestServer;

  beforeEach(async () => {
    store = new SlowStore();
    server = await startServer(await PersistentLamportClock.open(store, { block: 100 }));
  });
  afterEach(() => server.stop());

  it('the server answers a far-ahead caller only once its jumped stamp is durable', async () => {
    const peer = plainClient(server.address);
    try {
      const outcome = await call(peer, ECHO, withHeader('5000000'));
      const replyStamp = stampOf(outcome.status.metadata) ?? Infinity;
      expect(outcome.response?.toString()).toBe('ping');
      expect(replyStamp).toBeGreaterThan(5_000_000);
      expect(store.inner.mark).toBeGreaterThanOrEqual(replyStamp);
    } finally {
      peer.close();
    }
  });

  it('the server fails the call with UNAVAILABLE rather than send a stamp it could not persist, and recovers', async () => {
    const peer = plainClient(server.address);
    try {
      store.failing = true;
      const failed = await call(peer, ECHO, withHeader('5000000'));
      expect(failed.error?.code).toBe(Code.UNAVAILABLE);
      expect(failed.error?.details).toMatch(/Lamport clock unavailable.*EIO/);
      expect(stampOf(failed.error?.metadata)).toBeUndefined();
      expect(server.lines.map((l) => l.msg)).toContain(
        'Lamport stamp could not be made durable; failing the call',
      );
      store.failing = false;
      const recovered = await call(peer, ECHO);
      expect(recovered.response?.toString()).toBe('ping');
      expect(stampOf(recovered.status.metadata)).toBeGreaterThan(5_000_000);
    } finally {
      peer.close();
    }
  });

  it('the client sends a jumped stamp only once durable, and fails locally (the server never sees it) when it cannot be', async () => {
    const clientStore = new SlowStore();
    const clientClock = await PersistentLamportClock.open(clientStore, { block: 100 });
    const client = lamportClient(server.address, clientClock);
    try {
      clientClock.receive(7_000_000);
      await call(client, ECHO);
      const sent = parseLamportStamp(server.seen[0]?.requestHeader[0]) ?? Infinity;
      expect(sent).toBeGreaterThan(7_000_000);
      expect(clientStore.inner.mark).toBeGreaterThanOrEqual(sent);

      clientStore.failing = true;
      clientClock.receive(9_000_000);
      const failed = await call(client, ECHO);
      expect(failed.error?.code).toBe(Code.UNAVAILABLE);
      expect(failed.error?.details).toMatch(/Lamport clock unavailable/);
      expect(server.seen).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});

describe('An answer and its status leave together', () => {
  type Event = string;

  /** A store whose every write takes an event-loop turn, recorded with what it made durable. */
  class RecordingStore implements LamportStore {
    readonly inner = new MemoryLamportStore();
    constructor(private readonly events: Event[]) {}
    load(): Promise<number> {
      return this.inner.load();
    }
    async reserve(upTo: number): Promise<void> {
      await new Promise((resolve) => setImmediate(resolve));
      await this.inner.reserve(upTo);
      this.events.push(`durable ${upTo}`);
    }
  }

  /** Nearest the network: records what reaches the transport, in order. */
  function transportRecorder(events: Event[]): grpc.ServerInterceptor {
    return (_descriptor, call) =>
      new grpc.ServerInterceptingCall(call, {
        sendMetadata: (metadata, next) => {
          events.push(`headers ${String(metadata.get(LAMPORT_METADATA_KEY)[0])}`);
          next(metadata);
        },
        sendMessage: (message, next) => {
          events.push('message');
          next(message);
        },
        sendStatus: (status, next) => {
          events.push(`status ${String(status.metadata?.get(LAMPORT_METADATA_KEY)[0])}`);
          next(status);
        },
      });
  }

  it('a reply whose stamp needs a durable write waits before its message, then message and status go back to back', async () => {
    const events: Event[] = [];
    // A block of 1: every stamp needs its own write, so the trailers' stamp is never durable in advance.
    const clock = await PersistentLamportClock.open(new RecordingStore(events), { block: 1 });
    const logger = pino({ level: 'silent' });
    const server = new grpc.Server({
      interceptors: [transportRecorder(events), ...lamportServerOptions(clock, logger).interceptors],
    });
    const adapted = adaptService<LamportTestServer>(
      definition,
      {
        echo: (request) => {
          events.push('handler');
          return Promise.resolve(request);
        },
        fail: () => Promise.reject(new FailedPreconditionError('unused')),
      },
      logger,
    );
    server.addService(adapted.definition, adapted.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = plainClient(`127.0.0.1:${port}`);
    try {
      events.length = 0;
      const outcome = await call(client, ECHO);
      expect(outcome.response?.toString()).toBe('ping');
      const trailerStamp = stampOf(outcome.status.metadata) ?? Infinity;

      const message = events.indexOf('message');
      expect(message).toBeGreaterThan(0);
      // Nothing, the clock's disk write included, comes between the message and its status.
      expect(events[message + 1]).toBe(`status ${trailerStamp}`);
      // The write that covers the trailers' stamp finished before the message left.
      const durableBefore = events
        .slice(0, message)
        .filter((e) => e.startsWith('durable '))
        .map((e) => Number(e.slice('durable '.length)));
      expect(Math.max(...durableBefore)).toBeGreaterThanOrEqual(trailerStamp);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
  it('a streamed reply makes the stamps ahead durable before each message, so its status needs no write after the last one', async () => {
    const events: Event[] = [];
    const clock = await PersistentLamportClock.open(new RecordingStore(events), { block: 1 });
    const logger = pino({ level: 'silent' });
    const server = new grpc.Server({
      interceptors: [transportRecorder(events), ...lamportServerOptions(clock, logger).interceptors],
    });
    const STREAM = '/marquee.test.v1.Lamport/Stream';
    server.addService(
      { stream: { ...unary(STREAM), responseStream: true } },
      {
        stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          for (const word of ['a', 'b', 'c']) call.write(Buffer.from(word));
          call.end();
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = plainClient(`127.0.0.1:${port}`);
    try {
      events.length = 0;
      const received: string[] = [];
      const status = await new Promise<StatusObject>((resolve) => {
        const call = client.makeServerStreamRequest(STREAM, identity, identity, Buffer.from('go'));
        call.on('data', (chunk: Buffer) => received.push(chunk.toString()));
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
      expect(received).toEqual(['a', 'b', 'c']);
      expect(status.code).toBe(Code.OK);
      const lastMessage = events.lastIndexOf('message');
      expect(events[lastMessage + 1]).toBe(`status ${String(stampOf(status.metadata))}`);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

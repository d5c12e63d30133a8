import pino from 'pino';
import { LamportClock } from '../../services/common/lamport';
import { makeConfig } from '../config';
import { ElectionRunner } from '../runner';
import type { CatchUpHandler, RoleChangeEvent } from '../runner';
import { MemoryTermStore } from '../term-store';
import type { Message, PersistentState } from '../types';

/*
 * The runner around a real BullyNode, with a recording sender and a fake monotonic clock: time moves
 * only when the test moves it, so these are exact. (The tick interval still runs; with the fake clock
 * it finds no tick due.)
 */

interface Harness {
  runner: ElectionRunner;
  store: MemoryTermStore;
  sent: Message[];
  /** Everything observable, in order: saves, role changes, sends. */
  trace: string[];
  advance(ms: number): void;
}

async function harness(
  id: number,
  options: { store?: MemoryTermStore; failSaves?: () => boolean } = {},
): Promise<Harness> {
  let now = 0;
  const sent: Message[] = [];
  const trace: string[] = [];
  const inner = options.store ?? new MemoryTermStore();
  const store = inner;
  const originalSave = inner.save.bind(inner);
  store.save = async (state: PersistentState) => {
    if (options.failSaves?.()) throw new Error('disk full');
    await originalSave(state);
    trace.push(`save ${state.term}/${String(state.votedFor)}`);
  };
  const runner = new ElectionRunner({
    config: makeConfig({ id, peers: [1, 2, 3] }),
    termStore: store,
    sender: {
      send: (m) => {
        sent.push(m);
        trace.push(`send ${m.type}→${m.to}`);
      },
    },
    clock: new LamportClock(),
    logger: pino({ level: 'silent' }),
    tickMs: 50,
    random: () => 0,
    now: () => now,
  });
  runner.onRoleChange((e: RoleChangeEvent) => trace.push(`role ${e.role}/${e.term}/${String(e.masterId)}`));
  await runner.start();
  return { runner, store, sent, trace, advance: (ms) => (now += ms) };
}

const running: ElectionRunner[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function started(id: number, options?: Parameters<typeof harness>[1]): Promise<Harness> {
  const h = await harness(id, options);
  running.push(h.runner);
  return h;
}

it('a vote is durable before the role change is announced and before its ack leaves', async () => {
  const h = await started(1);
  h.runner.deliver({ type: 'coordinator', from: 3, to: 1, term: 4, probe: false, lastTerm: 0, lastIndex: 0 });
  await h.runner.idle();
  expect(h.trace).toEqual(['save 4/3', 'role slave/4/undefined', 'send coordinatorAck→3']);
  expect(h.store.state).toEqual({ term: 4, votedFor: 3 });
});

it('a failed persist holds the whole Ready back and is retried on a later tick', async () => {
  let failing = true;
  const h = await started(1, { failSaves: () => failing });
  h.runner.deliver({ type: 'coordinator', from: 3, to: 1, term: 2, probe: false, lastTerm: 0, lastIndex: 0 });
  await h.runner.idle();
  expect(h.sent).toEqual([]);
  expect(h.store.state).toEqual({ term: 0 });

  failing = false;
  // The next input (a tick, here a message) drains again, now successfully.
  h.advance(50);
  h.runner.deliver({ type: 'answer', from: 3, to: 1, term: 2 });
  await h.runner.idle();
  expect(h.store.state).toEqual({ term: 2, votedFor: 3 });
  expect(h.sent.map((m) => m.type)).toEqual(['coordinatorAck']);
});

it('a returning higher id hands catch-up to the hook and campaigns only once it resolves', async () => {
  const h = await started(3);
  let finish: (index: number) => void = () => undefined;
  const requests: unknown[] = [];
  const hook: CatchUpHandler = (request) => {
    requests.push(request);
    return new Promise((resolve) => (finish = resolve));
  };
  h.runner.onCatchUpNeeded(hook);
  h.runner.deliver({ type: 'heartbeat', from: 2, to: 3, term: 1, commitIndex: 0, round: 7 });
  await h.runner.idle();
  expect(requests).toEqual([{ fromNode: 2, upToIndex: 0 }]);
  expect(h.sent.map((m) => m.type)).toEqual(['heartbeatAck']);

  finish(0);
  await new Promise((resolve) => setImmediate(resolve));
  await h.runner.idle();
  // Caught up: it proposes itself (a pre-vote probe first) to both lower ids.
  expect(h.sent.slice(1)).toEqual([
    expect.objectContaining({ type: 'coordinator', to: 1, probe: true, term: 2 }),
    expect.objectContaining({ type: 'coordinator', to: 2, probe: true, term: 2 }),
  ]);
});

it('by default the catch-up gate passes at once (no replication yet)', async () => {
  const h = await started(3);
  h.runner.deliver({ type: 'heartbeat', from: 2, to: 3, term: 1, commitIndex: 0, round: 7 });
  await new Promise((resolve) => setImmediate(resolve));
  await h.runner.idle();
  expect(h.sent.some((m) => m.type === 'coordinator' && m.probe)).toBe(true);
});

it('ticks come from the monotonic clock: a slave suspects its master after failureTicks of silence', async () => {
  const h = await started(1);
  h.advance(50 * 20);
  // Any input catches the node up on missed ticks before it is handled.
  expect(h.runner.canServeWrites()).toBe(false);
  await h.runner.idle();
  expect(h.sent.filter((m) => m.type === 'election').map((m) => m.to)).toEqual([2, 3]);
});

it('two masters heartbeating in one term stop the runner and reach onFatal', async () => {
  const h = await started(1);
  const fatal: Error[] = [];
  h.runner.onFatal((error) => fatal.push(error));
  h.runner.deliver({ type: 'heartbeat', from: 3, to: 1, term: 1, commitIndex: 0, round: 1 });
  h.runner.deliver({ type: 'heartbeat', from: 2, to: 1, term: 1, commitIndex: 0, round: 1 });
  expect(fatal.map((e) => e.name)).toEqual(['ElectionInvariantError']);
  const before = h.sent.length;
  h.runner.deliver({ type: 'heartbeat', from: 3, to: 1, term: 1, commitIndex: 0, round: 2 });
  await h.runner.idle();
  expect(h.sent.length).toBe(before);
});

it('a new runner on the same store resumes from the persisted term', async () => {
  const store = new MemoryTermStore({ term: 9, votedFor: 2 });
  const h = await started(1, { store });
  expect(h.runner.status()).toMatchObject({ nodeId: 1, term: 9, role: 'slave', canServeWrites: false });
});

import pino from 'pino';
import { LamportClock, compareStamps, isLamportStamp, lamportLogMixin, parseLamportStamp } from '../lamport';
import type { LamportStamp } from '../lamport';
import { PersistentLamportClock } from '../lamport-store';
import type { LamportStore } from '../lamport-store';
import { seededRandom } from '../prng';

const MAX = Number.MAX_SAFE_INTEGER;

/** A seeded integer in [0, below), so a failing execution can be replayed from its seed. */
function prng(seed: number): (below: number) => number {
  const random = seededRandom(seed);
  return (below) => Math.floor(random() * below);
}

/** One event of a recorded execution; `preds` are its immediate happened-before predecessors. */
interface Event {
  proc: number;
  stamp: number;
  preds: number[];
}

interface Violation {
  before: number;
  after: number;
}

/**
 * Builds happened-before from the immediate edges (program order, send → receive) by transitive
 * closure, independently of any clock theory, and returns every pair a → b with stamp(a) >= stamp(b).
 * Events are recorded in an order where predecessors come first, so one pass computes the closure.
 */
function checkClockCondition(events: Event[]): {
  pairs: number;
  crossProcess: number;
  violations: Violation[];
} {
  const ancestors: bigint[] = [];
  let pairs = 0;
  let crossProcess = 0;
  const violations: Violation[] = [];
  events.forEach((event, index) => {
    let set = 0n;
    for (const pred of event.preds) set |= (ancestors[pred] ?? 0n) | (1n << BigInt(pred));
    ancestors.push(set);
    for (let a = 0; a < index; a++) {
      if (((set >> BigInt(a)) & 1n) === 0n) continue;
      const before = events[a] as Event;
      pairs++;
      if (before.proc !== event.proc) crossProcess++;
      if (!(before.stamp < event.stamp)) violations.push({ before: a, after: index });
      // The total order must agree with happened-before too.
      if (
        compareStamps(
          { lamport: before.stamp, nodeId: before.proc },
          { lamport: event.stamp, nodeId: event.proc },
        ) >= 0
      ) {
        violations.push({ before: a, after: index });
      }
    }
  });
  return { pairs, crossProcess, violations };
}

interface ClockLike {
  tick(): number;
  receive(remote: number): number;
}

/** A random execution of 2..6 processes exchanging messages over a reordering network. */
function randomExecution(seed: number, makeClock: () => ClockLike): Event[] {
  const random = prng(seed);
  const processes = 2 + random(5);
  const steps = 20 + random(100);
  const clocks = Array.from({ length: processes }, makeClock);
  const last: Array<number | undefined> = new Array<number | undefined>(processes).fill(undefined);
  const network: Array<{ to: number; header: string; sendEvent: number }> = [];
  const events: Event[] = [];
  const record = (proc: number, stamp: number, extra: number[] = []): number => {
    const previous = last[proc];
    events.push({ proc, stamp, preds: [...(previous === undefined ? [] : [previous]), ...extra] });
    last[proc] = events.length - 1;
    return events.length - 1;
  };
  for (let step = 0; step < steps; step++) {
    const proc = random(processes);
    const clock = clocks[proc] as ClockLike;
    const action = random(100);
    const inbox = network.flatMap((message, index) => (message.to === proc ? [index] : []));
    if (action < 40 && inbox.length > 0) {
      // Any pending message, not the oldest: the network reorders.
      const [message] = network.splice(inbox[random(inbox.length)] as number, 1);
      if (!message) throw new Error('unreachable');
      // Stamps travel as header text, as they do over gRPC.
      const remote = parseLamportStamp(message.header);
      if (remote === undefined) throw new Error(`unparsable stamp ${message.header}`);
      record(proc, clock.receive(remote), [message.sendEvent]);
    } else if (action < 75) {
      const to = (proc + 1 + random(processes - 1)) % processes;
      const stamp = clock.tick();
      network.push({ to, header: String(stamp), sendEvent: record(proc, stamp) });
    } else {
      record(proc, clock.tick());
    }
  }
  return events;
}

describe('LamportClock', () => {
  it('ticks by one from its start for local events and sends', () => {
    const clock = new LamportClock();
    expect([clock.now(), clock.tick(), clock.tick(), clock.now()]).toEqual([0, 1, 2, 2]);
    expect(new LamportClock(41).tick()).toBe(42);
  });

  it('receive moves past both the local value and the remote stamp', () => {
    const clock = new LamportClock(10);
    expect(clock.receive(3)).toBe(11);
    expect(clock.receive(100)).toBe(101);
    expect(clock.receive(101)).toBe(102);
  });

  it.each([[-1], [1.5], [NaN], [Infinity], [MAX], ['5' as unknown as number]])(
    'receive(%p) throws and leaves the clock alone',
    (remote) => {
      const clock = new LamportClock(7);
      expect(() => clock.receive(remote)).toThrow(RangeError);
      expect(clock.now()).toBe(7);
    },
  );

  it('refuses an invalid start and stops at the top of the safe range instead of losing precision', () => {
    expect(() => new LamportClock(-3)).toThrow(RangeError);
    const clock = new LamportClock(MAX - 2);
    expect(clock.tick()).toBe(MAX - 1);
    expect(() => clock.tick()).toThrow('exhausted');
    expect(clock.now()).toBe(MAX - 1);
  });

  it('a memory-only clock has nothing to wait for before publishing', () => {
    const clock = new LamportClock();
    expect(clock.whenDurable(clock.tick())).toBeUndefined();
  });
});

describe('parseLamportStamp', () => {
  it.each([
    ['0', 0],
    ['42', 42],
    ['007', 7],
    [String(MAX - 1), MAX - 1],
  ])('accepts %p', (text, stamp) => {
    expect(parseLamportStamp(text)).toBe(stamp);
  });

  it.each([
    [''],
    [' 1'],
    ['1 '],
    ['+1'],
    ['-1'],
    ['1e3'],
    ['0x10'],
    ['1.0'],
    ['banana'],
    [String(MAX)],
    ['99999999999999999'],
    [Buffer.from('5')],
    [5],
    [undefined],
  ])('rejects %p without throwing', (value) => {
    expect(parseLamportStamp(value)).toBeUndefined();
  });

  it('agrees with isLamportStamp on numbers', () => {
    expect([0, 1, MAX - 1].every(isLamportStamp)).toBe(true);
    expect([-1, 0.5, MAX, NaN, '1'].some(isLamportStamp)).toBe(false);
  });
});

describe('compareStamps', () => {
  it('orders by Lamport value, then node id, so every node sorts events the same way', () => {
    const events: LamportStamp[] = [
      { lamport: 5, nodeId: 2 },
      { lamport: 3, nodeId: 3 },
      { lamport: 5, nodeId: 1 },
      { lamport: 3, nodeId: 1 },
    ];
    expect([...events].sort(compareStamps)).toEqual([
      { lamport: 3, nodeId: 1 },
      { lamport: 3, nodeId: 3 },
      { lamport: 5, nodeId: 1 },
      { lamport: 5, nodeId: 2 },
    ]);
    expect(compareStamps({ lamport: 4, nodeId: 2 }, { lamport: 4, nodeId: 2 })).toBe(0);
  });
});

describe('lamportLogMixin', () => {
  it('puts the current value on every log line without ticking', () => {
    const clock = new LamportClock(9);
    const lines: Array<{ lamport?: number; msg?: string }> = [];
    const logger = pino(
      { mixin: lamportLogMixin(clock) },
      { write: (line: string) => lines.push(JSON.parse(line) as { lamport?: number }) },
    );
    logger.info('first');
    clock.tick();
    logger.child({ component: 'x' }).warn('second');
    expect(lines.map((l) => [l.msg, l.lamport])).toEqual([
      ['first', 9],
      ['second', 10],
    ]);
    expect(clock.now()).toBe(10);
  });
});

describe('clock condition: a → b implies stamp(a) < stamp(b)', () => {
  const EXECUTIONS = 500;

  it(`holds for every happened-before pair in ${EXECUTIONS} random executions`, () => {
    let pairs = 0;
    let crossProcess = 0;
    for (let seed = 1; seed <= EXECUTIONS; seed++) {
      const events = randomExecution(seed, () => new LamportClock());
      const result = checkClockCondition(events);
      if (result.violations.length > 0) {
        const { before, after } = result.violations[0] as Violation;
        throw new Error(
          `seed ${seed}: event ${before} ${JSON.stringify(events[before])} → event ${after} ${JSON.stringify(events[after])}`,
        );
      }
      // (lamport, nodeId) names exactly one event: the total order has no ties between distinct events.
      expect(new Set(events.map((e) => `${e.stamp}/${e.proc}`)).size).toBe(events.length);
      pairs += result.pairs;
      crossProcess += result.crossProcess;
    }
    // Not vacuous: the executions contain plenty of causality across processes.
    expect(crossProcess).toBeGreaterThan(10_000);
    expect(pairs).toBeGreaterThan(crossProcess);
  });

  it('the check catches a clock that ignores received stamps', () => {
    // A clock that treats a receive as a local tick breaks the condition; if the harness passed it,
    // the property above would prove nothing.
    let violations = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const broken = () => {
        const clock = new LamportClock();
        return { tick: () => clock.tick(), receive: (_remote: number) => clock.tick() };
      };
      violations += checkClockCondition(randomExecution(seed, broken)).violations.length;
    }
    expect(violations).toBeGreaterThan(0);
  });
});

/**
 * A disk whose writes complete only when the test says so, and whose unfinished writes are lost in a
 * crash (their promises never settle: the process that waited on them is gone).
 */
class SimulatedDisk implements LamportStore {
  mark = 0;
  private pending: Array<{ upTo: number; resolve: () => void }> = [];

  load(): Promise<number> {
    return Promise.resolve(this.mark);
  }

  reserve(upTo: number): Promise<void> {
    return new Promise((resolve) => this.pending.push({ upTo, resolve }));
  }

  get busy(): boolean {
    return this.pending.length > 0;
  }

  completeOne(): void {
    const write = this.pending.shift();
    if (!write) return;
    this.mark = Math.max(this.mark, write.upTo);
    write.resolve();
  }

  crash(): void {
    this.pending = [];
  }
}

/** Lets every callback queued behind settled promises run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function openOn(disk: SimulatedDisk, block: number): Promise<PersistentLamportClock> {
  let opened: PersistentLamportClock | undefined;
  let failed: unknown;
  void PersistentLamportClock.open(disk, { block }).then(
    (clock) => (opened = clock),
    (error: unknown) => (failed = error),
  );
  while (!opened) {
    if (failed !== undefined) throw failed;
    await settle();
    disk.completeOne();
  }
  return opened;
}

interface DurableEvent extends Event {
  committed: boolean;
  lost: boolean;
}

/**
 * Like randomExecution, but each process keeps its clock in a SimulatedDisk, disk writes complete at
 * random moments, and processes crash and restart. An event counts (is committed) only once its
 * stamp is durable, and a message is put on the network only then: exactly what the interceptors do.
 * A crash forgets the process's uncommitted events, which form a suffix of its run.
 */
async function randomExecutionWithCrashes(
  seed: number,
  gated: boolean,
): Promise<{ events: Event[]; crashes: number }> {
  const random = prng(seed);
  const processes = 2 + random(4);
  const steps = 30 + random(120);
  const block = 1 + random(8);
  const disks = Array.from({ length: processes }, () => new SimulatedDisk());
  const clocks: PersistentLamportClock[] = [];
  for (const disk of disks) clocks.push(await openOn(disk, block));
  const events: DurableEvent[] = [];
  const network: Array<{ to: number; header: string; sendEvent: number }> = [];
  let crashes = 0;

  const record = (proc: number, stamp: number, extra: number[], onCommit?: (index: number) => void): void => {
    const event: DurableEvent = { proc, stamp, preds: extra, committed: false, lost: false };
    events.push(event);
    const index = events.length - 1;
    const commit = () => {
      event.committed = true;
      onCommit?.(index);
    };
    const gate = gated ? clocks[proc]?.whenDurable(stamp) : undefined;
    // SimulatedDisk never fails a write, so these gates resolve or (after a crash) never settle.
    if (gate === undefined) commit();
    else void gate.then(commit);
  };

  for (let step = 0; step < steps; step++) {
    const proc = random(processes);
    const clock = clocks[proc] as PersistentLamportClock;
    const disk = disks[proc] as SimulatedDisk;
    const action = random(100);
    const inbox = network.flatMap((message, index) => (message.to === proc ? [index] : []));
    if (action < 20) {
      disk.completeOne();
      await settle();
    } else if (action < 24) {
      // Crash: in-flight writes are lost, events not yet durable never happened as far as anyone knows.
      disk.crash();
      for (const event of events) if (event.proc === proc && !event.committed) event.lost = true;
      clocks[proc] = await openOn(disk, block);
      crashes++;
    } else if (action < 50 && inbox.length > 0) {
      const [message] = network.splice(inbox[random(inbox.length)] as number, 1);
      if (!message) throw new Error('unreachable');
      const remote = parseLamportStamp(message.header);
      if (remote === undefined) throw new Error(`unparsable stamp ${message.header}`);
      record(proc, clock.receive(remote), [message.sendEvent]);
    } else if (action < 80) {
      const to = (proc + 1 + random(processes - 1)) % processes;
      const stamp = clock.tick();
      record(proc, stamp, [], (index) => network.push({ to, header: String(stamp), sendEvent: index }));
    } else {
      record(proc, clock.tick(), []);
    }
  }
  while (disks.some((disk) => disk.busy)) {
    for (const disk of disks) disk.completeOne();
    await settle();
  }

  // Keep the committed events, renumber them, and add program order (which runs across restarts).
  const kept = events.flatMap((event, index) => (event.committed && !event.lost ? [index] : []));
  const renumber = new Map(kept.map((old, index) => [old, index]));
  const last = new Map<number, number>();
  const result: Event[] = kept.map((old, index) => {
    const event = events[old] as DurableEvent;
    const previous = last.get(event.proc);
    last.set(event.proc, index);
    const messagePreds = event.preds.map((pred) => {
      const mapped = renumber.get(pred);
      // A message is only released once its send is committed, so its send is always kept.
      if (mapped === undefined) throw new Error(`seed ${seed}: receive of a message whose send was lost`);
      return mapped;
    });
    return {
      proc: event.proc,
      stamp: event.stamp,
      preds: [...(previous === undefined ? [] : [previous]), ...messagePreds],
    };
  });
  return { events: result, crashes };
}

describe('clock condition across crashes with a persisted clock', () => {
  const EXECUTIONS = 300;

  it(`holds in ${EXECUTIONS} random executions with random disk latency, crashes and restarts`, async () => {
    let crashes = 0;
    let pairs = 0;
    for (let seed = 1; seed <= EXECUTIONS; seed++) {
      const execution = await randomExecutionWithCrashes(seed, true);
      const result = checkClockCondition(execution.events);
      if (result.violations.length > 0) {
        const { before, after } = result.violations[0] as Violation;
        const events = execution.events;
        throw new Error(
          `seed ${seed}: event ${before} ${JSON.stringify(events[before])} → event ${after} ${JSON.stringify(events[after])}`,
        );
      }
      crashes += execution.crashes;
      pairs += result.pairs;
    }
    expect(crashes).toBeGreaterThan(EXECUTIONS);
    expect(pairs).toBeGreaterThan(10_000);
  });

  it('the check catches publishing stamps before they are durable', async () => {
    // Without waiting on whenDurable, a restart resumes below stamps that already left the process.
    let violations = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const execution = await randomExecutionWithCrashes(seed, false);
      violations += checkClockCondition(execution.events).violations.length;
    }
    expect(violations).toBeGreaterThan(0);
  });
});

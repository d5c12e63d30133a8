import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FileLamportStore,
  LamportPersistError,
  LamportStoreCorruptError,
  MemoryLamportStore,
  PersistentLamportClock,
} from '../lamport-store';
import type { LamportStore } from '../lamport-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-lamport-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Publishes a stamp the way the interceptors do: only once it is durable. */
async function publish(clock: PersistentLamportClock, stamp: number): Promise<number> {
  await clock.whenDurable(stamp);
  return stamp;
}

/** A store that can be told to fail, as a full or read-only disk would. */
class FlakyStore implements LamportStore {
  failing = false;
  readonly inner = new MemoryLamportStore();

  load(): Promise<number> {
    return this.inner.load();
  }

  reserve(upTo: number): Promise<void> {
    return this.failing
      ? Promise.reject(new Error('ENOSPC: no space left on device'))
      : this.inner.reserve(upTo);
  }
}

describe('FileLamportStore', () => {
  it('reads a missing file as 0 (first start) and creates the file and its directory on the first reservation', async () => {
    const file = path.join(dir, 'node-1', 'lamport');
    const store = new FileLamportStore(file);
    expect(await store.load()).toBe(0);
    await store.reserve(1000);
    expect(readFileSync(file, 'utf8')).toBe('1000\n');
    expect(await new FileLamportStore(file).load()).toBe(1000);
  });

  it('never lowers the mark, whatever order concurrent reservations arrive in, and leaves no temporary file', async () => {
    const file = path.join(dir, 'lamport');
    const store = new FileLamportStore(file);
    await Promise.all([store.reserve(500), store.reserve(300), store.reserve(700), store.reserve(600)]);
    expect(await new FileLamportStore(file).load()).toBe(700);
    // A fresh store object that never loaded must not overwrite a higher mark either.
    await new FileLamportStore(file).reserve(10);
    expect(readFileSync(file, 'utf8')).toBe('700\n');
    expect(readdirSync(dir)).toEqual(['lamport']);
  });

  it.each([
    ['empty', ''],
    ['text', 'banana\n'],
    ['negative', '-5\n'],
    ['fraction', '12.5\n'],
    ['beyond the safe range', '99999999999999999\n'],
    ['two numbers', '12\n13\n'],
    ['JSON', '{"reserved":5}\n'],
  ])(
    'refuses a corrupt (%s) file with a clear error instead of restarting from 0',
    async (_kind, content) => {
      const file = path.join(dir, 'lamport');
      writeFileSync(file, content);
      await expect(new FileLamportStore(file).load()).rejects.toThrow(LamportStoreCorruptError);
      await expect(PersistentLamportClock.open(new FileLamportStore(file))).rejects.toThrow(
        `Lamport mark file ${file} is corrupt`,
      );
      await expect(new FileLamportStore(file).reserve(5000)).rejects.toThrow(LamportStoreCorruptError);
      // The evidence is left for the operator, not overwritten.
      expect(readFileSync(file, 'utf8')).toBe(content);
    },
  );

  it('fails loudly when the mark cannot be written', async () => {
    writeFileSync(path.join(dir, 'plain-file'), '');
    const store = new FileLamportStore(path.join(dir, 'plain-file', 'lamport'));
    await expect(store.reserve(10)).rejects.toThrow(/ENOTDIR|EEXIST/);
    await expect(PersistentLamportClock.open(store)).rejects.toThrow(/ENOTDIR/);
  });
});

describe('PersistentLamportClock', () => {
  it('resumes above every stamp it ever published, across many crashes, and never goes backwards', async () => {
    let highestPublished = 0;
    for (let run = 0; run < 6; run++) {
      // Each run works on its own copy of the file as it was at the previous crash, so a write the
      // dead clock still had in flight cannot help the next run.
      const file = path.join(dir, `run-${run}`);
      const clock = await PersistentLamportClock.open(new FileLamportStore(file), { block: 100 });
      const first = await publish(clock, clock.tick());
      expect(first).toBeGreaterThan(highestPublished);
      for (let i = 0; i < 250; i++) highestPublished = await publish(clock, clock.tick());
      // A peer far ahead: the jump itself must be covered before the stamp is published.
      highestPublished = await publish(clock, clock.receive(highestPublished + 5_000 * (run + 1)));
      for (let i = 0; i < 37; i++) clock.tick(); // handed out but never published: allowed to be forgotten
      expect(clock.durableMark).toBeGreaterThanOrEqual(highestPublished);
      // The crash: the disk image is kept, the object is dropped with no flush and no goodbye.
      copyFileSync(file, path.join(dir, `run-${run + 1}`));
    }
  });

  it('a restart resumes exactly at the stored mark', async () => {
    const store = new MemoryLamportStore(4242);
    const clock = await PersistentLamportClock.open(store, { block: 10 });
    expect(clock.now()).toBe(4242);
    expect(clock.tick()).toBe(4243);
    expect(store.mark).toBe(4252);
  });

  it('writes about once per half block, and a steady stream of sends never waits for the disk', async () => {
    const store = new MemoryLamportStore();
    const clock = await PersistentLamportClock.open(store);
    let waits = 0;
    for (let i = 0; i < 10_000; i++) {
      const gate = clock.whenDurable(clock.tick());
      if (gate) {
        waits++;
        await gate;
      }
      // One call per turn of the event loop, roughly: the background reservation gets to run.
      await Promise.resolve();
    }
    expect(waits).toBe(0);
    expect(store.writes).toBeLessThanOrEqual(21);
    expect(store.mark).toBeGreaterThan(clock.now());
  });

  it('a send after a jump past the reservation waits until the jump is durable', async () => {
    const store = new MemoryLamportStore();
    const clock = await PersistentLamportClock.open(store, { block: 100 });
    const stamp = clock.receive(1_000_000);
    expect(clock.durableMark).toBeLessThan(stamp);
    const gate = clock.whenDurable(stamp);
    expect(gate).toBeInstanceOf(Promise);
    await gate;
    expect(clock.durableMark).toBeGreaterThanOrEqual(stamp);
    expect(store.mark).toBeGreaterThanOrEqual(stamp);
    expect(clock.whenDurable(stamp)).toBeUndefined();
  });

  it('fails waiting sends when the store fails, then recovers when the store does', async () => {
    const store = new FlakyStore();
    const clock = await PersistentLamportClock.open(store, { block: 10 });
    store.failing = true;
    const stamp = clock.receive(500);
    await expect(clock.whenDurable(stamp)).rejects.toThrow(LamportPersistError);
    await expect(clock.whenDurable(stamp)).rejects.toThrow('ENOSPC');
    store.failing = false;
    await clock.whenDurable(clock.tick());
    expect(store.inner.mark).toBeGreaterThan(stamp);
  });

  it('refuses to start on a store it cannot write', async () => {
    const store = new FlakyStore();
    store.failing = true;
    await expect(PersistentLamportClock.open(store)).rejects.toThrow(LamportPersistError);
  });

  it('rejects a reservation block that is not a positive integer', async () => {
    await expect(PersistentLamportClock.open(new MemoryLamportStore(), { block: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(PersistentLamportClock.open(new MemoryLamportStore(), { block: 2.5 })).rejects.toThrow(
      RangeError,
    );
  });

  it('flush waits for the reservation in flight', async () => {
    const file = path.join(dir, 'lamport');
    const clock = await PersistentLamportClock.open(new FileLamportStore(file), { block: 10 });
    clock.receive(90_000);
    await clock.flush();
    expect(Number(readFileSync(file, 'utf8'))).toBeGreaterThanOrEqual(90_001);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });
});

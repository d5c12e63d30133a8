import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LogFollower, readTimeline } from '../follow';
import type { Entry } from '../merge';
import { DirectoryTail } from '../tail';

const line = (lamport: number, msg: string): string =>
  `${JSON.stringify({ level: 30, time: new Date(Date.UTC(2030, 0, 1) + lamport).toISOString(), lamport, msg })}\n`;

/** Waits for a condition by polling; fails with `what` if it does not come (no durations asserted). */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'marquee-logs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('reading a log directory', () => {
  it('merges every *.log file in it and ignores other files', async () => {
    writeFileSync(path.join(dir, 'booking-1.log'), line(1, 'a') + line(4, 'd'));
    writeFileSync(path.join(dir, 'booking-2.log'), line(3, 'c'));
    // A one-off read shows a last line that has no newline yet.
    writeFileSync(path.join(dir, 'gateway-1.log'), line(2, 'b') + line(5, 'e').trimEnd());
    writeFileSync(path.join(dir, 'notes.txt'), line(0, 'not a log'));
    expect((await readTimeline(dir)).map((e) => e.record.msg)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('reads a file of a few hundred thousand lines in one go', async () => {
    const count = 300_000;
    writeFileSync(path.join(dir, 'booking-1.log'), '{"lamport":1}\n'.repeat(count));
    expect(await readTimeline(dir)).toHaveLength(count);
  });

  it('holds a line until its newline is written, a UTF-8 character cut in two included', async () => {
    const file = path.join(dir, 'catalog.log');
    const bytes = Buffer.from('{"lamport":1,"msg":"café"}\n');
    writeFileSync(file, bytes.subarray(0, bytes.length - 4)); // cuts the two bytes of é apart
    const tail = new DirectoryTail(dir);
    expect(await tail.read()).toEqual([]);
    appendFileSync(file, bytes.subarray(bytes.length - 4));
    expect((await tail.read()).map((l) => l.text)).toEqual(['{"lamport":1,"msg":"café"}']);
  });

  it('reads a truncated file again from its start, still counting its lines up', async () => {
    const file = path.join(dir, 'booking-3.log');
    writeFileSync(file, line(1, 'old') + line(2, 'old'));
    const tail = new DirectoryTail(dir);
    expect((await tail.read()).map((l) => l.seq)).toEqual([1, 2]);
    truncateSync(file, 0);
    appendFileSync(file, line(3, 'new'));
    expect(await tail.read()).toEqual([{ source: 'booking-3', seq: 3, text: line(3, 'new').trim() }]);
  });
});

describe('following a log directory', () => {
  let follower: LogFollower | undefined;
  afterEach(async () => {
    await follower?.stop();
    follower = undefined;
  });

  it('merges appended lines of two files and a new file in Lamport order, and stops cleanly', async () => {
    writeFileSync(path.join(dir, 'booking-1.log'), line(10, 'b1 start'));
    writeFileSync(path.join(dir, 'booking-2.log'), line(11, 'b2 start'));
    const emitted: Entry[] = [];
    const errors: unknown[] = [];
    // A window far longer than the test: nothing is released before stop(), so the order checked
    // below is the window's doing, whatever the timing of the reads.
    follower = LogFollower.start({
      dir,
      windowMs: 600_000,
      pollMs: 20,
      onEntries: (entries) => emitted.push(...entries),
      onError: (error) => errors.push(error),
    });
    const current = follower;
    await until('the existing lines', () => current.held === 2);

    appendFileSync(path.join(dir, 'booking-1.log'), line(30, 'b1 late stamp'));
    appendFileSync(path.join(dir, 'booking-2.log'), line(20, 'b2 early stamp'));
    await until('the appended lines', () => current.held === 4);
    writeFileSync(path.join(dir, 'gateway-1.log'), line(25, 'new file'));
    await until('the new file', () => current.held === 5);

    expect(emitted).toEqual([]);
    await follower.stop();
    expect(emitted.map((e) => e.record.msg)).toEqual([
      'b1 start',
      'b2 start',
      'b2 early stamp',
      'new file',
      'b1 late stamp',
    ]);
    expect(errors).toEqual([]);
    // Stopped means stopped: more lines are not read.
    appendFileSync(path.join(dir, 'booking-1.log'), line(40, 'after stop'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(emitted).toHaveLength(5);
  });

  it('releases lines on its own once their window has passed', async () => {
    writeFileSync(path.join(dir, 'booking-1.log'), line(1, 'first'));
    const emitted: string[] = [];
    follower = LogFollower.start({
      dir,
      windowMs: 20,
      pollMs: 20,
      onEntries: (entries) => emitted.push(...entries.map((e) => e.record.msg)),
      onError: (error) => {
        throw error;
      },
    });
    await until('the first line', () => emitted.length === 1);
    appendFileSync(path.join(dir, 'booking-1.log'), line(2, 'second') + line(3, 'third'));
    await until('the appended lines', () => emitted.length === 3);
    expect(emitted).toEqual(['first', 'second', 'third']);
  });

  it('reports a vanished directory once and keeps going', async () => {
    const errors: unknown[] = [];
    follower = LogFollower.start({
      dir,
      windowMs: 0,
      pollMs: 10,
      onEntries: () => undefined,
      onError: (error) => errors.push(error),
    });
    rmSync(dir, { recursive: true });
    await until('an error', () => errors.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100)); // several more polls
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

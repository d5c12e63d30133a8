import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogFollower, bookingLogFile, electionEvents, electionsFromEvents } from '../logs';

describe('election events from a node log', () => {
  const text = [
    JSON.stringify({ level: 30, time: '2030-01-01T00:00:01.000Z', lamport: 41, msg: 'started' }),
    JSON.stringify({
      level: 30,
      time: '2030-01-01T00:00:02.500Z',
      lamport: 57,
      component: 'election',
      event: 'role',
      role: 'master',
      term: 5,
      masterId: 2,
      msg: 'election: master in term 5',
    }),
    'not json at all',
    JSON.stringify({
      time: '2030-01-01T00:00:03.000Z',
      lamport: 60,
      event: 'role',
      role: 'slave',
      term: 6,
      masterId: 3,
    }),
    JSON.stringify({
      time: '2030-01-01T00:00:03.100Z',
      lamport: 61,
      event: 'catch-up',
      fromNode: 1,
      upToIndex: 40,
    }),
    '{"time":"2030-01-01T00:00:04.000Z","event":"role","role":"mas', // cut mid-line
  ].join('\n');

  it('keeps role and catch-up lines with their wall time and Lamport stamp', () => {
    const events = electionEvents(text, 2);
    expect(events.map((e) => [e.wallMs - Date.parse('2030-01-01T00:00:00Z'), e.lamport, e.text])).toEqual([
      [2500, 57, 'log: became master in term 5'],
      [3000, 60, 'log: became slave in term 6 (master node 3)'],
      [3100, 61, 'log: catch-up needed from node 1 up to index 40'],
    ]);
    expect(events.every((e) => e.node === 2 && e.kind === 'election')).toBe(true);
  });

  it('lists the masters the logs announce, for the one-master-per-term rule', () => {
    expect(electionsFromEvents(electionEvents(text, 2))).toEqual([{ term: 5, masterId: 2 }]);
  });
});

describe('following the nodes’ logs', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-chaos-logs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads booking-N.log in the directory it is given, only what was appended since it was made', () => {
    const line = (term: number) =>
      `${JSON.stringify({ time: '2030-01-01T00:00:05.000Z', event: 'role', role: 'master', term })}\n`;
    expect(bookingLogFile(dir, 3)).toBe(path.join(dir, 'booking-3.log'));
    writeFileSync(bookingLogFile(dir, 3), line(1));
    const follower = new LogFollower(dir, [1, 3]);
    appendFileSync(bookingLogFile(dir, 3), line(2));
    expect(follower.events().map((e) => [e.node, e.term])).toEqual([[3, 2]]);
  });
});

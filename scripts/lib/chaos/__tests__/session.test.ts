import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StackControlClient, StackDescription, StackNodeInfo } from '../../stack-control';
import { ChaosSession } from '../session';

/*
 * Where a chaos session reads the nodes' election lines: the directory stack.json names. Under
 * `npm start` that is .data/logs, beside the data dir (.data/local) that holds stack.json, not in it.
 * The nodes answer nothing here (nothing listens on their peer addresses); only their logs speak.
 */

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-chaos-session-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A node's pino line saying it became master in `term`, stamped now. */
function roleLine(term: number, masterId: number): string {
  const line = { time: new Date().toISOString(), lamport: 90 + term, event: 'role', role: 'master' };
  return `${JSON.stringify({ ...line, term, masterId })}\n`;
}

it("follows booking-N.log in the description's logsDir, not in <dataDir>/logs", async () => {
  const logsDir = path.join(dir, 'logs');
  // Where the logs were before they moved out of the data dir: a decoy, never read.
  const oldLogs = path.join(dir, 'local', 'logs');
  for (const d of [logsDir, oldLogs]) mkdirSync(d, { recursive: true });
  // Written before the run: the follower starts at the end of the file.
  writeFileSync(path.join(logsDir, 'booking-1.log'), roleLine(3, 1));
  const nodes: StackNodeInfo[] = [1, 2].map((id) => ({
    id,
    pid: undefined,
    state: 'running',
    partitioned: false,
    clientAddress: '127.0.0.1:1',
    peerAddress: '127.0.0.1:1',
    database: `marquee_booking_${id}`,
  }));
  const description: StackDescription = {
    controlUrl: 'http://127.0.0.1:1',
    grpcAddress: '127.0.0.1:1',
    mysqlUrl: '',
    catalogAddress: '127.0.0.1:1',
    recommendationAddress: '127.0.0.1:1',
    tokenSecret: '',
    adminEmail: '',
    adminPassword: '',
    logsDir,
    nodes,
  };
  // The session asks the control API for the nodes once; nothing else of it runs without faults.
  const control = { nodes: async () => nodes } as Pick<StackControlClient, 'nodes'> as StackControlClient;
  const session = await ChaosSession.open({ description, control, workers: 0 });
  appendFileSync(path.join(logsDir, 'booking-2.log'), roleLine(7, 2));
  appendFileSync(path.join(oldLogs, 'booking-2.log'), roleLine(9, 2));
  const report = await session.close();
  expect(report.events.filter((e) => e.kind === 'election').map((e) => [e.node, e.text])).toEqual([
    [2, 'log: became master in term 7'],
  ]);
  expect(report.elections).toEqual([{ term: 7, masterId: 2 }]);
});

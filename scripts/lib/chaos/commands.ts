import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackControlClient, readStackDescription } from '../stack-control';
import type { EtcdInfo, StackDescription, StackNodeInfo } from '../stack-control';
import type { ChaosArgs } from './args';
import { StatusObserver, describeView, sleep } from './observer';
import type { NodeView } from './observer';
import { runEtcdCommand } from './etcd-fault';
import { ChaosSession, formatStats } from './session';
import type { SessionReport } from './session';
import { formatSoakSummary, runSoak } from './soak';
import { Timeline, formatTimeline } from './timeline';
import { renderTimelineSvg } from './timeline-svg';

/*
 * The chaos commands, each a short sequence of session steps, then the timeline printed as text and
 * drawn as SVG. They return the process exit code.
 */

export interface CommandIo {
  out: (line: string) => void;
  /** Where relative paths (data dir, out dir) are resolved. */
  cwd: string;
}

const WATCH_MS = 20_000;

export async function runCommand(args: ChaosArgs, io: CommandIo): Promise<number> {
  const dataDir = path.resolve(io.cwd, args.dataDir);
  const description = readStackDescription(dataDir);
  const control = new StackControlClient(description.controlUrl);
  if (args.command === 'status') return status(description, control, io);
  const session = await ChaosSession.open({
    description,
    control,
    workers: args.command === 'heal' || args.command === 'restart' ? 0 : args.workers,
    log: (line) => io.out(`  … ${line}`),
  });
  if (args.command === 'soak') {
    const result = await runSoak(session, control, description.mysqlUrl, {
      cycles: args.cycles,
      pauseMs: args.pauseMs,
    });
    printReport(result.report, `soak: ${args.cycles} cycle${args.cycles === 1 ? '' : 's'}`, args, io);
    for (const line of formatSoakSummary(result)) io.out(line);
    return result.verify.violations.length === 0 ? 0 : 1;
  }
  let hint = '';
  let title = args.command as string;
  let summary: string[] = [];
  try {
    const master = session.master();
    if (args.command === 'kill-etcd' || args.command === 'pause-etcd' || args.command === 'restart-etcd') {
      const result = await runEtcdCommand(args.command, session, control, args.pauseMs);
      ({ title, summary } = result);
      hint = result.hint ?? '';
    } else if (args.command === 'kill-master' || args.command === 'pause-master') {
      if (!master) throw new Error(`no master to fault (${session.describeNodes()})`);
      const injectedMs = Date.now();
      if (args.command === 'kill-master') {
        title = `kill-master: SIGKILL node ${master.id}`;
        await session.inject('kill', master.id);
        await watchFailover(session, master.term, injectedMs);
        // Locally and in Compose nothing restarts it; a Kubernetes StatefulSet brings the pod back.
        hint = `node ${master.id} stays down unless something restarts it (Kubernetes does): npm run chaos -- restart ${master.id}`;
      } else {
        title = `pause-master: SIGSTOP node ${master.id} for ${args.pauseMs} ms`;
        await session.inject('pause', master.id);
        await sleep(args.pauseMs);
        await session.undo('pause', master.id);
        await session.settle(WATCH_MS);
      }
    } else if (args.command === 'partition') {
      const node = args.node!;
      title = `partition node ${node}`;
      const wasMaster = master?.id === node;
      const injectedMs = Date.now();
      await session.inject('partition', node);
      if (wasMaster) await watchFailover(session, master.term, injectedMs);
      else await sleep(3000);
      hint = `node ${node} stays cut off: npm run chaos -- heal ${node}`;
    } else if (args.command === 'heal') {
      const targets =
        args.node !== undefined
          ? [args.node]
          : (await control.nodes()).filter((n) => n.partitioned).map((n) => n.id);
      title = `heal ${targets.length === 0 ? '(nothing partitioned)' : targets.map((n) => `node ${n}`).join(', ')}`;
      for (const node of targets) await session.undo('partition', node);
      await session.settle(WATCH_MS);
    } else if (args.command === 'restart') {
      title = `restart node ${args.node!}`;
      await session.undo('kill', args.node!);
      await session.settle(WATCH_MS);
    }
  } finally {
    const report = await session.close();
    printReport(report, title, args, io);
    if (report.stats) io.out(`workload: ${formatStats(report.stats)}`);
    for (const line of summary) io.out(line);
    if (hint) io.out(hint);
  }
  return 0;
}

/** After a fault on the master: wait for a new master, then for its first acknowledged write. */
async function watchFailover(session: ChaosSession, term: number, injectedMs: number): Promise<void> {
  const elected = await session.waitForNewMaster(term, WATCH_MS);
  if (!elected) {
    session.note(`no new master within ${WATCH_MS} ms`);
    return;
  }
  if (session.workload && !(await session.waitForWriteBy(elected.id, injectedMs, 10_000)))
    session.note(`node ${elected.id} acknowledged no write within 10 s`);
}

function printReport(report: SessionReport, title: string, args: ChaosArgs, io: CommandIo): void {
  io.out(`timeline (${new Date(report.startMs).toISOString()} = +0 ms):`);
  for (const line of formatTimeline(report.events, report.acks, report.startMs)) io.out(line);
  const file = writeSvg(report, title, args, io);
  io.out(`picture: ${file}`);
}

export function svgFileName(startMs: number, command: string): string {
  return `${new Date(startMs).toISOString().replace(/:/g, '-')}-${command}.svg`;
}

function writeSvg(report: SessionReport, title: string, args: ChaosArgs, io: CommandIo): string {
  const dir = path.resolve(io.cwd, args.outDir);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, svgFileName(report.startMs, args.command));
  writeFileSync(
    file,
    renderTimelineSvg({
      title,
      nodes: report.nodes,
      events: report.events,
      acks: report.acks,
      startMs: report.startMs,
      endMs: report.endMs,
    }),
  );
  return path.relative(io.cwd, file) || file;
}

/** `status`: the control API's view of each process, and each node's own Status answer. */
async function status(
  description: StackDescription,
  control: StackControlClient,
  io: CommandIo,
): Promise<number> {
  const nodes = await control.nodes();
  const observer = new StatusObserver(
    nodes.map((n) => ({ id: n.id, peerAddress: n.peerAddress })),
    new Timeline(Date.now()),
    { deadlineMs: 500 },
  );
  observer.start();
  await observer.waitFor(() => nodes.every((n) => observer.view(n.id) !== undefined), 1500);
  await observer.stop();
  io.out(`stack: front door ${description.grpcAddress}, control ${description.controlUrl}`);
  for (const node of nodes) io.out(statusLine(node, observer));
  const master = observer.master();
  io.out(master ? `master: node ${master.id} (term ${master.term})` : 'master: none serving writes');
  // Asked live: stack.json is only rewritten after an operation.
  const etcd = description.etcd ? await control.etcd() : undefined;
  io.out(etcdLine(etcd, master ? observer.view(master.id) : undefined));
  return 0;
}

function statusLine(node: StackNodeInfo, observer: StatusObserver): string {
  const view = observer.view(node.id);
  const process = `${node.state}${node.pid === undefined ? '' : ` pid ${node.pid}`}${node.partitioned ? ', PARTITIONED' : ''}`;
  const seen = view ? `${describeView(view)}, L=${view.lamport}` : 'no Status answer';
  return `node ${node.id}: ${process}; ${seen}; client ${node.clientAddress}, peer ${node.peerAddress}, db ${node.database}`;
}

/** The booking group's etcd as stack.json describes it, and the lease as the master reports it. */
function etcdLine(etcd: EtcdInfo | undefined, masterView: NodeView | undefined): string {
  if (!etcd) return 'etcd: none started by the stack (MARQUEE_ETCD_ENDPOINTS was set)';
  const lease =
    masterView === undefined
      ? 'lease: no master to ask'
      : masterView.etcdLeaseHolder === 0
        ? 'lease: no holder known'
        : `lease held by node ${masterView.etcdLeaseHolder}, fencing token ${masterView.etcdLeaseToken}`;
  return `etcd: ${etcd.endpoint} ${etcd.state}${etcd.pid === undefined ? '' : ` pid ${etcd.pid}`}; ${lease}`;
}

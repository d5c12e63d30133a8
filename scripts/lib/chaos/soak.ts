import type { StackControlClient } from '../stack-control';
import { sleep } from './observer';
import type { ChaosSession, SessionReport } from './session';
import { formatCounts } from './session';
import { describeFailover, figures } from './timeline';
import type { FaultKind } from './timeline';
import { describePositions, verifyNodes } from './verify';
import type { VerifyResult } from './verify';

/*
 * The soak: under a running booking workload, N cycles of
 *   kill the master → a new master → its first acknowledged write → restart the old one → settle;
 *   pause the master for a while → resume → settle;
 *   partition the master → a new master → its first write → heal → settle;
 * then stop the workload, wait until every node applied the whole log, and check the invariants.
 * No step fails on timing: a missing new master or write is reported, and the invariants decide.
 */

export interface SoakOptions {
  cycles: number;
  faults?: readonly FaultKind[];
  /** How long pause-master keeps the master stopped. */
  pauseMs?: number;
  /** Bound on each wait (new master, first write, settle). */
  stepTimeoutMs?: number;
}

export interface SoakStep {
  cycle: number;
  fault: FaultKind;
  node: number;
  /** A new master was observed after the fault. */
  newMaster?: number;
  /** The new master acknowledged a write after the fault. */
  wroteAfter: boolean;
  /** A master served and everyone agreed again after the fault was undone. */
  settled: boolean;
}

export interface SoakResult {
  steps: SoakStep[];
  report: SessionReport;
  verify: VerifyResult;
  masterId: number;
}

export async function runSoak(
  session: ChaosSession,
  control: StackControlClient,
  mysqlUrl: string,
  options: SoakOptions,
): Promise<SoakResult> {
  const faults = options.faults ?? (['kill', 'pause', 'partition'] as const);
  const timeout = options.stepTimeoutMs ?? 20_000;
  const steps: SoakStep[] = [];
  let report: SessionReport | undefined;
  try {
    for (let cycle = 1; cycle <= options.cycles; cycle++)
      for (const fault of faults) {
        const master = (await session.settle(timeout)) ?? session.master();
        if (!master) throw new Error(`cycle ${cycle}: no master to fault (${session.describeNodes()})`);
        session.log(
          `cycle ${cycle}/${options.cycles}: ${fault} the master, node ${master.id} (term ${master.term})`,
        );
        const step: SoakStep = { cycle, fault, node: master.id, wroteAfter: false, settled: false };
        steps.push(step);
        const injectedMs = Date.now();
        await session.inject(fault, master.id);
        if (fault === 'pause') {
          // The group may or may not elect someone during the pause: watch for it, resume on time.
          const elected = session.waitForNewMaster(master.term, options.pauseMs ?? 1500);
          await sleep(options.pauseMs ?? 1500);
          step.newMaster = (await elected)?.id;
          if (step.newMaster !== undefined)
            step.wroteAfter = await session.waitForWriteBy(step.newMaster, injectedMs, 0);
          await session.undo(fault, master.id);
        } else {
          step.newMaster = (await session.waitForNewMaster(master.term, timeout))?.id;
          if (step.newMaster !== undefined)
            step.wroteAfter = await session.waitForWriteBy(step.newMaster, injectedMs, timeout);
          await session.undo(fault, master.id);
        }
        const settled = await session.settle(timeout);
        step.settled = settled !== undefined;
        if (step.newMaster === undefined && settled && settled.term > master.term)
          step.newMaster = settled.id;
        if (!step.wroteAfter && settled)
          step.wroteAfter = (session.timeline.lastAckMs(settled.id) ?? -Infinity) > injectedMs;
      }
    const finalMaster = (await session.settle(timeout)) ?? session.master();
    await session.stopWorkload();
    report = await session.close();
    if (!finalMaster) throw new Error(`no master after the soak (${session.describeNodes()})`);
    const nodes = (await control.nodes()).filter((n) => n.state === 'running' && !n.partitioned);
    session.log(
      `checking invariants on nodes ${nodes.map((n) => n.id).join(', ')} (master ${finalMaster.id})`,
    );
    const verify = await verifyNodes({
      mysqlUrl,
      nodes,
      masterId: finalMaster.id,
      acknowledged: session.workload?.acknowledged() ?? [],
      elections: report.elections,
    });
    return { steps, report, verify, masterId: finalMaster.id };
  } finally {
    if (!report) await session.close();
  }
}

/** The soak's summary, one line each: steps, failover times, bookings, errors, convergence, verdict. */
export function formatSoakSummary(result: SoakResult): string[] {
  const lines: string[] = [];
  lines.push('soak summary:');
  for (const step of result.steps)
    lines.push(
      `  cycle ${step.cycle} ${step.fault} node ${step.node}: ` +
        `${step.newMaster === undefined ? 'no new master seen' : `new master node ${step.newMaster}`}, ` +
        `${step.wroteAfter ? 'writes acknowledged after it' : 'NO write acknowledged after it'}, ` +
        `${step.settled ? 'settled' : 'did NOT settle'}`,
    );
  for (const f of result.report.failovers) lines.push(`  failover: ${describeFailover(f)}`);
  const stats = result.report.stats;
  if (stats) {
    lines.push(`  bookings acknowledged: ${stats.acknowledged} (${stats.cancelled} then cancelled)`);
    lines.push(`  failed attempts by code: ${formatCounts(stats.attemptErrors)}`);
    lines.push(`  failed operations: ${formatCounts(stats.failures)}`);
  }
  lines.push(
    `  convergence: ${result.verify.converged ? 'all nodes applied the whole log' : 'NOT converged'} (${describePositions(result.verify.positions)})`,
  );
  lines.push(`  invariants: ${result.verify.report.split('\n').join('\n  ')}`);
  return lines;
}

/** Median time to a new master, over the faults where one was seen (for titles). */
export function soakTitle(result: SoakResult, cycles: number): string {
  const masters = result.report.failovers.map((f) => figures(f).toMasterMs).filter((v) => v !== undefined);
  return `chaos soak: ${cycles} cycle${cycles === 1 ? '' : 's'}, ${result.report.failovers.length} faults, ${masters.length} failovers seen`;
}

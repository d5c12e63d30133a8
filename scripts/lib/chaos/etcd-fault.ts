import type { EtcdInfo, EtcdOp, StackControlClient } from '../stack-control';
import { sleep } from './observer';
import type { ChaosSession } from './session';
import type { Ack } from './timeline';

/*
 * Faults on the booking group's etcd (kill-etcd, pause-etcd, restart-etcd). etcd only holds the
 * fallback lease, so the point each command makes is what does NOT happen: with etcd gone the master
 * keeps its term and keeps acknowledging writes (bully + quorum alone), and when etcd is back the
 * master takes its own key again (a new fencing token), still without a term change. The window is
 * summarised from the workload's acknowledged writes; the timeline shows them as they came.
 */

/** After etcd returns: long enough for a lease poll (a sixth of the 2 s TTL) and a campaign. */
const AFTER_RETURN_MS = 3000;

export interface EtcdWindow {
  /** Writes acknowledged in [fromMs, toMs]. */
  acknowledged: number;
  /** The longest stretch of the window with no acknowledged write (its edges count as writes). */
  longestGapMs: number;
}

/** What the workload saw between `fromMs` and `toMs` (pure). */
export function etcdWindow(acks: readonly Ack[], fromMs: number, toMs: number): EtcdWindow {
  const inside = acks
    .map((a) => a.wallMs)
    .filter((at) => at >= fromMs && at <= toMs)
    .sort((a, b) => a - b);
  let longestGapMs = 0;
  let previous = fromMs;
  for (const at of [...inside, toMs]) {
    longestGapMs = Math.max(longestGapMs, at - previous);
    previous = at;
  }
  return { acknowledged: inside.length, longestGapMs: Math.round(longestGapMs) };
}

export function describeWindow(
  what: string,
  window: EtcdWindow,
  termBefore?: number,
  termAfter?: number,
): string {
  const terms =
    termBefore === undefined || termAfter === undefined
      ? 'term unknown'
      : termBefore === termAfter
        ? `term ${termAfter} throughout (no election)`
        : `term ${termBefore} → ${termAfter}`;
  return (
    `${what}: ${window.acknowledged} writes acknowledged, longest gap between them ${window.longestGapMs} ms; ` +
    terms
  );
}

/** Runs one etcd command; returns the timeline title and the summary lines to print. */
export async function runEtcdCommand(
  command: 'kill-etcd' | 'pause-etcd' | 'restart-etcd',
  session: ChaosSession,
  control: StackControlClient,
  ms: number,
): Promise<{ title: string; summary: string[]; hint?: string }> {
  const before = await control.etcd();
  const termBefore = session.master()?.term;
  const startMs = Date.now();
  const summary: string[] = [];
  const window = (what: string, fromMs: number): void => {
    const text = describeWindow(
      what,
      etcdWindow(session.timeline.acks(), fromMs, Date.now()),
      termBefore,
      session.master()?.term,
    );
    session.note(text);
    summary.push(text);
  };
  if (command === 'kill-etcd') {
    await op(
      session,
      control,
      'kill',
      'etcd SIGKILL (the fallback lease store; writes go on on bully + quorum)',
    );
    await sleep(ms);
    window(`etcd down for ${ms} ms`, startMs);
    return {
      title: `kill-etcd: SIGKILL etcd (pid ${String(before.pid)})`,
      summary,
      hint: 'etcd stays down: npm run chaos -- restart-etcd',
    };
  }
  if (command === 'pause-etcd') {
    await op(session, control, 'pause', 'etcd SIGSTOP (paused: calls to it hang until their deadline)');
    await sleep(ms);
    window(`etcd paused for ${ms} ms`, startMs);
    const resumedMs = Date.now();
    await op(session, control, 'resume', 'etcd SIGCONT (resumed)');
    await sleep(AFTER_RETURN_MS);
    window(`${AFTER_RETURN_MS} ms after etcd resumed`, resumedMs);
    return { title: `pause-etcd: SIGSTOP etcd for ${ms} ms`, summary };
  }
  const info = await op(session, control, 'restart', `etcd restarted (was ${before.state})`);
  const restartedMs = Date.now();
  await sleep(AFTER_RETURN_MS);
  window(`${AFTER_RETURN_MS} ms after etcd restarted`, restartedMs);
  return { title: `restart-etcd (pid ${String(info.pid)})`, summary };
}

async function op(
  session: ChaosSession,
  control: StackControlClient,
  what: EtcdOp,
  text: string,
): Promise<EtcdInfo> {
  session.note(text);
  session.log(text);
  try {
    return await control.etcdOp(what);
  } catch (error) {
    session.note(`control (etcd ${what}) failed: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

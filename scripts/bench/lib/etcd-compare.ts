import type { Summary } from './stats';

/*
 * bench:failover with and without etcd (issue 16): the two runs side by side, and what the load saw
 * while etcd itself was down. Pure apart from measureEtcdOutage, which drives the faults.
 */

export type FailoverMode = 'etcd' | 'bully';

/** One run's failover figures, as failover.ts summarises them. */
export interface ModeFigures {
  mode: FailoverMode;
  rows: readonly { name: string; summary: Summary }[];
}

const fmt = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : 'n/a');
const ratio = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';

/** The markdown table: per step, median and max with etcd, without, and the ratio of the medians. */
export function comparisonTable(withEtcd: ModeFigures, bullyAlone: ModeFigures): string[] {
  const lines = [
    `| after SIGKILL of the master          | with etcd: median |   max | bully alone: median |   max | median ratio |`,
    '| ------------------------------------ | ----------------: | ----: | ------------------: | ----: | -----------: |',
  ];
  for (const row of withEtcd.rows) {
    const other = bullyAlone.rows.find((r) => r.name === row.name)?.summary;
    if (!other) continue;
    lines.push(
      `| ${row.name.padEnd(36)} | ${fmt(row.summary.median).padStart(17)} | ${fmt(row.summary.max).padStart(5)} | ` +
        `${fmt(other.median).padStart(19)} | ${fmt(other.max).padStart(5)} | ${ratio(row.summary.median, other.median).padStart(12)} |`,
    );
  }
  return lines;
}

/** What the load saw in one stretch of time: bookings completed, longest stretch without one, failures. */
export interface LoadWindow {
  durationMs: number;
  bookings: number;
  longestGapMs: number;
  failures: number;
  /** The failures by gRPC status name, most frequent first ("UNAVAILABLE 3, DEADLINE_EXCEEDED 1"). */
  failureCodes: string;
}

/** The load's completions and failures inside [fromMs, toMs] (the edges count as completions). */
export function loadWindow(
  completions: readonly number[],
  failures: readonly { at: number; code?: string }[],
  fromMs: number,
  toMs: number,
): LoadWindow {
  const inside = completions.filter((at) => at >= fromMs && at <= toMs).sort((a, b) => a - b);
  let longestGapMs = 0;
  let previous = fromMs;
  for (const at of [...inside, toMs]) {
    longestGapMs = Math.max(longestGapMs, at - previous);
    previous = at;
  }
  const failed = failures.filter((f) => f.at >= fromMs && f.at <= toMs);
  const byCode = new Map<string, number>();
  for (const f of failed) byCode.set(f.code ?? 'unknown', (byCode.get(f.code ?? 'unknown') ?? 0) + 1);
  return {
    durationMs: toMs - fromMs,
    bookings: inside.length,
    longestGapMs,
    failures: failed.length,
    failureCodes: [...byCode]
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', '),
  };
}

export interface EtcdOutage {
  /** The same length of time just before the kill: the load's own rhythm, for comparison. */
  before: LoadWindow;
  down: LoadWindow;
  /** From etcd's restart until the master holds the lease again and a little after. */
  after: LoadWindow;
  termBefore: number;
  termAfter: number;
  masterBefore: number;
  masterAfter: number;
}

/**
 * SIGKILLs etcd under the running load, keeps it down for `downMs`, restarts it (same port and data)
 * and watches `afterMs` more; the load keeps running throughout.
 */
export async function measureEtcdOutage(options: {
  etcd: { kill(): Promise<unknown>; restart(): Promise<unknown> };
  master: () => Promise<{ masterId: number; term: number }>;
  completions: readonly number[];
  failures: readonly { at: number; code?: string }[];
  now: () => number;
  /** Waited first, so that "just before" is the load alone, not the last round's rejoin. */
  settleMs: number;
  downMs: number;
  afterMs: number;
}): Promise<EtcdOutage> {
  const { now } = options;
  await new Promise((resolve) => setTimeout(resolve, options.settleMs));
  const before = await options.master();
  const killedAt = now();
  await options.etcd.kill();
  await new Promise((resolve) => setTimeout(resolve, options.downMs));
  const restartAt = now();
  await options.etcd.restart();
  await new Promise((resolve) => setTimeout(resolve, options.afterMs));
  const endAt = now();
  const after = await options.master();
  const window = (from: number, to: number): LoadWindow =>
    loadWindow(options.completions, options.failures, from, to);
  return {
    before: window(killedAt - (restartAt - killedAt), killedAt),
    down: window(killedAt, restartAt),
    after: window(restartAt, endAt),
    termBefore: before.term,
    termAfter: after.term,
    masterBefore: before.masterId,
    masterAfter: after.masterId,
  };
}

export function describeOutage(outage: EtcdOutage): string[] {
  const line = (name: string, w: LoadWindow): string =>
    `| ${name.padEnd(32)} | ${fmt(w.durationMs).padStart(8)} | ${String(w.bookings).padStart(8)} | ` +
    `${fmt(w.longestGapMs).padStart(11)} | ${String(w.failures).padStart(15)} |` +
    (w.failureCodes === '' ? '' : ` ${w.failureCodes}`);
  const same = outage.termBefore === outage.termAfter && outage.masterBefore === outage.masterAfter;
  return [
    '| etcd SIGKILLed under load         |     span | bookings | longest gap | failed attempts |',
    '| -------------------------------- | -------: | -------: | ----------: | --------------: |',
    line('just before (the load alone)', outage.before),
    line('etcd down', outage.down),
    line('etcd restarted, lease taken back', outage.after),
    same
      ? `master node ${outage.masterAfter} in term ${outage.termAfter} throughout: no election`
      : `master node ${outage.masterBefore} term ${outage.termBefore} → node ${outage.masterAfter} term ${outage.termAfter}`,
  ];
}

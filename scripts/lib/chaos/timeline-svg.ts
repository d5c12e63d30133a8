import { describeFailover, failovers, figures, laneBands, median, sortEvents } from './timeline';
import type { Ack, Band, Failover, FaultKind, LaneState, TimelineEvent } from './timeline';

/*
 * A timeline drawn as SVG, pure: one lane per node with its state over time (master, slave,
 * candidate, unreachable, down, paused; partitions hatched on top), acknowledged writes as ticks
 * under the lane, markers for injections, heals, elected masters, first writes and the nodes' own
 * election log lines, an axis in ms, and a title with the measured failover times.
 */

export interface SvgInput {
  title: string;
  nodes: readonly number[];
  events: readonly TimelineEvent[];
  acks: readonly Ack[];
  startMs: number;
  endMs: number;
}

const WIDTH = 1100;
const LEFT = 80;
const RIGHT = 24;
const LANE = 34;
const LANE_GAP = 22;
const MARKER_ROW = 16;
/** Room one fault label takes on its row, in px. */
const LABEL_WIDTH = 78;

const UNDO_LABEL: Readonly<Record<FaultKind, string>> = {
  kill: 'restart',
  pause: 'resume',
  partition: 'heal',
};

export const STATE_COLORS: Readonly<Record<LaneState, string>> = {
  master: '#2e7d32',
  slave: '#90caf9',
  candidate: '#ffb74d',
  unknown: '#ffffff',
  unreachable: '#e0e0e0',
  down: '#424242',
  paused: '#9575cd',
};

const MARKS = {
  inject: '#c62828',
  heal: '#00897b',
  master: '#fdd835',
  firstWrite: '#1565c0',
  election: '#212121',
  ack: '#757575',
};

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A tick step giving about `count` ticks over `spanMs` (1, 2 or 5 times a power of ten). */
export function tickStep(spanMs: number, count = 10): number {
  const raw = Math.max(spanMs, 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** The title's second line: the failover times measured from the events. */
export function failoverSummary(list: readonly Failover[]): string {
  if (list.length === 0) return 'no fault injected';
  if (list.length === 1) return describeFailover(list[0]!);
  const masters = list.map((f) => figures(f).toMasterMs).filter((v): v is number => v !== undefined);
  const writes = list.map((f) => figures(f).toFirstWriteMs).filter((v): v is number => v !== undefined);
  const range = (values: number[]): string =>
    values.length === 0
      ? 'none seen'
      : `median ${median(values)} ms (${Math.min(...values)}–${Math.max(...values)} ms, ${values.length}/${list.length})`;
  return `${list.length} faults: new master ${range(masters)}; first write ${range(writes)}`;
}

export function renderTimelineSvg(input: SvgInput): string {
  const { nodes, startMs } = input;
  const endMs = Math.max(input.endMs, startMs + 1);
  const span = endMs - startMs;
  const plot = WIDTH - LEFT - RIGHT;
  const x = (ms: number): number =>
    round(LEFT + ((Math.min(Math.max(ms, startMs), endMs) - startMs) / span) * plot);
  const top = 64 + MARKER_ROW * 2;
  const laneY = (index: number): number => top + index * (LANE + LANE_GAP);
  const lanesBottom = laneY(nodes.length) - LANE_GAP;
  const axisY = lanesBottom + 14;
  const legendY = axisY + 40;
  const height = legendY + 30;
  const list = failovers(input.events, input.acks);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<line x1="0" y1="0" x2="0" y2="6" stroke="#b71c1c" stroke-width="2"/></pattern></defs>',
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`,
    `<text x="${LEFT}" y="42" font-size="12">${escapeXml(failoverSummary(list))}</text>`,
  );

  // Lanes.
  const bands = laneBands(input.events, nodes, startMs, endMs);
  nodes.forEach((node, index) => {
    const y = laneY(index);
    out.push(
      `<g class="lane" data-node="${node}">`,
      `<text x="${LEFT - 8}" y="${y + LANE / 2 + 4}" text-anchor="end" font-size="12">node ${node}</text>`,
      `<rect x="${LEFT}" y="${y}" width="${plot}" height="${LANE}" fill="none" stroke="#9e9e9e"/>`,
    );
    for (const band of bands.filter((b) => b.node === node)) out.push(bandRect(band, x, y));
    const acks = input.acks.filter((a) => a.node === node && a.wallMs >= startMs && a.wallMs <= endMs);
    for (const ackX of new Set(acks.map((a) => x(a.wallMs))))
      out.push(
        `<line class="ack" x1="${ackX}" y1="${y + LANE + 2}" x2="${ackX}" y2="${y + LANE + 7}" stroke="${MARKS.ack}"/>`,
      );
    out.push('</g>');
  });

  // Event markers.
  const laneOf = (node: number | undefined): number => (node === undefined ? -1 : nodes.indexOf(node));
  // Fault labels above the lanes: injections on the first row, undos on the second, unless the
  // row is taken there (then the other row, or no text: the line and its tooltip remain).
  const rowEnds = [-Infinity, -Infinity];
  const labelRow = (ex: number, preferred: number): number | undefined => {
    for (const row of [preferred, 1 - preferred])
      if (ex >= rowEnds[row]!) {
        rowEnds[row] = ex + LABEL_WIDTH;
        return row;
      }
    return undefined;
  };
  for (const e of sortEvents(input.events)) {
    const ex = x(e.wallMs);
    const lane = laneOf(e.node);
    const title = `<title>${escapeXml(`+${Math.round(e.wallMs - startMs)} ms L=${e.lamport ?? '-'} ${e.text}`)}</title>`;
    if (e.kind === 'inject' || e.kind === 'heal') {
      const color = e.kind === 'inject' ? MARKS.inject : MARKS.heal;
      const row = labelRow(ex, e.kind === 'inject' ? 0 : 1);
      const labelY = 64 + (row ?? 1) * MARKER_ROW;
      const verb = e.fault === undefined ? '?' : e.kind === 'inject' ? e.fault : UNDO_LABEL[e.fault];
      out.push(
        `<g class="mark-${e.kind}">${title}`,
        `<line x1="${ex}" y1="${labelY + 3}" x2="${ex}" y2="${lanesBottom}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
        ...(row === undefined
          ? []
          : [
              `<text x="${ex + 3}" y="${labelY}" fill="${color}">${escapeXml(`${verb} n${e.node ?? '?'}`)}</text>`,
            ]),
        '</g>',
      );
    } else if (e.kind === 'master' && lane >= 0) {
      const cy = laneY(lane) + LANE / 2;
      out.push(
        `<g class="mark-master">${title}<circle cx="${ex}" cy="${cy}" r="6" fill="${MARKS.master}" stroke="#000"/>` +
          `<text x="${ex + 8}" y="${cy - 6}" font-weight="bold">M t${e.term ?? '?'}</text></g>`,
      );
    } else if (e.kind === 'election' && lane >= 0) {
      out.push(
        `<g class="mark-election">${title}<circle cx="${ex}" cy="${laneY(lane) + 4}" r="2.5" fill="${MARKS.election}"/></g>`,
      );
    }
  }
  for (const f of list) {
    if (!f.firstWrite) continue;
    const lane = laneOf(f.firstWrite.node);
    if (lane < 0) continue;
    const fx = x(f.firstWrite.wallMs);
    const cy = laneY(lane) + LANE / 2;
    const w = figures(f).toFirstWriteMs;
    out.push(
      `<g class="mark-first-write"><title>${escapeXml(`first write acknowledged by node ${f.firstWrite.node}, +${w} ms after the ${f.fault}`)}</title>` +
        `<path d="M ${fx} ${cy - 7} L ${fx + 7} ${cy} L ${fx} ${cy + 7} L ${fx - 7} ${cy} Z" fill="${MARKS.firstWrite}" stroke="#fff"/></g>`,
    );
  }

  // Axis in ms.
  const step = tickStep(span);
  out.push(
    `<g class="axis"><line x1="${LEFT}" y1="${axisY}" x2="${LEFT + plot}" y2="${axisY}" stroke="#000"/>`,
  );
  for (let t = 0; t <= span + 1e-9; t += step) {
    const tx = x(startMs + t);
    out.push(
      `<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 5}" stroke="#000"/>`,
      `<text x="${tx}" y="${axisY + 17}" text-anchor="middle">${Math.round(t)}</text>`,
    );
  }
  out.push(`<text x="${LEFT + plot}" y="${axisY + 30}" text-anchor="end">ms since start</text></g>`);

  // Legend.
  const legend: [string, string][] = [
    ...(['master', 'slave', 'candidate', 'unreachable', 'down', 'paused'] as const).map(
      (s): [string, string] => [s, STATE_COLORS[s]],
    ),
    ['partitioned', 'url(#hatch)'],
  ];
  out.push('<g class="legend">');
  legend.forEach(([name, fill], i) => {
    const lx = LEFT + i * 100;
    out.push(
      `<rect x="${lx}" y="${legendY}" width="14" height="10" fill="${fill}" stroke="#9e9e9e"/>`,
      `<text x="${lx + 18}" y="${legendY + 9}">${name}</text>`,
    );
  });
  const marks: [string, string][] = [
    ['fault', MARKS.inject],
    ['restart/resume/heal', MARKS.heal],
    ['master', MARKS.master],
    ['first write', MARKS.firstWrite],
    ['log event', MARKS.election],
  ];
  marks.forEach(([name, color], i) => {
    const lx = LEFT + i * 140;
    out.push(
      `<circle cx="${lx + 7}" cy="${legendY + 21}" r="4" fill="${color}"/>`,
      `<text x="${lx + 18}" y="${legendY + 25}">${name}</text>`,
    );
  });
  out.push('</g>', '</svg>');
  return out.join('\n') + '\n';
}

function bandRect(band: Band, x: (ms: number) => number, y: number): string {
  const x1 = x(band.fromMs);
  const width = round(Math.max(x(band.toMs) - x1, 0.5));
  const base = `x="${x1}" y="${y + 1}" width="${width}" height="${LANE - 2}"`;
  const title = `<title>node ${band.node}: ${band.state}${band.partitioned ? ', partitioned' : ''}</title>`;
  const rect = `<rect class="band ${band.state}" ${base} fill="${STATE_COLORS[band.state]}">${title}</rect>`;
  return band.partitioned
    ? `${rect}\n<rect class="band partitioned" ${base} fill="url(#hatch)" opacity="0.6"/>`
    : rect;
}

const round = (value: number): number => Math.round(value * 10) / 10;

import { percentile } from './stats';

/** Text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A latency histogram (linear buckets up to p99.9), as a standalone SVG. */
export function histogramSvg(latencies: number[], title: string): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const top = Math.max(1, percentile(sorted, 99.9));
  const bucketCount = 40;
  const width = top / bucketCount;
  const buckets = new Array<number>(bucketCount).fill(0);
  for (const ms of sorted) buckets[Math.min(bucketCount - 1, Math.floor(ms / width))]!++;
  const most = Math.max(1, ...buckets);
  const [w, h, left, bottom, topPad] = [800, 420, 70, 50, 40];
  const plotW = w - left - 20;
  const plotH = h - bottom - topPad;
  const barW = plotW / bucketCount;
  const bars = buckets
    .map((n, i) => {
      const bh = (n / most) * plotH;
      return `<rect x="${(left + i * barW + 1).toFixed(1)}" y="${(topPad + plotH - bh).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#3b82f6"><title>${(i * width).toFixed(1)}–${((i + 1) * width).toFixed(1)} ms: ${n}</title></rect>`;
    })
    .join('\n  ');
  const xTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${(left + f * plotW).toFixed(1)}" y="${h - bottom + 20}" text-anchor="middle">${(f * top).toFixed(1)}</text>`,
    )
    .join('');
  const yTicks = [0, 0.5, 1]
    .map(
      (f) =>
        `<text x="${left - 8}" y="${(topPad + plotH - f * plotH + 4).toFixed(1)}" text-anchor="end">${Math.round(f * most)}</text>`,
    )
    .join('');
  const marks = [50, 99]
    .map((p) => {
      const x = left + (percentile(sorted, p) / top) * plotW;
      return `<line x1="${x.toFixed(1)}" y1="${topPad}" x2="${x.toFixed(1)}" y2="${topPad + plotH}" stroke="#dc2626" stroke-dasharray="4 3"/><text x="${(x + 4).toFixed(1)}" y="${topPad + 12}" fill="#dc2626">p${p}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>
  ${bars}
  <line x1="${left}" y1="${topPad + plotH}" x2="${left + plotW}" y2="${topPad + plotH}" stroke="black"/>
  <line x1="${left}" y1="${topPad}" x2="${left}" y2="${topPad + plotH}" stroke="black"/>
  ${xTicks}${yTicks}${marks}
  <text x="${left + plotW / 2}" y="${h - 10}" text-anchor="middle">hold + confirm latency (ms)</text>
  <text x="16" y="${topPad + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${topPad + plotH / 2})">bookings</text>
</svg>
`;
}

/** One row of dots in a dot strip: each value is one dot, stacked where values fall close together. */
export interface DotSeries {
  name: string;
  color: string;
  /** Milliseconds. */
  values: readonly number[];
}

/** A vertical line across every row (a measured percentile, an aim). */
export interface MarkLine {
  at: number;
  label: string;
  color: string;
  dashed?: boolean;
}

const TICK_STEPS = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000];

/**
 * Dot strips of durations in ms on one shared time axis, one row per series, with labelled vertical
 * lines: every sample stays visible (there are tens, not thousands), and the aims sit next to them.
 */
export function dotStripSvg(options: {
  title: string;
  subtitle?: string;
  xLabel: string;
  series: readonly DotSeries[];
  lines: readonly MarkLine[];
}): string {
  const radius = 5;
  const pitch = 2 * radius + 1;
  const [w, left, right, top] = [860, 200, 30, options.subtitle ? 92 : 74];
  const plotW = w - left - right;
  const everything = [...options.series.flatMap((s) => s.values), ...options.lines.map((l) => l.at)];
  const finite = everything.filter((v) => Number.isFinite(v));
  const rawMax = Math.max(1, ...finite) * 1.06;
  const step = TICK_STEPS.find((s) => rawMax / s <= 10) ?? Math.ceil(rawMax / 10);
  const xMax = Math.ceil(rawMax / step) * step;
  const x = (ms: number): number => left + (Math.min(ms, xMax) / xMax) * plotW;
  const bins = Math.max(1, Math.floor(plotW / (pitch + 1)));
  const binOf = (ms: number): number => Math.min(bins - 1, Math.floor((Math.max(0, ms) / xMax) * bins));

  let y = top;
  const rows: string[] = [];
  for (const series of options.series) {
    const counts = new Map<number, number>();
    for (const v of series.values)
      if (Number.isFinite(v)) counts.set(binOf(v), (counts.get(binOf(v)) ?? 0) + 1);
    const tallest = Math.max(1, ...counts.values());
    const bandH = Math.max(46, tallest * pitch + 16);
    const base = y + bandH - 8;
    const stacked = new Map<number, number>();
    const dots = [...series.values]
      .filter((v) => Number.isFinite(v))
      .sort((a, b) => a - b)
      .map((v) => {
        const bin = binOf(v);
        const level = stacked.get(bin) ?? 0;
        stacked.set(bin, level + 1);
        const cx = left + ((bin + 0.5) / bins) * plotW;
        const cy = base - radius - level * pitch;
        return `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${radius}" fill="${series.color}" fill-opacity="0.85"><title>${escapeXml(series.name)}: ${v.toFixed(0)} ms</title></circle>`;
      })
      .join('');
    rows.push(
      `<line x1="${left}" y1="${base}" x2="${left + plotW}" y2="${base}" stroke="#9ca3af"/>` +
        `<text x="${left - 10}" y="${(base - 4).toFixed(1)}" text-anchor="end">${escapeXml(series.name)}</text>` +
        `<text x="${left - 10}" y="${(base + 10).toFixed(1)}" text-anchor="end" fill="#6b7280" font-size="10">n = ${series.values.length}</text>` +
        dots,
    );
    y += bandH;
  }
  const plotBottom = y;
  const h = plotBottom + 48;
  const ticks: string[] = [];
  for (let t = 0; t <= xMax + 1e-9; t += step)
    ticks.push(
      `<line x1="${x(t).toFixed(1)}" y1="${plotBottom}" x2="${x(t).toFixed(1)}" y2="${plotBottom + 5}" stroke="black"/>` +
        `<text x="${x(t).toFixed(1)}" y="${plotBottom + 18}" text-anchor="middle">${t >= 1000 ? `${+(t / 1000).toFixed(2)} s` : `${t} ms`}</text>`,
    );
  const lines = [...options.lines]
    .filter((l) => Number.isFinite(l.at))
    .sort((a, b) => a.at - b.at)
    .map((line, i) => {
      const lx = x(line.at).toFixed(1);
      const ly = top - 6 - (i % 3) * 13;
      return (
        `<line x1="${lx}" y1="${top - 4 - (i % 3) * 13}" x2="${lx}" y2="${plotBottom}" stroke="${line.color}" stroke-width="1.5"${line.dashed ? ' stroke-dasharray="5 4"' : ''}/>` +
        `<text x="${lx}" y="${ly}" text-anchor="middle" fill="${line.color}" font-size="11">${escapeXml(line.label)}</text>`
      );
    })
    .join('');
  const subtitle = options.subtitle
    ? `<text x="${w / 2}" y="42" text-anchor="middle" fill="#4b5563">${escapeXml(options.subtitle)}</text>`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>
  ${subtitle}
  ${rows.join('\n  ')}
  <line x1="${left}" y1="${plotBottom}" x2="${left + plotW}" y2="${plotBottom}" stroke="black"/>
  ${ticks.join('')}
  ${lines}
  <text x="${left + plotW / 2}" y="${h - 8}" text-anchor="middle">${escapeXml(options.xLabel)}</text>
</svg>
`;
}

/** One row of a percentile chart: a name and its latency percentiles in ms. */
export interface PercentileRow {
  name: string;
  color: string;
  values: readonly { label: string; ms: number }[];
}

/**
 * Latency percentiles as horizontal bars on a log-scaled ms axis, a group of bars per row: tails
 * that differ by 100× stay readable side by side, which a linear axis or a dot strip cannot show.
 */
export function percentileBarsSvg(options: {
  title: string;
  subtitle: string;
  rows: readonly PercentileRow[];
}): string {
  const [w, left, right, top, barH, gap] = [860, 230, 80, 70, 16, 22];
  const finite = options.rows
    .flatMap((r) => r.values.map((v) => v.ms))
    .filter((v) => v > 0 && Number.isFinite(v));
  const minExp = Math.floor(Math.log10(Math.max(1e-3, Math.min(...finite))));
  const maxExp = Math.ceil(Math.log10(Math.max(...finite)));
  const plotW = w - left - right;
  const x = (ms: number): number =>
    left + ((Math.log10(Math.max(ms, 10 ** minExp)) - minExp) / Math.max(1, maxExp - minExp)) * plotW;
  const parts: string[] = [];
  let y = top;
  for (const row of options.rows) {
    parts.push(
      `<text x="12" y="${y + 12}" font-weight="bold" fill="${row.color}">${escapeXml(row.name)}</text>`,
    );
    for (const value of row.values) {
      const end = x(value.ms);
      parts.push(
        `<text x="${left - 8}" y="${y + 12}" text-anchor="end" fill="#374151">${escapeXml(value.label)}</text>` +
          `<rect x="${left}" y="${y}" width="${Math.max(1, end - left).toFixed(1)}" height="${barH}" fill="${row.color}" fill-opacity="0.8"/>` +
          `<text x="${(end + 6).toFixed(1)}" y="${y + 12}">${value.ms < 10 ? value.ms.toFixed(2) : value.ms.toFixed(0)} ms</text>`,
      );
      y += barH + 4;
    }
    y += gap;
  }
  const ticks: string[] = [];
  for (let e = minExp; e <= maxExp; e++) {
    const t = x(10 ** e);
    const label = e >= 3 ? `${10 ** (e - 3)} s` : `${+(10 ** e).toPrecision(1)} ms`;
    ticks.push(
      `<line x1="${t.toFixed(1)}" y1="${top - 6}" x2="${t.toFixed(1)}" y2="${y}" stroke="#e5e7eb"/>` +
        `<text x="${t.toFixed(1)}" y="${y + 16}" text-anchor="middle" fill="#6b7280">${label}</text>`,
    );
  }
  const h = y + 40;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${w / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>
  <text x="${w / 2}" y="44" text-anchor="middle" fill="#4b5563">${escapeXml(options.subtitle)}</text>
  ${ticks.join('')}
  ${parts.join('\n  ')}
</svg>
`;
}

/** A round step for about `count` ticks over 0..`max`: 1, 2, 2.5 or 5 × a power of ten. */
export function niceStep(max: number, count = 6): number {
  const raw = Math.max(max, 1e-9) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
}

/**
 * Something counted over time on one time axis (seconds): a cumulative line on the left axis (seats
 * sold so far) over bars of a per-second rate on the right axis (bookings in each second), with
 * labelled vertical marks (sold out, a term change). The two scales differ by orders of magnitude,
 * hence two axes; the bars sit behind the line, pale, so both stay readable.
 */
export function lineOverBarsSvg(options: {
  title: string;
  subtitle?: string;
  xLabel: string;
  /** Points (seconds, value) of the cumulative line, in time order. */
  line: { name: string; color: string; points: readonly { t: number; v: number }[]; max?: number };
  /** values[i] is the rate in second [i, i+1). */
  bars: { name: string; color: string; values: readonly number[] };
  marks?: readonly { at: number; label: string; color: string }[];
}): string {
  const [w, h, left, right, top, bottom] = [860, 450, 70, 70, options.subtitle ? 84 : 64, 70];
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const { line, bars } = options;
  const marks = (options.marks ?? []).filter((m) => Number.isFinite(m.at));
  const span = Math.max(1, bars.values.length, ...line.points.map((p) => p.t), ...marks.map((m) => m.at));
  const xStep = niceStep(span, 10);
  const xMax = Math.ceil(span / xStep) * xStep;
  const lineTop = Math.max(1, line.max ?? 0, ...line.points.map((p) => p.v));
  const lineStep = niceStep(lineTop);
  const lineMax = Math.ceil(lineTop / lineStep) * lineStep;
  const barTop = Math.max(1, ...bars.values);
  const barStep = niceStep(barTop);
  const barMax = Math.ceil(barTop / barStep) * barStep;
  const x = (t: number): number => left + (Math.min(Math.max(t, 0), xMax) / xMax) * plotW;
  const yLine = (v: number): number => top + plotH - (v / lineMax) * plotH;
  const yBar = (v: number): number => top + plotH - (v / barMax) * plotH;
  const fmt = (v: number): string => (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1));
  const parts: string[] = [];
  for (let v = 0; v <= lineMax + 1e-9; v += lineStep)
    parts.push(
      `<line x1="${left}" y1="${yLine(v).toFixed(1)}" x2="${left + plotW}" y2="${yLine(v).toFixed(1)}" stroke="#e5e7eb"/>` +
        `<text x="${left - 8}" y="${(yLine(v) + 4).toFixed(1)}" text-anchor="end" fill="${line.color}">${fmt(v)}</text>`,
    );
  for (let v = 0; v <= barMax + 1e-9; v += barStep)
    parts.push(
      `<text x="${left + plotW + 8}" y="${(yBar(v) + 4).toFixed(1)}" fill="#6b7280">${fmt(v)}</text>`,
    );
  for (let t = 0; t <= xMax + 1e-9; t += xStep)
    parts.push(
      `<line x1="${x(t).toFixed(1)}" y1="${top + plotH}" x2="${x(t).toFixed(1)}" y2="${top + plotH + 5}" stroke="black"/>` +
        `<text x="${x(t).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${fmt(t)} s</text>`,
    );
  const barW = plotW / xMax;
  bars.values.forEach((v, i) => {
    if (!(v > 0)) return;
    parts.push(
      `<rect x="${(x(i) + 0.5).toFixed(1)}" y="${yBar(v).toFixed(1)}" width="${Math.max(0.5, barW - 1).toFixed(1)}" height="${(top + plotH - yBar(v)).toFixed(1)}" fill="${bars.color}"><title>${i}–${i + 1} s: ${fmt(v)} ${escapeXml(bars.name)}</title></rect>`,
    );
  });
  const path = line.points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)} ${yLine(p.v).toFixed(1)}`)
    .join(' ');
  if (path) parts.push(`<path d="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>`);
  marks.forEach((mark, i) => {
    const mx = x(mark.at).toFixed(1);
    parts.push(
      `<line x1="${mx}" y1="${top - 2}" x2="${mx}" y2="${top + plotH}" stroke="${mark.color}" stroke-width="1.5" stroke-dasharray="5 4"/>` +
        `<text x="${mx}" y="${top - 6 - (i % 2) * 13}" text-anchor="middle" fill="${mark.color}" font-size="11">${escapeXml(mark.label)}</text>`,
    );
  });
  const subtitle = options.subtitle
    ? `<text x="${w / 2}" y="42" text-anchor="middle" fill="#4b5563">${escapeXml(options.subtitle)}</text>`
    : '';
  const legendY = h - 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>
  ${subtitle}
  ${parts.join('\n  ')}
  <line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>
  <line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="${line.color}"/>
  <line x1="${left + plotW}" y1="${top}" x2="${left + plotW}" y2="${top + plotH}" stroke="#9ca3af"/>
  <text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${escapeXml(options.xLabel)}</text>
  <line x1="${left}" y1="${legendY - 4}" x2="${left + 24}" y2="${legendY - 4}" stroke="${line.color}" stroke-width="2"/>
  <text x="${left + 30}" y="${legendY}">${escapeXml(line.name)} (left axis)</text>
  <rect x="${left + plotW / 2}" y="${legendY - 10}" width="14" height="10" fill="${bars.color}"/>
  <text x="${left + plotW / 2 + 20}" y="${legendY}">${escapeXml(bars.name)} (right axis)</text>
</svg>
`;
}

import { percentile, summarize } from '../lib/stats';
import { hallRows } from '../lib/catalog';
import { dotStripSvg, escapeXml, histogramSvg, lineOverBarsSvg, niceStep } from '../lib/svg';

const circles = (svg: string): string[] => svg.match(/<circle [^>]*>/g) ?? [];

describe('percentile', () => {
  it('takes the nearest rank rounded down, so p99 of 20 samples is the largest', () => {
    const sorted = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 50)).toBe(11);
    expect(percentile(sorted, 90)).toBe(19);
    expect(percentile(sorted, 99)).toBe(20);
    expect(percentile(sorted, 100)).toBe(20);
  });

  it('is NaN without samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('sorts the samples itself', () => {
    expect(summarize([900, 100, 500, 300, 700])).toEqual({
      count: 5,
      min: 100,
      median: 500,
      p90: 900,
      p99: 900,
      max: 900,
      mean: 500,
    });
  });

  it('gives NaN fields for no samples', () => {
    const empty = summarize([]);
    expect(empty.count).toBe(0);
    expect(empty.median).toBeNaN();
    expect(empty.max).toBeNaN();
  });
});

describe('dotStripSvg', () => {
  const svg = dotStripSvg({
    title: 'failover <test>',
    xLabel: 'ms',
    series: [
      { name: 'first', color: '#000', values: [500, 510, 520, 1500, NaN] },
      { name: 'second', color: '#111', values: [100] },
    ],
    lines: [
      { at: 1000, label: 'aim: median ≤ 1 s', color: '#0a0', dashed: true },
      { at: 2000, label: 'aim: p99 ≤ 2 s', color: '#f80', dashed: true },
      { at: NaN, label: 'never drawn', color: '#f00' },
    ],
  });

  it('draws one dot per finite sample and skips the rest', () => {
    expect(circles(svg)).toHaveLength(5);
    expect(svg).not.toContain('never drawn');
  });

  it('stacks samples that fall together instead of hiding one behind another', () => {
    const close = circles(svg)
      .filter((c) => /<circle [^>]*fill="#000"/.test(c))
      .slice(0, 3);
    const positions = close.map((c) => /cx="([\d.]+)" cy="([\d.]+)"/.exec(c)!.slice(1).join(','));
    expect(new Set(positions).size).toBe(3);
  });

  it('labels the aims and escapes text', () => {
    expect(svg).toContain('aim: median ≤ 1 s');
    expect(svg).toContain('aim: p99 ≤ 2 s');
    expect(svg).toContain('failover &lt;test&gt;');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });
});

describe('histogramSvg', () => {
  it('draws forty buckets over a white background', () => {
    const svg = histogramSvg([1, 2, 3, 4, 5, 10, 20], 'latency');
    expect(svg.match(/<rect /g)).toHaveLength(41);
  });
});

describe('escapeXml', () => {
  it('escapes the markup characters', () => {
    expect(escapeXml('a < b & "c" > d')).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
  });
});

describe('niceStep', () => {
  it('rounds to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceStep(5000)).toBe(1000);
    expect(niceStep(47)).toBe(10);
    expect(niceStep(12, 10)).toBe(2);
    expect(niceStep(0.9, 6)).toBe(0.2);
  });
});

describe('lineOverBarsSvg', () => {
  const svg = lineOverBarsSvg({
    title: 'sale <1>',
    xLabel: 'seconds',
    line: {
      name: 'seats',
      color: '#00f',
      points: [
        { t: 0, v: 0 },
        { t: 1.5, v: 40 },
        { t: 2, v: 50 },
      ],
      max: 50,
    },
    bars: { name: 'bookings/s', color: '#fa0', values: [10, 0, 5] },
    marks: [
      { at: 2, label: 'sold out', color: '#0a0' },
      { at: NaN, label: 'never drawn', color: '#f00' },
    ],
  });

  it('draws one bar per second with something in it, and the line through every point', () => {
    expect(svg.match(/<rect x=[^>]*fill="#fa0"><title>/g)).toHaveLength(2);
    expect(/<path d="M(\S+ \S+)( L\S+ \S+)*"/.exec(svg)?.[0].match(/[ML]/g)).toHaveLength(3);
  });

  it('labels the marks it can place and escapes text', () => {
    expect(svg).toContain('sold out');
    expect(svg).not.toContain('never drawn');
    expect(svg).toContain('sale &lt;1&gt;');
  });
});

describe('hallRows', () => {
  it('fills rows of the given length, the last one with what is left', () => {
    expect(hallRows(250, 100)).toEqual([
      { label: 'R1', seatCount: 100 },
      { label: 'R2', seatCount: 100 },
      { label: 'R3', seatCount: 50 },
    ]);
    expect(hallRows(5000, 100)).toHaveLength(50);
  });
});

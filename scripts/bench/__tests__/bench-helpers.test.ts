import { percentile, summarize } from '../lib/stats';
import { dotStripSvg, escapeXml, histogramSvg } from '../lib/svg';

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

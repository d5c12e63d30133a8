import { escapeXml, failoverSummary, renderTimelineSvg, tickStep } from '../timeline-svg';
import { failovers } from '../timeline';
import type { Ack, TimelineEvent } from '../timeline';

const T0 = 1_700_000_000_000;
const at = (ms: number): number => T0 + ms;

interface Element {
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A strict little XML reader, enough for what the renderer writes: every tag closes in order,
 * attributes are quoted, text holds no raw '<' or stray '&'. Throws on anything else.
 */
function parseXml(xml: string): Element {
  const root: Element = { name: '#root', attributes: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let index = 0;
  while (index < xml.length) {
    token.lastIndex = index;
    const m = token.exec(xml);
    if (!m) throw new Error(`malformed XML at ${index}: ${JSON.stringify(xml.slice(index, index + 40))}`);
    index = token.lastIndex;
    const [, closing, name, attrs, selfClosing, text] = m;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`stray & in ${JSON.stringify(text)}`);
      top.text += text;
      continue;
    }
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const a of (attrs ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attributes) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
      attributes[a[1]!] = a[2]!;
    }
    const element: Element = { name: name!, attributes, children: [], text: '' };
    top.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> is never closed`);
  const elements = root.children;
  if (elements.length !== 1 || root.text.trim() !== '') throw new Error('expected exactly one root element');
  return elements[0]!;
}

function all(element: Element, predicate: (e: Element) => boolean): Element[] {
  return [...(predicate(element) ? [element] : []), ...element.children.flatMap((c) => all(c, predicate))];
}

const hasClass = (name: string) => (e: Element) => (e.attributes.class ?? '').split(' ').includes(name);

const events: TimelineEvent[] = [
  { wallMs: at(0), node: 3, kind: 'role', role: 'master', term: 4, text: 'master in term 4' },
  { wallMs: at(0), node: 2, kind: 'role', role: 'slave', term: 4, masterId: 3, text: 'slave' },
  { wallMs: at(0), node: 1, kind: 'role', role: 'slave', term: 4, masterId: 3, text: 'slave' },
  { wallMs: at(1000), node: 3, kind: 'inject', fault: 'kill', term: 4, text: 'SIGKILL <the master> & co' },
  { wallMs: at(1450), lamport: 900, node: 2, kind: 'election', role: 'candidate', term: 5, text: 'log' },
  { wallMs: at(1500), node: 2, kind: 'role', role: 'candidate', term: 5, text: 'candidate' },
  { wallMs: at(1600), node: 2, kind: 'role', role: 'master', term: 5, text: 'master in term 5' },
  { wallMs: at(1600), node: 2, kind: 'master', term: 5, text: 'master elected in term 5' },
  { wallMs: at(2000), node: 1, kind: 'inject', fault: 'partition', text: 'cut' },
  { wallMs: at(2500), node: 1, kind: 'heal', fault: 'partition', text: 'healed' },
  { wallMs: at(3000), node: 3, kind: 'heal', fault: 'kill', text: 'restarted' },
];
const acks: Ack[] = [
  { wallMs: at(500), node: 3 },
  { wallMs: at(1650), node: 2 },
  { wallMs: at(1700), node: 2 },
];

describe('renderTimelineSvg', () => {
  const svg = renderTimelineSvg({
    title: 'kill-master: SIGKILL node 3',
    nodes: [1, 2, 3],
    events,
    acks,
    startMs: T0,
    endMs: at(4000),
  });
  const doc = parseXml(svg);

  it('is one well-formed <svg> element with a size', () => {
    expect(doc.name).toBe('svg');
    expect(doc.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(Number(doc.attributes.width)).toBeGreaterThan(0);
    expect(Number(doc.attributes.height)).toBeGreaterThan(0);
  });

  it('draws one lane per node, with the role bands the events imply', () => {
    const lanes = all(doc, hasClass('lane'));
    expect(lanes.map((l) => l.attributes['data-node'])).toEqual(['1', '2', '3']);
    const lane3 = lanes[2]!;
    expect(all(lane3, hasClass('band')).map((b) => b.attributes.class)).toEqual([
      'band master',
      'band down',
      'band unreachable',
    ]);
    const lane1 = lanes[0]!;
    expect(all(lane1, hasClass('partitioned'))).toHaveLength(1);
    // Two acks from node 2 a few pixels apart, one from node 3.
    expect(all(lanes[1]!, hasClass('ack')).length).toBeGreaterThanOrEqual(1);
    expect(all(lane3, hasClass('ack'))).toHaveLength(1);
  });

  it('marks the injection, the heals, the new master and its first write', () => {
    expect(all(doc, hasClass('mark-inject'))).toHaveLength(2);
    expect(all(doc, hasClass('mark-heal'))).toHaveLength(2);
    expect(all(doc, hasClass('mark-master'))).toHaveLength(1);
    expect(all(doc, hasClass('mark-first-write'))).toHaveLength(1);
    expect(all(doc, hasClass('mark-election'))).toHaveLength(1);
  });

  it('titles the picture with the measured failover, and escapes text', () => {
    const texts = all(doc, (e) => e.name === 'text').map((e) => e.text);
    expect(texts[0]).toBe('kill-master: SIGKILL node 3');
    expect(texts[1]).toBe(failoverSummary(failovers(events, acks)));
    // Two faults (the partition of node 1 elected nobody new): median and range over those seen.
    expect(texts[1]).toBe(
      '2 faults: new master median 600 ms (600–600 ms, 1/2); first write median 650 ms (650–650 ms, 1/2)',
    );
    expect(svg).toContain('SIGKILL &lt;the master&gt; &amp; co');
  });

  it('has an axis in ms from 0 to the end', () => {
    const axis = all(doc, hasClass('axis'))[0]!;
    const labels = all(axis, (e) => e.name === 'text').map((e) => e.text);
    expect(labels[0]).toBe('0');
    expect(labels).toContain('4000');
    expect(labels.at(-1)).toBe('ms since start');
  });
});

describe('helpers', () => {
  it('tick steps are 1, 2 or 5 times a power of ten', () => {
    expect(tickStep(4000)).toBe(500);
    expect(tickStep(1000)).toBe(100);
    expect(tickStep(65_000)).toBe(10_000);
    expect(tickStep(0)).toBeGreaterThan(0);
  });

  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('summarises several failovers by median and range', () => {
    const two: TimelineEvent[] = [
      { wallMs: at(0), node: 3, kind: 'inject', fault: 'kill', term: 1, text: '' },
      { wallMs: at(400), node: 2, kind: 'master', term: 2, text: '' },
      { wallMs: at(1000), node: 2, kind: 'inject', fault: 'pause', term: 2, text: '' },
      { wallMs: at(1800), node: 3, kind: 'master', term: 3, text: '' },
    ];
    expect(failoverSummary(failovers(two, []))).toBe(
      '2 faults: new master median 600 ms (400–800 ms, 2/2); first write none seen',
    );
    expect(failoverSummary([])).toBe('no fault injected');
  });
});

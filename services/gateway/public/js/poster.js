// @ts-check
/*
 * A poster for every event, drawn from its title, kind and genres: no image is downloaded. The title
 * picks the colours and shapes (a hash seeds a small random generator), the genre picks the mood, the
 * kind picks the motif. The same event always gets the same poster.
 */
import { s } from './dom.js';

/**
 * Hue range and saturation per genre (first match wins), so a horror film never looks like a cartoon.
 * @type {[RegExp, { hue: [number, number], sat: number, light: number }][]}
 */
const MOODS = [
  [/horror/i, { hue: [350, 10], sat: 70, light: 12 }],
  [/thriller|mystery|crime|noir/i, { hue: [160, 200], sat: 35, light: 14 }],
  [/sci-?fi|science/i, { hue: [185, 250], sat: 65, light: 16 }],
  [/romance/i, { hue: [320, 350], sat: 60, light: 24 }],
  [/comedy/i, { hue: [30, 50], sat: 85, light: 30 }],
  [/animation|family|kids/i, { hue: [95, 150], sat: 60, light: 26 }],
  [/fantasy|adventure/i, { hue: [255, 290], sat: 50, light: 20 }],
  [/documentary|history/i, { hue: [25, 40], sat: 35, light: 20 }],
  [/action|sport/i, { hue: [5, 25], sat: 80, light: 22 }],
  [/music|electronic|pop|rock|jazz|concert/i, { hue: [280, 320], sat: 70, light: 18 }],
  [/drama/i, { hue: [205, 230], sat: 50, light: 18 }],
];

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** mulberry32: a small seeded generator, so a poster is a function of its event. */
function random(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mood(event, rand) {
  const genres = [...(event.genres ?? []), event.kind ?? ''].join(' ');
  const found = MOODS.find(([pattern]) => pattern.test(genres))?.[1] ?? {
    hue: [0, 360],
    sat: 55,
    light: 20,
  };
  const [from, to] = found.hue;
  const span = (to - from + 360) % 360 || 360;
  return { hue: (from + rand() * span) % 360, sat: found.sat, light: found.light };
}

/** Splits a title into lines of about `width` characters, at most 4 lines. */
function wrap(title, width) {
  const lines = [];
  let line = '';
  for (const word of title.split(/\s+/).filter(Boolean)) {
    if (line && (line + ' ' + word).length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  if (lines.length > 4)
    return [
      ...lines.slice(0, 3),
      `${lines
        .slice(3)
        .join(' ')
        .slice(0, width - 1)}…`,
    ];
  return lines;
}

// ---- motifs: each draws into a 200 × 300 poster, above the title band

function orbAndHorizon(rand, accent) {
  const cx = 50 + rand() * 100;
  const cy = 70 + rand() * 50;
  const r = 30 + rand() * 25;
  return [
    s('circle', { cx, cy, r: r * 1.9, fill: accent, opacity: 0.08 }),
    s('circle', { cx, cy, r, fill: accent, opacity: 0.85 }),
    ...Array.from({ length: 5 }, (_, i) =>
      s('rect', { x: 0, y: cy + r * 0.4 + i * 9, width: 200, height: 3 + i, fill: 'rgba(0,0,0,0.35)' }),
    ),
  ];
}

function rays(rand, accent) {
  const cx = 100;
  const cy = 40 + rand() * 60;
  const count = 9 + Math.floor(rand() * 6);
  return Array.from({ length: count }, (_, i) => {
    const angle = (Math.PI * (i + 0.5)) / count;
    const x = cx + Math.cos(angle) * 260;
    const y = cy + Math.sin(angle) * 260;
    return s('path', {
      d: `M${cx} ${cy} L${x} ${y} L${x + 12} ${y}Z`,
      fill: accent,
      opacity: i % 2 ? 0.18 : 0.32,
    });
  });
}

function stackedArcs(rand, accent) {
  const cy = 150 + rand() * 30;
  return Array.from({ length: 7 }, (_, i) =>
    s('circle', {
      cx: 100,
      cy,
      r: 20 + i * 18,
      fill: 'none',
      stroke: accent,
      'stroke-width': 6 - i * 0.6,
      opacity: 0.9 - i * 0.11,
    }),
  );
}

function dots(rand, accent) {
  return Array.from({ length: 26 }, () =>
    s('circle', {
      cx: rand() * 200,
      cy: rand() * 190,
      r: 2 + rand() * 14,
      fill: accent,
      opacity: 0.2 + rand() * 0.6,
    }),
  );
}

function soundWaves(rand, accent) {
  const bars = 18;
  return Array.from({ length: bars }, (_, i) => {
    const height = 20 + Math.abs(Math.sin(i * 0.7 + rand() * 2)) * 110;
    return s('rect', {
      x: 8 + i * 10.3,
      y: 150 - height / 2,
      width: 6,
      height,
      rx: 3,
      fill: accent,
      opacity: 0.45 + (i % 3) * 0.2,
    });
  });
}

function curtains(rand, accent) {
  const folds = 6;
  return [
    ...Array.from({ length: folds }, (_, i) =>
      s('path', {
        d: `M${i * 17} 0 Q${i * 17 + 8} 90 ${i * 9} 190 L${i * 9 + 10} 190 Q${i * 17 + 20} 90 ${i * 17 + 17} 0Z`,
        fill: accent,
        opacity: 0.35 + (i % 2) * 0.25,
      }),
    ),
    ...Array.from({ length: folds }, (_, i) =>
      s('path', {
        d: `M${200 - i * 17} 0 Q${192 - i * 17} 90 ${200 - i * 9} 190 L${190 - i * 9} 190 Q${180 - i * 17} 90 ${183 - i * 17} 0Z`,
        fill: accent,
        opacity: 0.35 + (i % 2) * 0.25,
      }),
    ),
    s('circle', { cx: 100, cy: 95, r: 18 + rand() * 10, fill: '#fff', opacity: 0.12 }),
  ];
}

function stripes(rand, accent) {
  const angle = -30 + rand() * 60;
  return [
    s(
      'g',
      { transform: `rotate(${angle} 100 100)` },
      Array.from({ length: 8 }, (_, i) =>
        s('rect', {
          x: -60,
          y: i * 30 - 20,
          width: 320,
          height: 12,
          fill: accent,
          opacity: 0.15 + (i % 3) * 0.15,
        }),
      ),
    ),
  ];
}

const MOVIE_MOTIFS = [orbAndHorizon, rays, stackedArcs, dots];
const KIND_MOTIFS = { concert: soundWaves, theatre: curtains, sport: stripes, comedy: dots };

let posterCount = 0;

/** An inline SVG poster for `event` ({title, kind, genres}); decorative (aria-hidden). */
export function poster(event, { className = 'poster' } = {}) {
  const title = event.title || 'Untitled';
  const seed = hash(`${title}|${event.kind}`);
  const rand = random(seed);
  const { hue, sat, light } = mood(event, rand);
  // A soft complementary accent: contrast without shouting.
  const accentHue = (hue + 150 + rand() * 60) % 360;
  const accent = `hsl(${accentHue} ${Math.min(80, sat + 10)}% 68%)`;
  const id = `poster-${++posterCount}`;
  const motif = KIND_MOTIFS[event.kind] ?? MOVIE_MOTIFS[seed % MOVIE_MOTIFS.length];

  const lines = wrap(title.toUpperCase(), 11);
  // Georgia bold capitals are about 0.75 em wide: the longest line must fit 172 units.
  const longest = Math.max(...lines.map((l) => l.length));
  const fontSize = Math.min(26, Math.floor(172 / (longest * 0.75)));
  const titleTop = 282 - lines.length * (fontSize + 3);
  const genres = (event.genres ?? []).slice(0, 2).join(' · ') || event.kind || '';

  return s(
    'svg',
    {
      class: className,
      viewBox: '0 0 200 300',
      'aria-hidden': 'true',
      focusable: 'false',
      preserveAspectRatio: 'xMidYMid slice',
    },
    s(
      'defs',
      null,
      s(
        'linearGradient',
        { id: `${id}-bg`, x1: 0, y1: 0, x2: 0.3, y2: 1 },
        s('stop', { offset: 0, 'stop-color': `hsl(${hue} ${sat}% ${light + 22}%)` }),
        s('stop', { offset: 1, 'stop-color': `hsl(${(hue + 25) % 360} ${sat}% ${light}%)` }),
      ),
      s(
        'linearGradient',
        { id: `${id}-fade`, x1: 0, y1: 0, x2: 0, y2: 1 },
        s('stop', { offset: 0.45, 'stop-color': '#000', 'stop-opacity': 0 }),
        s('stop', { offset: 1, 'stop-color': '#000', 'stop-opacity': 0.75 }),
      ),
    ),
    s('rect', { width: 200, height: 300, fill: `url(#${id}-bg)` }),
    s('g', { class: 'poster-motif' }, motif(rand, accent)),
    s('rect', { width: 200, height: 300, fill: `url(#${id}-fade)` }),
    s('text', { x: 14, y: 24, class: 'poster-genre', fill: '#fff', opacity: 0.8 }, genres.toUpperCase()),
    s(
      'text',
      { class: 'poster-title', fill: '#fff', 'font-size': fontSize },
      lines.map((line, i) => s('tspan', { x: 14, y: titleTop + (i + 1) * (fontSize + 3) }, line)),
    ),
    s('rect', { x: 14, y: 290, width: 36, height: 3, fill: accent }),
  );
}

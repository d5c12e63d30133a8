// @ts-check
/*
 * The seat map: an SVG drawn from the show's hall plan (sections of rows, general-admission areas),
 * one focusable element per seat. It draws and moves focus; the show page owns what a seat's state
 * is and what selecting it means (`onToggle`).
 *
 * Keyboard: one seat is in the tab order (roving tabindex); arrow keys move to the neighbouring seat
 * (up and down to the nearest seat of the next row), Home/End to the ends of a row, Enter or Space
 * selects. Each seat has an aria-label saying where it is, its price and its state.
 */
import { s } from './dom.js';
import { money } from './format.js';

const SEAT = 22;
const STEP = 28;
const LABEL = 26;
const PAD = 14;
const SECTION_GAP = 18;
const GA_HEIGHT = 64;

export const STATE_WORDS = { free: 'free', held: 'held by someone', sold: 'sold', mine: 'held for you' };

/**
 * detail: GET /api/shows/:id (hall, seats, gaAreas, show, event).
 * options: onToggle(seatId), onGaClick(areaId), tierIndex(tier) → 0..n for the tier colour.
 */
/**
 * @param {import('../../schemas/models').ShowDetail} detail
 * @param {{ onToggle: (seatId: string) => void, onGaClick?: (areaId: string) => void, tierIndex?: (priceTier: string) => number }} handlers
 */
export function createSeatMap(detail, { onToggle, onGaClick = () => {}, tierIndex = () => 0 }) {
  const currency = detail.show?.currency;
  const sections = detail.hall?.sections ?? [];
  const gaAreas = detail.gaAreas ?? [];
  const seatsByKey = new Map(
    detail.seats.map((seat) => [`${seat.sectionId}|${seat.row}|${seat.number}`, seat]),
  );
  const widest = Math.max(4, ...sections.flatMap((section) => section.rows.map((row) => row.seatCount)));
  const width = PAD * 2 + LABEL * 2 + widest * STEP;

  const elements = new Map(); // seatId → <g>
  const rows = []; // [[<g>...]] top to bottom, for arrow keys
  const poolTexts = new Map(); // areaId → <text>
  const parts = [];
  let y = PAD;

  // The stage or screen, at the top.
  const isMovie = detail.event?.kind === 'movie';
  parts.push(
    s('path', {
      class: 'stage',
      d: `M${PAD + LABEL} ${y + 18} Q${width / 2} ${y - 4} ${width - PAD - LABEL} ${y + 18}`,
    }),
    s(
      'text',
      { class: 'stage-label', x: width / 2, y: y + 34, 'text-anchor': 'middle' },
      isMovie ? 'SCREEN' : 'STAGE',
    ),
  );
  y += 50;

  for (const area of gaAreas) {
    const text = s('text', { class: 'ga-remaining', x: width / 2, y: y + 44, 'text-anchor': 'middle' }, '');
    poolTexts.set(area.id, text);
    parts.push(
      s(
        'g',
        {
          class: 'ga-zone',
          'data-area-id': area.id,
          'data-tier': tierIndex(area.priceTier),
          onclick: () => onGaClick(area.id),
        },
        s('rect', { x: PAD + LABEL, y, width: width - 2 * (PAD + LABEL), height: GA_HEIGHT - 10, rx: 10 }),
        s(
          'text',
          { class: 'ga-name', x: width / 2, y: y + 24, 'text-anchor': 'middle' },
          `${area.name} · ${money(area.amountCents, currency)}`,
        ),
        text,
      ),
    );
    y += GA_HEIGHT;
  }

  for (const section of sections) {
    parts.push(
      s('text', { class: 'section-label', x: width / 2, y: y + 12, 'text-anchor': 'middle' }, section.name),
    );
    y += 22;
    for (const row of section.rows) {
      const offset = PAD + LABEL + ((widest - row.seatCount) * STEP) / 2;
      const rowSeats = [];
      parts.push(
        s('text', { class: 'row-label', x: PAD + LABEL / 2, y: y + 15, 'text-anchor': 'middle' }, row.label),
        s(
          'text',
          { class: 'row-label', x: width - PAD - LABEL / 2, y: y + 15, 'text-anchor': 'middle' },
          row.label,
        ),
      );
      for (let number = 1; number <= row.seatCount; number++) {
        const seat = seatsByKey.get(`${section.id}|${row.label}|${number}`);
        if (!seat) continue;
        const x = offset + (number - 1) * STEP + (STEP - SEAT) / 2;
        const g = s(
          'g',
          {
            class: 'seat',
            'data-testid': 'seat',
            'data-seat-id': seat.id,
            'data-state': 'free',
            'data-tier': tierIndex(seat.priceTier),
            role: 'checkbox',
            'aria-checked': 'false',
            tabindex: -1,
          },
          s('rect', { x, y, width: SEAT, height: SEAT, rx: 5 }),
          s('text', { class: 'seat-number', x: x + SEAT / 2, y: y + 15, 'text-anchor': 'middle' }, number),
          s('path', { class: 'seat-mark', d: `M${x + 6} ${y + 11.5} l4 4 l7.5 -8` }),
        );
        g.seat = seat;
        g.position = { row: rows.length, index: rowSeats.length, cx: x + SEAT / 2 };
        elements.set(seat.id, g);
        rowSeats.push(g);
        parts.push(g);
      }
      rows.push(rowSeats);
      y += STEP;
    }
    y += SECTION_GAP;
  }

  const svg = s(
    'svg',
    {
      class: 'seat-map',
      'data-testid': 'seat-map',
      viewBox: `0 0 ${width} ${y}`,
      role: 'group',
      'aria-label': 'Seat map. Arrow keys move between seats; Enter or Space selects a seat.',
      // Seats stay big enough to tap on a phone (the map scrolls sideways); larger on a desktop.
      style: `min-width: ${Math.round(width * 0.9)}px; max-width: ${Math.round(width * 1.5)}px`,
    },
    s(
      'defs',
      null,
      s(
        'pattern',
        {
          id: 'seat-hatch',
          width: 5,
          height: 5,
          patternUnits: 'userSpaceOnUse',
          patternTransform: 'rotate(45)',
        },
        s('rect', { width: 5, height: 5, class: 'hatch-bg' }),
        s('rect', { width: 2, height: 5, class: 'hatch-line' }),
      ),
    ),
    parts,
  );

  // ---- state and labels

  function describe(g) {
    const seat = g.seat;
    const state = g.dataset.state;
    const selected = g.dataset.selected === 'true';
    const section = sections.find((x) => x.id === seat.sectionId)?.name ?? '';
    const word = selected ? 'selected' : (STATE_WORDS[state] ?? state);
    g.setAttribute(
      'aria-label',
      `${section} row ${seat.row}, seat ${seat.number}, ${money(seat.amountCents, currency)}, ${word}`,
    );
    g.setAttribute('aria-checked', String(selected || state === 'mine'));
    g.setAttribute('aria-disabled', String(state === 'sold' || state === 'held'));
  }

  function update(seatId, { state, selected }) {
    const g = elements.get(seatId);
    if (!g) return;
    if (state !== undefined) g.dataset.state = state;
    if (selected !== undefined) {
      if (selected) g.dataset.selected = 'true';
      else delete g.dataset.selected;
    }
    describe(g);
  }

  function setPool(areaId, text) {
    const element = poolTexts.get(areaId);
    if (element) element.textContent = text;
  }

  // ---- focus and keys

  let focusable = null;
  function makeFocusable(g) {
    if (focusable === g) return;
    focusable?.setAttribute('tabindex', '-1');
    g.setAttribute('tabindex', '0');
    focusable = g;
  }

  function moveTo(g) {
    if (!g) return;
    makeFocusable(g);
    g.focus();
  }

  function nearestIn(rowIndex, cx) {
    const row = rows[rowIndex];
    if (!row?.length) return null;
    return row.reduce((best, g) =>
      Math.abs(g.position.cx - cx) < Math.abs(best.position.cx - cx) ? g : best,
    );
  }

  svg.addEventListener('keydown', (event) => {
    const g = event.target.closest?.('.seat');
    if (!g) return;
    const { row, index, cx } = g.position;
    const here = rows[row];
    const moves = {
      ArrowLeft: () => here[index - 1],
      ArrowRight: () => here[index + 1],
      ArrowUp: () => nearestIn(row - 1, cx),
      ArrowDown: () => nearestIn(row + 1, cx),
      Home: () => here[0],
      End: () => here[here.length - 1],
    };
    if (moves[event.key]) {
      event.preventDefault();
      moveTo(moves[event.key]());
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onToggle(g.seat.id);
    }
  });
  svg.addEventListener('click', (event) => {
    const g = event.target.closest?.('.seat');
    if (!g) return;
    makeFocusable(g);
    onToggle(g.seat.id);
  });
  svg.addEventListener('focusin', (event) => {
    const g = event.target.closest?.('.seat');
    if (g) makeFocusable(g);
  });

  for (const g of elements.values()) describe(g);
  const first = rows.find((row) => row.length)?.[0];
  if (first) makeFocusable(first);

  return {
    element: svg,
    update,
    setPool,
    /** Puts the tab stop on the first free seat (after the states arrived). */
    focusFirstFree() {
      const free = [...elements.values()].find((g) => g.dataset.state === 'free');
      if (free) makeFocusable(free);
    },
    seats: () => [...elements.keys()],
  };
}

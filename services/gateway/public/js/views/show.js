// @ts-check
/*
 * #/show/<id>: the seat map with live updates, hold, pay, confirmation.
 *
 * Seat states come from the booking service (free / held / sold) and are kept live by the show's
 * event stream (show-feed.js). The API cannot say who holds a seat, so "mine" is this page's own
 * knowledge: the seats of the hold it made (POST /api/holds answers them), remembered in
 * sessionStorage (show-hold-store.js) so a reload keeps them and the countdown. This module keeps
 * the page's state and its actions (select, hold, release, pay); the parts it draws are components:
 * the seat map (seatmap.js), standing areas (show-ga-picker.js), the side panel
 * (show-ticket-panel.js), the live badge (show-live-status.js) and the static parts (show-parts.js).
 */
import * as api from '../api.js';
import { remember } from '../catalog-cache.js';
import { h, replace } from '../dom.js';
import { explain, isDeclined, isHoldExpired, isSeatTaken } from '../explain.js';
import { seatName } from '../format.js';
import * as messages from '../messages.js';
import { STATE_WORDS, createSeatMap } from '../seatmap.js';
import * as session from '../session.js';
import { watchShow } from './show-feed.js';
import { createGaPicker } from './show-ga-picker.js';
import { storeHold, storedHold } from './show-hold-store.js';
import { createLiveStatus } from './show-live-status.js';
import { header, legend, signInPrompt } from './show-parts.js';
import { createTicketPanel } from './show-ticket-panel.js';
import { priceTiers } from './show-tiers.js';

const MAX_SEATS = 10;

/**
 * @typedef {import('../../../schemas/models').Availability} Availability
 * @typedef {Availability['seats'][number]['state']} SeatState
 * @typedef {Availability['pools'][number]} Pool
 * @typedef {import('../../../schemas/answers').Answer<'hold'>} Hold
 * @typedef {import('../../../schemas/answers').Answer<'checkout'>} Booking
 */

/** @param {{ root: HTMLElement, params: string[], signal: AbortSignal }} page */
export async function showView({ root, params, signal }) {
  const [showId = ''] = params;
  root.append(h('p', { class: 'muted loading' }, 'Loading the show…'));
  const detail = await api.getShow(showId, signal);
  remember(detail);
  document.title = `${detail.event?.title ?? 'Show'} · Marquee`;
  const show = detail.show;
  if (show === null) throw new Error('the catalog sent this show without its details');
  const { tiers, tierIndex } = priceTiers(detail, show);

  if (!session.signedIn()) {
    replace(
      root,
      header(detail),
      h(
        'div',
        { class: 'show-layout' },
        h('div', { class: 'map-column' }, signInPrompt(showId), legend(detail, tiers)),
      ),
    );
    return;
  }

  const currency = show.currency;
  const seatsById = new Map(detail.seats.map((seat) => [seat.id, seat]));
  const gaNames = new Map(detail.gaAreas.map((area) => [area.id, area.name]));

  // ---- state
  /** @type {Map<string, SeatState>} */
  const serverState = new Map();
  /** @type {Map<string, Pool>} */
  const pools = new Map();
  /** @type {Set<string>} */
  const selected = new Set();
  /** @type {Map<string, number>} areaId → quantity */
  const gaWanted = new Map();
  /** @type {Set<string>} */
  const mine = new Set();
  /** @type {Hold | null} */
  let hold = null;
  /** @type {Booking | null} */
  let booking = null;
  let busy = false;
  let holdInFlight = false;

  /** @param {string} id */
  const displayState = (id) => (mine.has(id) ? 'mine' : (serverState.get(id) ?? 'free'));

  const ga = createGaPicker(detail, {
    currency,
    tierIndex,
    onChange: (areaId, quantity) => {
      gaWanted.set(areaId, quantity);
      renderPanel();
    },
  });
  const map = createSeatMap(detail, { tierIndex, onToggle: toggle, onGaClick: ga.focus });
  /** @param {string} id */
  const refreshSeat = (id) => map.update(id, { state: displayState(id), selected: selected.has(id) });
  const panel = createTicketPanel(detail, {
    currency,
    onHold: () => void doHold(),
    onPay: (card) => void doPay(card),
    onRelease: () => void doRelease(),
    onExpired: () =>
      holdLost(
        'Your hold expired and the seats went back on sale. Pick them again — they may still be free.',
      ),
  });
  const renderPanel = () => panel.render({ booking, hold, selected, gaWanted, busy });

  /** @param {Pool} pool */
  function applyPool(pool) {
    pools.set(pool.areaId, pool);
    map.setPool(pool.areaId, ga.setPool(pool));
  }

  /**
   * @param {string} seatId
   * @param {SeatState} state
   */
  function applySeat(seatId, state) {
    serverState.set(seatId, state);
    if (selected.has(seatId) && state !== 'free' && !holdInFlight) {
      selected.delete(seatId);
      messages.info(
        `Seat ${seatName(seatsById.get(seatId))} was just taken by someone else — pick another seat.`,
      );
      renderPanel();
    }
    refreshSeat(seatId);
  }

  /** @param {Availability} availability */
  function applySnapshot(availability) {
    for (const seat of availability.seats) applySeat(seat.seatId, seat.state);
    for (const pool of availability.pools) applyPool(pool);
  }

  // ---- selecting
  /** @param {string} seatId */
  function toggle(seatId) {
    const name = seatName(seatsById.get(seatId));
    if (booking) {
      messages.info('This booking is done — see it in My bookings, or reload the page to book more.');
      return;
    }
    if (hold) {
      messages.info('You are holding seats — pay for them or release them before choosing others.');
      return;
    }
    if (selected.has(seatId)) {
      selected.delete(seatId);
    } else {
      const state = serverState.get(seatId) ?? 'free';
      if (state !== 'free') {
        messages.info(`Seat ${name} is ${STATE_WORDS[state] ?? state}.`);
        return;
      }
      if (selected.size >= MAX_SEATS) {
        messages.info(`You can hold up to ${MAX_SEATS} seats at a time.`);
        return;
      }
      selected.add(seatId);
    }
    refreshSeat(seatId);
    renderPanel();
  }

  // ---- hold, release, pay
  /** @param {Hold | null} next */
  function setHold(next) {
    const before = [...mine];
    hold = next;
    mine.clear();
    for (const seat of hold?.seats ?? []) mine.add(seat.seatId);
    for (const id of new Set([...before, ...mine])) refreshSeat(id);
    ga.setDisabled(hold !== null || booking !== null);
    storeHold(showId, hold);
  }

  async function doHold() {
    const seatIds = [...selected];
    const wanted = [...gaWanted]
      .filter(([, quantity]) => quantity > 0)
      .map(([areaId, quantity]) => ({ areaId, quantity }));
    if (seatIds.length === 0 && wanted.length === 0) return;
    busy = holdInFlight = true;
    renderPanel();
    try {
      const answer = await api.hold(showId, seatIds, wanted);
      selected.clear();
      gaWanted.clear();
      ga.reset();
      for (const id of seatIds) serverState.set(id, 'held');
      setHold(answer);
      for (const id of seatIds) refreshSeat(id);
      messages.info(
        `Held for you until ${new Date(Date.parse(answer.expiresAt)).toLocaleTimeString()} — pay to confirm.`,
      );
    } catch (error) {
      if (isSeatTaken(error)) {
        const sold = /sold/.test(error.message);
        for (const id of error.details.seatIds ?? []) {
          selected.delete(id);
          serverState.set(id, sold ? 'sold' : 'held');
          refreshSeat(id);
        }
      }
      messages.error(explain(error, { seatsById, areaNames: gaNames }));
    } finally {
      busy = holdInFlight = false;
      renderPanel();
      if (hold) document.getElementById('card-number')?.focus();
    }
  }

  /** @param {string} text */
  function holdLost(text) {
    setHold(null);
    messages.error(text);
    renderPanel();
  }

  async function doRelease() {
    if (!hold) return;
    busy = true;
    renderPanel();
    try {
      await api.releaseHold(hold.id);
      const seats = [...mine];
      setHold(null);
      for (const id of seats) applySeat(id, 'free');
      messages.info('Seats released — they are back on sale.');
    } catch (error) {
      if (isHoldExpired(error) || error.status === 404) setHold(null);
      messages.error(explain(error));
    } finally {
      busy = false;
      renderPanel();
    }
  }

  /** @param {import('../../../schemas/models').Card} card */
  async function doPay(card) {
    if (!hold) return;
    if (!/^\d{12,19}$/.test(card.number)) {
      messages.error('Card number: enter 12 to 19 digits (the test card 4242 4242 4242 4242 works).');
      document.getElementById('card-number')?.focus();
      return;
    }
    busy = true;
    renderPanel();
    let retypeCard = false;
    try {
      const paid = await api.checkout(hold.id, card);
      booking = paid;
      for (const seat of paid.seats) serverState.set(seat.seatId, 'sold');
      hold = null;
      storeHold(showId, null);
      ga.setDisabled(true);
      messages.clear();
    } catch (error) {
      if (isHoldExpired(error)) holdLost(explain(error));
      else {
        messages.error(explain(error));
        retypeCard = isDeclined(error) || error.status === 400;
      }
    } finally {
      busy = false;
      renderPanel();
    }
    if (booking)
      /** @type {HTMLElement | null} */ (
        document.querySelector('[data-testid="booking-confirmation"] h2')
      )?.focus();
    else if (retypeCard) document.getElementById('card-number')?.focus();
  }

  const timer = setInterval(panel.tick, 1000);
  signal.addEventListener('abort', () => clearInterval(timer));

  const live = createLiveStatus();
  const layout = h(
    'div',
    { class: 'show-layout' },
    h(
      'div',
      { class: 'map-column' },
      h('div', { class: 'map-toolbar' }, h('h2', { class: 'visually-hidden' }, 'Seat map'), live.element),
      h('div', { class: 'map-scroll' }, map.element),
      ga.blocks.length ? h('div', { class: 'ga-areas' }, h('h2', null, 'Standing'), ga.blocks) : null,
      legend(detail, tiers),
    ),
    panel.element,
  );
  // Initial states before the map is shown (a seat drawn "free" for a moment could be picked): the
  // availability read, which also proves the session; then the stream keeps them live.
  const first = await api.availability(showId, signal).catch((error) => {
    if (error.status === 401) {
      replace(root, header(detail), signInPrompt(showId));
      return null;
    }
    throw error;
  });
  if (!first) return;
  applySnapshot(first);
  map.focusFirstFree();
  const restored = storedHold(showId);
  if (restored && restored.seats.every((s) => serverState.get(s.seatId) === 'held')) setHold(restored);
  else storeHold(showId, null);
  renderPanel();

  replace(root, header(detail), layout);
  const scroller = layout.querySelector('.map-scroll');
  if (scroller) scroller.scrollLeft = (scroller.scrollWidth - scroller.clientWidth) / 2;

  watchShow(showId, {
    live,
    signal,
    snapshot: applySnapshot,
    changes: (data) => {
      for (const seat of data.seats) applySeat(seat.seatId, seat.state);
      for (const pool of data.pools)
        if (pool.areaId !== undefined)
          applyPool(/** @type {Pool} */ ({ ...pools.get(pool.areaId), ...pool }));
    },
  });
}

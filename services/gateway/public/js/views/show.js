/*
 * #/show/<id>: the seat map with live updates, hold, pay, confirmation.
 *
 * Seat states come from the booking service (free / held / sold) and are kept live by the show's
 * event stream. The API cannot say who holds a seat, so "mine" is this page's own knowledge: the
 * seats of the hold it made (POST /api/holds answers them), remembered in sessionStorage so a reload
 * keeps them and the countdown.
 */
import * as api from '../api.js';
import { remember } from '../catalog-cache.js';
import { h, replace } from '../dom.js';
import { explain, isDeclined, isHoldExpired, isSeatTaken, isUnavailable } from '../explain.js';
import { countdown, seatName } from '../format.js';
import * as messages from '../messages.js';
import { STATE_WORDS, createSeatMap } from '../seatmap.js';
import * as session from '../session.js';
import { subscribe } from '../sse.js';
import { confirmationPanel, holdPanel, selectionPanel } from './checkout.js';
import { gaAreaBlock, header, legend, signInPrompt } from './show-parts.js';

const MAX_SEATS = 10;
const MAX_GA = 10;
const holdKey = (showId) => `marquee.hold.${showId}`;

function storedHold(showId) {
  try {
    const hold = JSON.parse(sessionStorage.getItem(holdKey(showId)) ?? 'null');
    return hold && Date.parse(hold.expiresAt) > api.serverNow() ? hold : null;
  } catch {
    return null;
  }
}

export async function showView({ root, params, signal }) {
  const [showId] = params;
  root.append(h('p', { class: 'muted loading' }, 'Loading the show…'));
  const detail = await api.getShow(showId, signal);
  remember(detail);
  document.title = `${detail.event?.title ?? 'Show'} · Marquee`;

  // Price tiers, cheapest first: their order picks the colours.
  const tiers = [
    ...new Set([...detail.show.prices].sort((a, b) => a.amountCents - b.amountCents).map((p) => p.priceTier)),
  ];
  for (const seat of detail.seats) if (!tiers.includes(seat.priceTier)) tiers.push(seat.priceTier);
  const tierIndex = (tier) => Math.max(0, tiers.indexOf(tier)) % 5;

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

  const currency = detail.show.currency;
  const seatsById = new Map(detail.seats.map((seat) => [seat.id, seat]));
  const gaById = new Map(detail.gaAreas.map((area) => [area.id, area]));
  const gaNames = new Map(detail.gaAreas.map((area) => [area.id, area.name]));

  // ---- state
  const serverState = new Map(); // seatId → free | held | sold
  const pools = new Map(); // areaId → {remaining, capacity, held, sold}
  const selected = new Set();
  const gaWanted = new Map(); // areaId → quantity
  const mine = new Set();
  let hold = null;
  let booking = null;
  let busy = false;
  let holdInFlight = false;

  const displayState = (id) => (mine.has(id) ? 'mine' : (serverState.get(id) ?? 'free'));

  const map = createSeatMap(detail, {
    tierIndex,
    onToggle: toggle,
    onGaClick: (areaId) => gaInputs.get(areaId)?.focus(),
  });
  const refreshSeat = (id) => map.update(id, { state: displayState(id), selected: selected.has(id) });

  // ---- GA areas: a quantity each
  const gaInputs = new Map();
  const gaRemaining = new Map();
  const gaBlocks = detail.gaAreas.map((area) => {
    const input = h('input', {
      id: `ga-${area.id}`,
      type: 'number',
      min: 0,
      max: MAX_GA,
      value: 0,
      inputmode: 'numeric',
      'data-testid': 'ga-quantity',
    });
    input.addEventListener('input', () => {
      const wanted = Math.max(0, Math.min(MAX_GA, Math.floor(Number(input.value) || 0)));
      gaWanted.set(area.id, wanted);
      renderPanel();
    });
    gaInputs.set(area.id, input);
    const remaining = h('span', { class: 'muted' }, '');
    gaRemaining.set(area.id, remaining);
    return gaAreaBlock(area, { input, remaining, currency, tier: tierIndex(area.priceTier) });
  });

  function applyPool(pool) {
    pools.set(pool.areaId, pool);
    const text = `${pool.remaining} of ${pool.capacity} places left`;
    map.setPool(pool.areaId, text);
    const element = gaRemaining.get(pool.areaId);
    if (element) element.textContent = text;
    const input = gaInputs.get(pool.areaId);
    if (input) input.max = String(Math.min(MAX_GA, Math.max(0, pool.remaining)));
  }

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

  function applySnapshot(availability) {
    for (const seat of availability.seats) applySeat(seat.seatId, seat.state);
    for (const pool of availability.pools) applyPool(pool);
  }

  // ---- selecting
  function toggle(seatId) {
    const seat = seatsById.get(seatId);
    const name = seatName(seat);
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
  function rememberHold() {
    if (hold) sessionStorage.setItem(holdKey(showId), JSON.stringify(hold));
    else sessionStorage.removeItem(holdKey(showId));
  }

  function setHold(next) {
    const before = [...mine];
    hold = next;
    mine.clear();
    for (const seat of hold?.seats ?? []) mine.add(seat.seatId);
    for (const id of new Set([...before, ...mine])) refreshSeat(id);
    for (const input of gaInputs.values()) input.disabled = hold !== null || booking !== null;
    rememberHold();
  }

  async function doHold() {
    const seatIds = [...selected];
    const ga = [...gaWanted]
      .filter(([, quantity]) => quantity > 0)
      .map(([areaId, quantity]) => ({ areaId, quantity }));
    if (seatIds.length === 0 && ga.length === 0) return;
    busy = holdInFlight = true;
    renderPanel();
    try {
      const answer = await api.hold(showId, seatIds, ga);
      selected.clear();
      gaWanted.clear();
      for (const input of gaInputs.values()) input.value = '0';
      for (const id of seatIds) serverState.set(id, 'held');
      setHold(answer);
      for (const id of seatIds) refreshSeat(id);
      messages.info(
        `Held for you until ${new Date(Date.parse(answer.expiresAt)).toLocaleTimeString()} — pay to confirm.`,
      );
    } catch (error) {
      if (isSeatTaken(error)) {
        const sold = /sold/.test(error.message);
        for (const id of error.details.seatIds) {
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
      booking = await api.checkout(hold.id, card);
      for (const seat of booking.seats) serverState.set(seat.seatId, 'sold');
      hold = null;
      rememberHold();
      for (const input of gaInputs.values()) input.disabled = true;
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
    if (booking) document.querySelector('[data-testid="booking-confirmation"] h2')?.focus();
    else if (retypeCard) document.getElementById('card-number')?.focus();
  }

  // ---- the side panel and the countdown
  const panel = h('aside', {
    class: 'card checkout-panel',
    'aria-live': 'polite',
    'aria-label': 'Your tickets',
  });
  let countdownElement = null;

  function renderPanel() {
    countdownElement = null;
    if (booking) {
      replace(panel, confirmationPanel({ booking, gaNames }));
    } else if (hold) {
      const rendered = holdPanel({
        hold,
        gaNames,
        holderName: session.session()?.user?.displayName,
        busy,
        onPay: (card) => void doPay(card),
        onRelease: () => void doRelease(),
      });
      countdownElement = rendered.countdownElement;
      // Keep what the buyer typed in the card form across re-renders.
      const typed = [...panel.querySelectorAll('.card-form input')].map((input) => [input.id, input.value]);
      replace(panel, rendered.element);
      for (const [id, value] of typed) {
        const input = document.getElementById(id);
        if (input) input.value = value;
      }
      tick();
    } else {
      const seats = [...selected].map((id) => seatsById.get(id)).filter(Boolean);
      seats.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
      const gaItems = [...gaWanted]
        .filter(([, quantity]) => quantity > 0)
        .map(([areaId, quantity]) => ({
          quantity,
          name: gaById.get(areaId)?.name,
          amountCents: gaById.get(areaId)?.amountCents ?? 0,
        }));
      replace(panel, selectionPanel({ seats, gaItems, currency, busy, onHold: () => void doHold() }));
    }
  }

  function tick() {
    if (!hold || !countdownElement) return;
    const left = Date.parse(hold.expiresAt) - api.serverNow();
    countdownElement.textContent = countdown(left);
    countdownElement.classList.toggle('urgent', left <= 60_000);
    if (left <= 0 && !busy)
      holdLost(
        'Your hold expired and the seats went back on sale. Pick them again — they may still be free.',
      );
  }
  const timer = setInterval(tick, 1000);
  signal.addEventListener('abort', () => clearInterval(timer));

  // ---- live feed
  const live = h('span', { class: 'live', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  const LIVE_TEXT = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    paused: 'Paused — the booking system is switching over',
    stopped: 'Live updates stopped',
  };
  const setLive = (state) => {
    live.dataset.state = state;
    live.textContent = LIVE_TEXT[state] ?? state;
  };

  // While the stream reports the group not answering, the map may be stale; the stream says
  // `upstream-ok` when it answers again (or sends changes, or a snapshot after a reconnect).
  let pausedNow = false;
  function paused() {
    pausedNow = true;
    setLive('paused');
  }
  function resumed() {
    if (!pausedNow) return;
    pausedNow = false;
    setLive('live');
  }

  const layout = h(
    'div',
    { class: 'show-layout' },
    h(
      'div',
      { class: 'map-column' },
      h('div', { class: 'map-toolbar' }, h('h2', { class: 'visually-hidden' }, 'Seat map'), live),
      h('div', { class: 'map-scroll' }, map.element),
      gaBlocks.length ? h('div', { class: 'ga-areas' }, h('h2', null, 'Standing'), gaBlocks) : null,
      legend(detail, tiers),
    ),
    panel,
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
  else sessionStorage.removeItem(holdKey(showId));
  renderPanel();

  replace(root, header(detail), layout);
  const scroller = layout.querySelector('.map-scroll');
  scroller.scrollLeft = (scroller.scrollWidth - scroller.clientWidth) / 2;

  subscribe(
    () => api.showEventsUrl(showId),
    {
      snapshot: (data) => {
        resumed();
        applySnapshot(data);
      },
      seats: (data) => {
        resumed();
        for (const seat of data.seats) applySeat(seat.seatId, seat.state);
        for (const pool of data.pools) applyPool({ ...pools.get(pool.areaId), ...pool });
      },
      'upstream-error': () => paused(),
      'upstream-ok': () => resumed(),
      error: (data) => {
        if (data?.error?.code === 'NOT_FOUND') messages.error('This show is no longer on sale.');
        else messages.error('Live seat updates stopped: please sign in again.');
      },
    },
    {
      signal,
      onState: (state) => {
        if (state === 'live' && pausedNow) return;
        setLive(state);
      },
      // A refused reconnect: go on only while the session still works.
      canRetry: async () => {
        try {
          await api.me(signal);
          return true;
        } catch (error) {
          return isUnavailable(error);
        }
      },
    },
  );
}

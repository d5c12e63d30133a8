// @ts-check
/*
 * The show page's side panel, "Your tickets": what is selected (→ Hold), the hold with its
 * countdown and the card form (→ Pay, Release), or the booking's confirmation. It draws what the
 * page's state says; the page decides what happens.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { countdown } from '../format.js';
import * as session from '../session.js';
import { confirmationPanel, holdPanel, selectionPanel } from './checkout.js';

/**
 * @typedef {import('../../../schemas/models').ShowDetail} ShowDetail
 * @typedef {import('../../../schemas/answers').Answer<'hold'>} Hold
 * @typedef {import('../../../schemas/answers').Answer<'checkout'>} Booking
 * @typedef {{ booking: Booking | null, hold: Hold | null, selected: Set<string>, gaWanted: Map<string, number>, busy: boolean }} TicketState
 */

/**
 * @param {ShowDetail} detail
 * @param {{
 *   currency: string,
 *   onHold: () => void,
 *   onPay: (card: import('../../../schemas/models').Card) => void,
 *   onRelease: () => void,
 *   onExpired: () => void,
 * }} actions
 */
export function createTicketPanel(detail, { currency, onHold, onPay, onRelease, onExpired }) {
  const seatsById = new Map(detail.seats.map((seat) => [seat.id, seat]));
  const gaById = new Map(detail.gaAreas.map((area) => [area.id, area]));
  const gaNames = new Map(detail.gaAreas.map((area) => [area.id, area.name]));
  const element = h('aside', {
    class: 'card checkout-panel',
    'aria-live': 'polite',
    'aria-label': 'Your tickets',
  });
  /** @type {HTMLElement | null} */
  let countdownElement = null;
  /** @type {TicketState | null} */
  let shown = null;

  /** @param {TicketState} state */
  function render(state) {
    shown = state;
    countdownElement = null;
    const { booking, hold, busy } = state;
    if (booking) {
      replace(element, confirmationPanel({ booking, gaNames }));
    } else if (hold) {
      const rendered = holdPanel({
        hold,
        gaNames,
        holderName: session.session()?.user?.displayName,
        busy,
        onPay,
        onRelease,
      });
      countdownElement = rendered.countdownElement;
      // Keep what the buyer typed in the card form across re-renders.
      const typed = [
        .../** @type {NodeListOf<HTMLInputElement>} */ (element.querySelectorAll('.card-form input')),
      ].map((input) => [input.id, input.value]);
      replace(element, rendered.element);
      for (const [id, value] of typed) {
        const input = /** @type {HTMLInputElement | null} */ (document.getElementById(id));
        if (input) input.value = value;
      }
      tick();
    } else {
      const seats = [...state.selected].flatMap((id) => seatsById.get(id) ?? []);
      seats.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
      const gaItems = [...state.gaWanted]
        .filter(([, quantity]) => quantity > 0)
        .map(([areaId, quantity]) => ({
          quantity,
          name: gaById.get(areaId)?.name,
          amountCents: gaById.get(areaId)?.amountCents ?? 0,
        }));
      replace(element, selectionPanel({ seats, gaItems, currency, busy, onHold }));
    }
  }

  /** Once a second: the hold's time left; at zero, the page hears it expired. */
  function tick() {
    const hold = shown?.hold;
    if (!hold || !countdownElement) return;
    const left = Date.parse(hold.expiresAt) - api.serverNow();
    countdownElement.textContent = countdown(left);
    countdownElement.classList.toggle('urgent', left <= 60_000);
    if (left <= 0 && !shown?.busy) onExpired();
  }

  return { element, render, tick };
}

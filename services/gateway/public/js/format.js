// @ts-check
/* Money, dates and durations the way people read them (the browser's locale and time zone). */

const moneyFormats = new Map();

/** 1550, 'EUR' → '€15.50' */
export function money(cents, currency) {
  const code = currency || 'EUR';
  let format = moneyFormats.get(code);
  if (!format) {
    try {
      format = new Intl.NumberFormat(undefined, { style: 'currency', currency: code });
    } catch {
      format = { format: (amount) => `${amount.toFixed(2)} ${code}` };
    }
    moneyFormats.set(code, format);
  }
  return format.format(cents / 100);
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** 'Tuesday 1 December' */
export const day = (iso) => dayFormat.format(new Date(iso));
/** 'Tue 1 Dec' */
export const shortDay = (iso) => shortDayFormat.format(new Date(iso));
/** '20:30' (or '8:30 PM') */
export const time = (iso) => timeFormat.format(new Date(iso));
/** 'Tue 1 Dec, 20:30' */
export const dateTime = (iso) => `${shortDay(iso)}, ${time(iso)}`;
/** '15:40:02.123', for the operator's timeline */
export function clock(iso) {
  const date = new Date(iso);
  return `${clockFormat.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** The local calendar day of an instant, 'YYYY-MM-DD', for grouping shows by day. */
export function dayKey(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** 125000 ms → '2:05' */
export function countdown(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** 124 → '2 h 4 min' */
export function duration(minutes) {
  if (!minutes) return '';
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** 'movie' → 'Movie' */
export const capitalize = (word) => (word ? word[0].toUpperCase() + word.slice(1) : '');

/** ['A', 'B', 'C'] → 'A, B and C' */
export function list(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A seat as a person says it: {row: 'A', number: 7} → 'A7'; falls back on the label or id. */
export function seatName(seat) {
  if (seat?.row && seat?.number) return `${seat.row}${seat.number}`;
  return seat?.label || seat?.seatId || seat?.id || 'that seat';
}

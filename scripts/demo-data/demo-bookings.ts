import * as grpc from '@grpc/grpc-js';
import {
  AccountServiceClient,
  BookingServiceClient,
  SeatState,
} from '../../proto/gen/marquee/booking/v1/booking';
import type { Session } from '../../proto/gen/marquee/booking/v1/booking';
import { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import { callUnary } from '../../services/common/grpc-client';

/*
 * A few demo buyers with tastes, so the demo's "Recommended for you" has bookings to learn from:
 * three groups of three fans, each fan booking one seat at an upcoming show of two of their group's
 * three films (a different two each), so every film of a group is co-booked with the others. Sign in
 * as fan-1-1@demo.marquee.local (password "demo fan password") to see picks learned from them.
 *
 * Runs on every `npm start`: a fan who already has bookings is left alone, and every write carries
 * an idempotency key, so a retry after an election books nothing twice.
 */

export const DEMO_FAN_PASSWORD = 'demo fan password';

const TASTES: readonly (readonly string[])[] = [
  ['The Cartographer of Tides', 'Under the Glass Mountain', 'Paper Lanterns'],
  ['Night Train to Vireo', 'Static', 'Saltwater Saints'],
  ['Quantum Picnic', 'Comet Season', 'Borrowed Thunder'],
];
const FANS_PER_TASTE = 3;
const DEMO_CARD = {
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2099,
  cvc: '123',
  holderName: 'Demo Fan',
};

/** UNAVAILABLE (the group electing just after start) is retried with the same request. */
async function patiently<T>(attempt: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

interface Clients {
  catalog: CatalogServiceClient;
  accounts: AccountServiceClient;
  booking: BookingServiceClient;
}

/** The fan's session: registered the first time, signed in afterwards. */
async function signIn({ accounts }: Clients, email: string): Promise<Session> {
  try {
    return await patiently(() =>
      callUnary(
        accounts.register.bind(accounts),
        { email, password: DEMO_FAN_PASSWORD, displayName: email.split('@')[0]! },
        { headers: { 'idempotency-key': `demo-register-${email}` } },
      ),
    );
  } catch (error) {
    if ((error as { code?: number }).code !== grpc.status.ALREADY_EXISTS) throw error;
    return patiently(() => callUnary(accounts.login.bind(accounts), { email, password: DEMO_FAN_PASSWORD }));
  }
}

/** The earliest upcoming show of the film called `title`, if the catalog has one. */
async function nextShowOf({ catalog }: Clients, title: string, now: Date): Promise<string | undefined> {
  const found = await callUnary(catalog.searchEvents.bind(catalog), {
    query: title,
    genre: '',
    city: '',
    fromDate: '',
    toDate: '',
    kind: 0,
    pageSize: 5,
    pageToken: '',
  });
  const event = found.events.find((e) => e.title === title);
  if (!event) return undefined;
  const shows = await callUnary(catalog.listShows.bind(catalog), {
    eventId: event.id,
    pageSize: 20,
    pageToken: '',
  });
  return shows.shows.find((show) => Date.parse(show.startsAt) > now.getTime())?.id;
}

/**
 * Books one free seat of `showId` for the fan; false when the show has none left. Availability may
 * be read on a slave a heartbeat behind the master, so a seat it shows free can be just sold (to the
 * previous fan): that seat is passed over and the next one tried.
 */
async function bookOneSeat(
  { booking }: Clients,
  token: string,
  showId: string,
  key: string,
): Promise<boolean> {
  const taken = new Set<string>();
  for (let attempt = 0; attempt < 5; attempt++) {
    const availability = await patiently(() =>
      callUnary(booking.getAvailability.bind(booking), { showId }, { token }),
    );
    const seat = availability.seats.find(
      (s) => s.state === SeatState.SEAT_STATE_FREE && !taken.has(s.seatId),
    );
    if (!seat) return false;
    let hold;
    try {
      hold = await patiently(() =>
        callUnary(
          booking.holdSeats.bind(booking),
          // One key per seat: a retry of this very hold is answered from its record.
          { showId, seatIds: [seat.seatId], ga: [], idempotencyKey: `${key}-hold-${seat.seatId}` },
          { token },
        ),
      );
    } catch (error) {
      if ((error as { code?: number }).code !== grpc.status.FAILED_PRECONDITION) throw error;
      taken.add(seat.seatId);
      continue;
    }
    await patiently(() =>
      callUnary(
        booking.confirmBooking.bind(booking),
        { holdId: hold.id, card: DEMO_CARD, idempotencyKey: `${key}-pay` },
        { token },
      ),
    );
    return true;
  }
  return false;
}

/** Makes the demo fans' bookings through the public API at `address`; returns how many it made. */
export async function seedDemoBookings(address: string, now: Date): Promise<number> {
  const credentials = grpc.credentials.createInsecure();
  const clients: Clients = {
    catalog: new CatalogServiceClient(address, credentials),
    accounts: new AccountServiceClient(address, credentials),
    booking: new BookingServiceClient(address, credentials),
  };
  let made = 0;
  try {
    for (const [group, films] of TASTES.entries()) {
      for (let fan = 1; fan <= FANS_PER_TASTE; fan++) {
        const email = `fan-${group + 1}-${fan}@demo.marquee.local`;
        const session = await signIn(clients, email);
        const { booking } = clients;
        const mine = await patiently(() =>
          callUnary(
            booking.listMyBookings.bind(booking),
            { pageSize: 1, pageToken: '' },
            { token: session.token },
          ),
        );
        if (mine.bookings.length > 0) continue;
        // Fan n skips film n: every pair of the group's films is booked together by someone.
        for (const [i, title] of films.entries()) {
          if (i === fan - 1) continue;
          const showId = await nextShowOf(clients, title, now);
          if (!showId) continue;
          if (await bookOneSeat(clients, session.token, showId, `demo-${email}-${showId}`)) made += 1;
        }
      }
    }
    return made;
  } finally {
    clients.catalog.close();
    clients.accounts.close();
    clients.booking.close();
  }
}

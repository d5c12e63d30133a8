import { BookingState, HoldState, Role, SeatState } from '../../proto/gen/marquee/booking/v1/booking';
import type {
  Availability,
  BookedSeat,
  Booking,
  GaItem,
  Hold,
  Session,
  User,
} from '../../proto/gen/marquee/booking/v1/booking';
import { EventKind } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { Event, Hall, Show, ShowDetail, Venue } from '../../proto/gen/marquee/catalog/v1/catalog';
import { NodeRole } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../proto/gen/marquee/cluster/v1/cluster';
import type * as Body from './schemas/models';

/*
 * Proto messages → the JSON the REST API returns. Explicit on purpose: enums become short lower-case
 * words ("free", "confirmed", "movie"), unset references become null, and every field is present
 * (ts-proto's toJSON would drop defaults, so an empty list or a 0 would vanish).
 */

/** `EVENT_KIND_MOVIE` → `movie`; values without one of `words` (the schema's) → `unspecified`. */
function enumWord<W extends string>(
  names: Record<number, string>,
  value: number,
  prefix: string,
  words: readonly W[],
): W | 'unspecified' {
  const name = names[value];
  const word = name?.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : undefined;
  return words.find((w) => w === word) ?? 'unspecified';
}

export const EVENT_KINDS = ['movie', 'concert', 'theatre', 'sport', 'comedy', 'other'] as const;
export type EventKindWord = (typeof EVENT_KINDS)[number];

export function eventKindOf(word: EventKindWord): EventKind {
  return EventKind[`EVENT_KIND_${word.toUpperCase()}` as keyof typeof EventKind] as EventKind;
}

export type SeatStateWord = 'free' | 'held' | 'sold' | 'unspecified';

export function eventView(event: Event): Body.Event {
  return {
    id: event.id,
    title: event.title,
    kind: enumWord(EventKind, event.kind, 'EVENT_KIND_', EVENT_KINDS),
    genres: event.genres,
    durationMinutes: event.durationMinutes,
    description: event.description,
    cast: event.cast,
    artists: event.artists,
    posterUrl: event.posterUrl,
  };
}

export function showView(show: Show): Body.Show {
  return {
    id: show.id,
    eventId: show.eventId,
    venueId: show.venueId,
    hallId: show.hallId,
    startsAt: show.startsAt,
    currency: show.currency,
    prices: show.prices.map((p) => ({ priceTier: p.priceTier, amountCents: p.amountCents })),
  };
}

function venueView(venue: Venue): Body.VenueSummary {
  return { id: venue.id, name: venue.name, city: venue.city, address: venue.address };
}

function hallView(hall: Hall): Body.Hall {
  return {
    id: hall.id,
    name: hall.name,
    sections: hall.sections.map((s) => ({
      id: s.id,
      name: s.name,
      priceTier: s.priceTier,
      rows: s.rows.map((r) => ({ label: r.label, seatCount: r.seatCount })),
    })),
    gaAreas: hall.gaAreas.map((a) => ({
      id: a.id,
      name: a.name,
      priceTier: a.priceTier,
      capacity: a.capacity,
    })),
  };
}

/** A venue with its halls, for choosing where a new show plays. */
export function venueWithHallsView(venue: Venue): Body.Venue {
  return { ...venueView(venue), halls: venue.halls.map(hallView) };
}

export function showDetailView(detail: ShowDetail): Body.ShowDetail {
  return {
    show: detail.show ? showView(detail.show) : null,
    event: detail.event ? eventView(detail.event) : null,
    venue: detail.venue ? venueView(detail.venue) : null,
    hall: detail.hall ? hallView(detail.hall) : null,
    seats: detail.seats.map((s) => ({
      id: s.id,
      label: s.label,
      sectionId: s.sectionId,
      row: s.row,
      number: s.number,
      priceTier: s.priceTier,
      amountCents: s.amountCents,
    })),
    gaAreas: detail.gaAreas.map((a) => ({
      id: a.id,
      name: a.name,
      priceTier: a.priceTier,
      capacity: a.capacity,
      amountCents: a.amountCents,
    })),
  };
}

export type AvailabilityView = Body.Availability;

const SEAT_STATES = ['free', 'held', 'sold'] as const;

export function availabilityView(availability: Availability): AvailabilityView {
  return {
    showId: availability.showId,
    currency: availability.currency,
    seats: availability.seats.map((s) => ({
      seatId: s.seatId,
      label: s.label,
      priceTier: s.priceTier,
      amountCents: s.amountCents,
      state: enumWord(SeatState, s.state, 'SEAT_STATE_', SEAT_STATES),
    })),
    pools: availability.pools.map((p) => ({
      areaId: p.areaId,
      name: p.name,
      priceTier: p.priceTier,
      amountCents: p.amountCents,
      capacity: p.capacity,
      held: p.held,
      sold: p.sold,
      remaining: p.remaining,
    })),
  };
}

export function userView(user: User): Body.User {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: enumWord(Role, user.role, 'ROLE_', ['user', 'admin']),
  };
}

export function sessionView(session: Session): Body.Session {
  return {
    token: session.token,
    expiresAt: session.expiresAt,
    user: session.user ? userView(session.user) : null,
  };
}

function seatItems(seats: BookedSeat[]) {
  return seats.map((s) => ({ seatId: s.seatId, label: s.label, amountCents: s.amountCents }));
}

function gaItems(items: GaItem[]) {
  return items.map((g) => ({ areaId: g.areaId, quantity: g.quantity, amountCents: g.amountCents }));
}

export function holdView(hold: Hold): Body.Hold {
  return {
    id: hold.id,
    showId: hold.showId,
    seats: seatItems(hold.seats),
    ga: gaItems(hold.ga),
    totalCents: hold.totalCents,
    currency: hold.currency,
    expiresAt: hold.expiresAt,
    state: enumWord(HoldState, hold.state, 'HOLD_STATE_', ['active', 'confirmed', 'released', 'expired']),
  };
}

export function bookingView(booking: Booking): Body.Booking {
  return {
    id: booking.id,
    userId: booking.userId,
    showId: booking.showId,
    holdId: booking.holdId,
    seats: seatItems(booking.seats),
    ga: gaItems(booking.ga),
    totalCents: booking.totalCents,
    currency: booking.currency,
    state: enumWord(BookingState, booking.state, 'BOOKING_STATE_', ['confirmed', 'cancelled']),
    paymentId: booking.paymentId,
    refundId: booking.refundId || null,
    createdAt: booking.createdAt,
    cancelledAt: booking.cancelledAt || null,
  };
}

export type NodeView = Body.NodeView;

export function nodeView(nodeId: number, address: string, status: NodeStatus): NodeView {
  return {
    nodeId,
    address,
    reachable: true,
    role: enumWord(NodeRole, status.role, 'NODE_ROLE_', ['master', 'slave', 'candidate']),
    term: status.term,
    masterId: status.masterId || null,
    lamport: status.lamport,
    canServeWrites: status.canServeWrites,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    lagEntries: null,
    slaves: status.slaves.map((s) => ({
      nodeId: s.nodeId,
      matchIndex: s.matchIndex,
      lagEntries: s.lagEntries,
      lastAckMs: s.lastAckMs,
    })),
    etcdLeaseHolder: status.etcdLeaseHolder || null,
    etcdLeaseToken: status.etcdLeaseHolder ? status.etcdLeaseToken : null,
  };
}

/**
 * The master as the nodes report it: a node answering role master that can serve writes (the highest
 * term if, for a moment, a deposed one still says so); null while an election runs.
 */
export function currentMaster(nodes: readonly NodeView[]): { nodeId: number; term: number } | null {
  let best: { nodeId: number; term: number } | null = null;
  for (const node of nodes) {
    if (!node.reachable || node.role !== 'master' || !node.canServeWrites) continue;
    if (best === null || node.term > best.term) best = { nodeId: node.nodeId, term: node.term };
  }
  return best;
}

/** Fills each slave's `lagEntries` from what the current master reports about it. */
export function withLag(nodes: NodeView[]): NodeView[] {
  const master = currentMaster(nodes);
  const masterView = nodes.find((n) => n.reachable && n.nodeId === master?.nodeId);
  const slaves = masterView?.reachable ? masterView.slaves : [];
  return nodes.map((node) => {
    if (!node.reachable || node.nodeId === master?.nodeId) return node;
    const lag = slaves.find((s) => s.nodeId === node.nodeId);
    return { ...node, lagEntries: lag === undefined ? null : lag.lagEntries };
  });
}

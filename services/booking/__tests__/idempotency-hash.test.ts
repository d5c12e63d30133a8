import { canonicalJson, requestHash, scopeFor } from '../idempotency';

describe('idempotency request hashing', () => {
  it('canonical JSON sorts keys at every depth and drops undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('equal requests hash equally whatever order their fields were built in', () => {
    const a = requestHash('HoldSeats', {
      showId: 's',
      seatIds: ['A-1'],
      ga: [{ areaId: 'GA', quantity: 2 }],
    });
    const b = requestHash('HoldSeats', {
      ga: [{ quantity: 2, areaId: 'GA' }],
      seatIds: ['A-1'],
      showId: 's',
    });
    expect(a.equals(b)).toBe(true);
    expect(a).toHaveLength(32);
  });

  it('a different value, list order or method changes the hash', () => {
    const base = requestHash('HoldSeats', { showId: 's', seatIds: ['A-1', 'A-2'] });
    expect(base.equals(requestHash('HoldSeats', { showId: 's', seatIds: ['A-2', 'A-1'] }))).toBe(false);
    expect(base.equals(requestHash('HoldSeats', { showId: 't', seatIds: ['A-1', 'A-2'] }))).toBe(false);
    expect(base.equals(requestHash('ReleaseHold', { showId: 's', seatIds: ['A-1', 'A-2'] }))).toBe(false);
    // No ambiguity between a method name and the start of the payload.
    expect(requestHash('a', { b: 1 }).equals(requestHash('a\n{', { b: 1 }))).toBe(false);
  });

  it('a scope carries caller, key, method and hash', () => {
    expect(scopeFor('u1', 'key-12345', 'CancelBooking', { bookingId: 'bk_1' })).toEqual({
      userId: 'u1',
      key: 'key-12345',
      method: 'CancelBooking',
      requestHash: requestHash('CancelBooking', { bookingId: 'bk_1' }),
    });
  });
});

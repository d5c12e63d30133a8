import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { signToken } from '../../common/auth';
import { CreateShowRequest, EventKind } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { Event, Show, Venue } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { SECRET, aShow, aVenue, anEvent, expectGrpcError, metadataWith, startHarness } from './harness';
import type { Harness } from './harness';

let h: Harness;
let c: Harness['client'];
let venue: Venue;
let event: Event;
let show: Show;

beforeAll(async () => {
  h = await startHarness('catalog_errors');
  c = h.client;
  venue = await h.call(c.createVenue, { venue: aVenue() }, h.adminToken);
  event = await h.call(c.createEvent, { event: anEvent() }, h.adminToken);
  show = await h.call(c.createShow, { show: aShow(event.id, venue.id) }, h.adminToken);
});
afterAll(async () => {
  await h.close();
});

describe('authorization', () => {
  const writes = (): [string, (token?: string) => Promise<unknown>][] => [
    ['createVenue', (t) => h.call(c.createVenue, { venue: aVenue() }, t)],
    ['updateVenue', (t) => h.call(c.updateVenue, { venue }, t)],
    ['deleteVenue', (t) => h.call(c.deleteVenue, { venueId: venue.id }, t)],
    ['createEvent', (t) => h.call(c.createEvent, { event: anEvent() }, t)],
    ['updateEvent', (t) => h.call(c.updateEvent, { event }, t)],
    ['deleteEvent', (t) => h.call(c.deleteEvent, { eventId: event.id }, t)],
    ['createShow', (t) => h.call(c.createShow, { show: aShow(event.id, venue.id) }, t)],
    ['updateShow', (t) => h.call(c.updateShow, { show }, t)],
    ['deleteShow', (t) => h.call(c.deleteShow, { showId: show.id }, t)],
    ['importCatalog', (t) => h.importCatalog({ documentJson: '{}' }, t)],
  ];

  it('answers UNAUTHENTICATED to every write without a token', async () => {
    for (const [, write] of writes())
      await expectGrpcError(write(undefined), status.UNAUTHENTICATED, 'authorization');
  });

  it('answers PERMISSION_DENIED to every write with a user token', async () => {
    for (const [, write] of writes())
      await expectGrpcError(write(h.userToken), status.PERMISSION_DENIED, 'admin role');
  });

  it('answers UNAUTHENTICATED to forged and expired tokens', async () => {
    const forged = signToken(
      { userId: 'x', email: 'x@example.com', role: 'admin' },
      'another-secret-0123456789',
      3600,
      Date.now(),
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent() }, forged),
      status.UNAUTHENTICATED,
      'signature',
    );
    const expired = signToken(
      { userId: 'x', email: 'x@example.com', role: 'admin' },
      SECRET,
      60,
      Date.now() - 3_600_000,
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent() }, expired),
      status.UNAUTHENTICATED,
      'expired',
    );
  });

  it('leaves the records untouched after refused writes', async () => {
    expect(await h.call(c.getVenue, { venueId: venue.id })).toEqual(venue);
    expect(await h.call(c.getEvent, { eventId: event.id })).toEqual(event);
    expect((await h.call(c.getShow, { showId: show.id })).show).toEqual(show);
  });

  it('serves reads without a token', async () => {
    expect((await h.call(c.getEvent, { eventId: event.id })).id).toBe(event.id);
  });
});

describe('bad input names the field', () => {
  const hall = () => structuredClone(aVenue().halls[0]!);

  it('reads: missing, malformed and unknown ids, bad page sizes, overlong strings', async () => {
    await expectGrpcError(
      h.call(c.getEvent, { eventId: '' }),
      status.INVALID_ARGUMENT,
      'event_id: is required',
    );
    await expectGrpcError(
      h.call(c.getEvent, { eventId: 'evt_missing' }),
      status.NOT_FOUND,
      'event_id: event "evt_missing" not found',
    );
    await expectGrpcError(
      h.call(c.listShows, { eventId: 'a b', pageSize: 0, pageToken: '' }),
      status.INVALID_ARGUMENT,
      'event_id',
      'not a valid id',
    );
    await expectGrpcError(
      h.call(c.listShows, { eventId: 'evt_missing', pageSize: 0, pageToken: '' }),
      status.NOT_FOUND,
      'event_id',
    );
    await expectGrpcError(
      h.call(c.listShows, { eventId: event.id, pageSize: -3, pageToken: '' }),
      status.INVALID_ARGUMENT,
      'page_size',
    );
    await expectGrpcError(h.call(c.getShow, { showId: '' }), status.INVALID_ARGUMENT, 'show_id: is required');
    await expectGrpcError(
      h.call(c.getShow, { showId: 'shw_missing' }),
      status.NOT_FOUND,
      'show_id: show "shw_missing" not found',
    );
    await expectGrpcError(
      h.call(c.getVenue, { venueId: 'x'.repeat(65) }),
      status.INVALID_ARGUMENT,
      'venue_id: must be at most 64 characters',
    );
    await expectGrpcError(h.call(c.getVenue, { venueId: 'ven_missing' }), status.NOT_FOUND, 'venue_id');
    await expectGrpcError(
      h.call(c.listVenues, { city: '', pageSize: 1000, pageToken: '' }),
      status.INVALID_ARGUMENT,
      'page_size',
    );
    await expectGrpcError(
      h.call(c.listVenues, { city: 'c'.repeat(101), pageSize: 0, pageToken: '' }),
      status.INVALID_ARGUMENT,
      'city: must be at most 100',
    );
    await expectGrpcError(
      h.call(c.listVenues, { city: '', pageSize: 0, pageToken: '%%%' }),
      status.INVALID_ARGUMENT,
      'page_token',
    );
  });

  it('venues: every level of the seat map', async () => {
    await expectGrpcError(
      h.call(c.createVenue, { venue: undefined }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue: is required',
    );
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ name: '  ' }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.name: is required',
    );
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ name: 'n'.repeat(201) }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.name: must be at most 200 characters',
    );
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ id: 'ven_mine' }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.id: must be empty on create',
    );
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls: needs at least one hall',
    );

    const rows = hall();
    rows.sections[1]!.rows = [
      { label: 'A', seatCount: 5 },
      { label: 'B', seatCount: 5 },
      { label: 'C', seatCount: 201 },
    ];
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [rows] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].sections[1].rows[2].seat_count: must be between 1 and 200',
    );
    rows.sections[1]!.rows[2]!.seatCount = -1;
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [rows] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].sections[1].rows[2].seat_count',
    );

    const big = hall();
    big.sections = [
      {
        id: 'BIG',
        name: 'Big',
        priceTier: 'std',
        rows: Array.from({ length: 26 }, (_, i) => ({ label: `R${i}`, seatCount: 200 })),
      },
    ];
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [big] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].sections: the hall has 5200 seats; at most 5000',
    );

    const code = hall();
    code.id = 'H-1';
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [code] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].id',
      'A-Z, 0-9 and _',
    );

    const ga = hall();
    ga.gaAreas[0]!.capacity = 100_001;
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [ga] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].ga_areas[0].capacity: must be between 1 and 100000',
    );

    const dup = hall();
    dup.gaAreas[0]!.id = 'orch';
    await expectGrpcError(
      h.call(c.createVenue, { venue: aVenue({ halls: [dup] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.halls[0].ga_areas[0].id: duplicate section or area id "ORCH"',
    );

    await expectGrpcError(
      h.call(c.updateVenue, { venue: aVenue() }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue.id: is required',
    );
    await expectGrpcError(
      h.call(c.updateVenue, { venue: aVenue({ id: 'ven_missing' }) }, h.adminToken),
      status.NOT_FOUND,
      'venue.id: venue "ven_missing" not found',
    );
    await expectGrpcError(
      h.call(c.deleteVenue, { venueId: '' }, h.adminToken),
      status.INVALID_ARGUMENT,
      'venue_id: is required',
    );
    await expectGrpcError(
      h.call(c.deleteVenue, { venueId: 'ven_missing' }, h.adminToken),
      status.NOT_FOUND,
      'venue_id',
    );
  });

  it('events: kind, lengths, numbers and urls', async () => {
    await expectGrpcError(
      h.call(c.createEvent, { event: undefined }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event: is required',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ kind: EventKind.EVENT_KIND_UNSPECIFIED }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.kind: must be one of',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ title: 't'.repeat(201) }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.title: must be at most 200 characters',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ description: 'd'.repeat(4001) }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.description: must be at most 4000 characters',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ durationMinutes: -5 }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.duration_minutes: must be between 0 and 1440',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ posterUrl: 'ftp://x/y.jpg' }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.poster_url',
    );
    await expectGrpcError(
      h.call(c.createEvent, { event: anEvent({ genres: ['ok', ''] }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'event.genres[1]: is required',
    );
    await expectGrpcError(
      h.call(c.updateEvent, { event: anEvent({ id: 'evt_missing' }) }, h.adminToken),
      status.NOT_FOUND,
      'event.id: event "evt_missing" not found',
    );
    await expectGrpcError(
      h.call(c.deleteEvent, { eventId: 'evt_missing' }, h.adminToken),
      status.NOT_FOUND,
      'event_id',
    );
  });

  it('shows: references, hall, prices, currency and time', async () => {
    await expectGrpcError(
      h.call(c.createShow, { show: undefined }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show: is required',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow('', venue.id) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.event_id: is required',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow('evt_missing', venue.id) }, h.adminToken),
      status.NOT_FOUND,
      'show.event_id: event "evt_missing" not found',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow(event.id, 'ven_missing') }, h.adminToken),
      status.NOT_FOUND,
      'show.venue_id: venue "ven_missing" not found',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow(event.id, venue.id, { hallId: 'H9' }) }, h.adminToken),
      status.NOT_FOUND,
      'show.hall_id: hall "H9" not found',
    );
    const missingTier = aShow(event.id, venue.id);
    missingTier.prices = missingTier.prices.filter((p) => p.priceTier !== 'standing');
    await expectGrpcError(
      h.call(c.createShow, { show: missingTier }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.prices: no price for tier "standing"',
    );
    const extraTier = aShow(event.id, venue.id);
    extraTier.prices.push({ priceTier: 'vip', amountCents: 1 });
    await expectGrpcError(
      h.call(c.createShow, { show: extraTier }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.prices[3].price_tier: tier "vip" is not used',
    );
    const negative = aShow(event.id, venue.id);
    negative.prices[1]!.amountCents = -1;
    await expectGrpcError(
      h.call(c.createShow, { show: negative }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.prices[1].amount_cents: must be between 0 and 10000000',
    );
    negative.prices[1]!.amountCents = 10_000_001;
    await expectGrpcError(
      h.call(c.createShow, { show: negative }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.prices[1].amount_cents',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow(event.id, venue.id, { currency: 'EURO' }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.currency',
    );
    await expectGrpcError(
      h.call(c.createShow, { show: aShow(event.id, venue.id, { startsAt: 'tomorrow' }) }, h.adminToken),
      status.INVALID_ARGUMENT,
      'show.starts_at: must be an RFC 3339 time',
    );
    await expectGrpcError(
      h.call(
        c.createShow,
        { show: aShow(event.id, venue.id, { startsAt: '2031-06-01T19:30:00' }) },
        h.adminToken,
      ),
      status.INVALID_ARGUMENT,
      'show.starts_at',
    );
    await expectGrpcError(
      h.call(c.updateShow, { show: aShow(event.id, venue.id, { id: 'shw_missing' }) }, h.adminToken),
      status.NOT_FOUND,
      'show.id: show "shw_missing" not found',
    );
    await expectGrpcError(
      h.call(c.deleteShow, { showId: 'shw_missing' }, h.adminToken),
      status.NOT_FOUND,
      'show_id',
    );
  });

  it('imports: exactly one source, a usable URL', async () => {
    await expectGrpcError(
      h.importCatalog({}, h.adminToken),
      status.INVALID_ARGUMENT,
      'source_url: give exactly one',
    );
    await expectGrpcError(
      h.importCatalog({ sourceUrl: 'http://x', documentJson: '{}' }, h.adminToken),
      status.INVALID_ARGUMENT,
      'document_json',
      'not both',
    );
    await expectGrpcError(
      h.importCatalog({ sourceUrl: 'file:///etc/passwd' }, h.adminToken),
      status.INVALID_ARGUMENT,
      'source_url: must be an http(s) URL',
    );
    await expectGrpcError(
      h.importCatalog({ documentJson: '{"movies": [' }, h.adminToken),
      status.INVALID_ARGUMENT,
      'document_json: is not valid JSON',
    );
  });
});

describe('requests that do not decode', () => {
  const identity = (bytes: Buffer): Buffer => bytes;
  const Raw = grpc.makeGenericClientConstructor(
    {
      getEvent: {
        path: '/marquee.catalog.v1.CatalogService/GetEvent',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
      createShow: {
        path: '/marquee.catalog.v1.CatalogService/CreateShow',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
      importCatalog: {
        path: '/marquee.catalog.v1.CatalogService/ImportCatalog',
        requestStream: false,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    'RawCatalog',
  );
  let raw: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

  beforeAll(() => {
    raw = new Raw(h.address, grpc.credentials.createInsecure()) as typeof raw;
  });
  afterAll(() => raw.close());

  const unary = (method: string, bytes: Buffer, token?: string): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      raw[method]!(
        bytes,
        metadataWith(token),
        { deadline: Date.now() + 5000 },
        (error: grpc.ServiceError | null, response: Buffer) => (error ? reject(error) : resolve(response)),
      );
    });

  it('answers INVALID_ARGUMENT to garbage bytes on a unary method', async () => {
    // Field 1 as a length-delimited string claiming 127 bytes with only 2 present.
    await expectGrpcError(
      unary('getEvent', Buffer.from([0x0a, 0x7f, 0x41, 0x42])),
      status.INVALID_ARGUMENT,
      'request: could not be decoded',
    );
  });

  it('names a field sent with the wrong wire type instead of calling it missing', async () => {
    // event_id (field 1, a string) sent as the varint 7: a decoder skips it, so it read as absent.
    await expectGrpcError(
      unary('getEvent', Buffer.from([0x08, 0x07])),
      status.INVALID_ARGUMENT,
      'event_id: could not be decoded: field 1 was sent as varint (wire type 0), but it is a string',
    );
  });

  it('answers INVALID_ARGUMENT to an amount beyond the safe integer range', async () => {
    // The hand encoding is right: with a small amount it decodes to the show we meant.
    expect(CreateShowRequest.decode(encodeShowWithAmount(event.id, venue.id, 4500n)).show?.prices).toEqual([
      { priceTier: 'premium', amountCents: 4500 },
    ]);
    await expectGrpcError(
      unary('createShow', encodeShowWithAmount(event.id, venue.id, 1n << 60n), h.adminToken),
      status.INVALID_ARGUMENT,
      'request: could not be decoded',
      'MAX_SAFE_INTEGER',
    );
  });

  it('answers INVALID_ARGUMENT to garbage bytes on the streaming import', async () => {
    const stream = (raw.importCatalog as (b: Buffer, m: grpc.Metadata) => grpc.ClientReadableStream<Buffer>)(
      Buffer.from([0x0a, 0x7f, 0x41]),
      metadataWith(h.adminToken),
    );
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      stream.on('data', () => reject(new Error('no progress expected')));
      stream.on('error', resolve);
      stream.on('end', () => reject(new Error('expected an error')));
    });
    expect(grpc.status[error.code]).toBe('INVALID_ARGUMENT');
    expect(error.details).toContain('request: could not be decoded');
  });
});

/** A CreateShowRequest with one price, encoded by hand so the amount can exceed what ts-proto accepts. */
function encodeShowWithAmount(eventId: string, venueId: string, amount: bigint): Buffer {
  const varint = (input: bigint): Buffer => {
    const out: number[] = [];
    let value = input;
    while (value > 0x7fn) {
      out.push(Number(value & 0x7fn) | 0x80);
      value >>= 7n;
    }
    out.push(Number(value));
    return Buffer.from(out);
  };
  const delimited = (field: number, body: Buffer): Buffer =>
    Buffer.concat([Buffer.from([(field << 3) | 2]), varint(BigInt(body.length)), body]);
  const text = (field: number, value: string): Buffer => delimited(field, Buffer.from(value, 'utf8'));
  const price = Buffer.concat([text(1, 'premium'), Buffer.from([(2 << 3) | 0]), varint(amount)]);
  const show = Buffer.concat([
    text(2, eventId),
    text(3, venueId),
    text(4, 'MAIN'),
    text(5, '2031-06-01T19:30:00Z'),
    text(6, 'EUR'),
    delimited(7, price),
  ]);
  return delimited(1, show);
}

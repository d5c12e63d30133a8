import * as grpc from '@grpc/grpc-js';
import { CatalogServiceService } from '../../../proto/gen/marquee/catalog/v1/catalog';
import type { GetShowRequest, ShowDetail } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freshDatabase } from '../../../test/databases';
import { NotFoundError, UnavailableError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import { migrate } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import { Inventory } from '../inventory';
import { BOOKING_SCHEMA } from '../schema';
import { GrpcShowSource, StaticShowSource } from '../show-source';
import type { ShowInventory, ShowSource } from '../show-source';
import { makeShow, queryRows } from './harness';
import { singleNodeWriter } from '../write/batcher';

const logger = createLogger('inventory-test', { level: 'silent' });
const far = (): number => Date.now() + 5000;

describe('materializing shows on first access', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: Pool;
  beforeAll(async () => {
    db = await freshDatabase('booking_inv');
    pool = db.pool;
    await migrate(pool, BOOKING_SCHEMA);
  });
  afterAll(() => db.drop());

  it('concurrent first accesses on two nodes leave exactly one copy of the show', async () => {
    const show = makeShow('twice', 1500, [{ areaId: 'GA', capacity: 40 }]);
    const sources = [new StaticShowSource([show]), new StaticShowSource([show])];
    const nodes = sources.map(
      (source) => new Inventory(pool, source, Date.now, logger, singleNodeWriter(pool, Date.now, logger)),
    );
    const loaded = await Promise.all(Array.from({ length: 12 }, (_, i) => nodes[i % 2]!.get('twice', far())));
    for (const catalog of loaded) {
      expect(catalog.seats.size).toBe(1500);
      expect(catalog.pools.get('GA')).toEqual({
        name: 'Area GA',
        priceTier: 'ga',
        amountCents: 2000,
        capacity: 40,
      });
    }
    expect(sources.map((s) => s.calls).every((calls) => calls <= 1)).toBe(true); // one fetch per process at most
    const [counts] = await queryRows<{ seats: number; pools: number; shows: number }>(
      pool,
      `SELECT (SELECT COUNT(*) FROM seats WHERE show_id = 'twice') AS seats, (SELECT COUNT(*) FROM ga_pools WHERE show_id = 'twice') AS pools,
              (SELECT COUNT(*) FROM shows WHERE show_id = 'twice') AS shows`,
    );
    expect(counts).toEqual({ seats: 1500, pools: 1, shows: 1 });
    // A third process finds it already materialized and never asks the catalog.
    const third = new StaticShowSource([]);
    expect(
      (
        await new Inventory(pool, third, Date.now, logger, singleNodeWriter(pool, Date.now, logger)).get(
          'twice',
          far(),
        )
      ).seats.get('ORCH-A-1500')?.label,
    ).toBe('Orchestra A1500');
    expect(third.calls).toBe(0);
  });

  it('a failed fetch is not cached: the next access asks again', async () => {
    let fail = true;
    const source: ShowSource = {
      getShow: async (showId) => {
        if (fail) throw new UnavailableError('catalog: down');
        return makeShow(showId, 2);
      },
      close: () => undefined,
    };
    const inventory = new Inventory(pool, source, Date.now, logger, singleNodeWriter(pool, Date.now, logger));
    await expect(inventory.get('flaky', far())).rejects.toBeInstanceOf(UnavailableError);
    fail = false;
    expect((await inventory.get('flaky', far())).seats.size).toBe(2);
  });
});

describe('GrpcShowSource', () => {
  let server: grpc.Server;
  let port: number;
  const shows = new Map<string, ShowInventory>([
    ['cat-1', makeShow('cat-1', 3, [{ areaId: 'FLOOR', capacity: 9 }])],
  ]);

  beforeAll(async () => {
    server = new grpc.Server();
    const getShow = (
      call: grpc.ServerUnaryCall<GetShowRequest, ShowDetail>,
      callback: grpc.sendUnaryData<ShowDetail>,
    ) => {
      const show = shows.get(call.request.showId);
      if (!show) return callback({ code: grpc.status.NOT_FOUND, details: 'show_id: not found' });
      callback(null, {
        show: {
          id: show.showId,
          eventId: 'e',
          venueId: 'v',
          hallId: 'h',
          startsAt: show.startsAt,
          currency: show.currency,
          prices: [],
          externalId: '',
        },
        event: undefined,
        venue: undefined,
        hall: undefined,
        seats: show.seats.map((s, i) => ({
          id: s.id,
          label: s.label,
          sectionId: 'ORCH',
          row: 'A',
          number: i + 1,
          priceTier: s.priceTier,
          amountCents: s.amountCents,
        })),
        gaAreas: show.pools.map((p) => ({
          id: p.areaId,
          name: p.name,
          priceTier: p.priceTier,
          capacity: p.capacity,
          amountCents: p.amountCents,
        })),
      });
    };
    server.addService(CatalogServiceService, { getShow } as unknown as grpc.UntypedServiceImplementation);
    port = await new Promise((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  });
  afterAll(() => server.forceShutdown());

  it('turns the catalog’s ShowDetail into an inventory', async () => {
    const source = new GrpcShowSource(`127.0.0.1:${port}`);
    try {
      const show = await source.getShow('cat-1', far());
      expect(show).toEqual(shows.get('cat-1'));
    } finally {
      source.close();
    }
  });

  it('maps the catalog’s NOT_FOUND to a NotFoundError naming show_id', async () => {
    const source = new GrpcShowSource(`127.0.0.1:${port}`);
    try {
      const error = await source.getShow('nope', far()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toBe('show_id: show "nope" not found');
    } finally {
      source.close();
    }
  });

  it('reports an unreachable catalog as UNAVAILABLE, within the deadline', async () => {
    const source = new GrpcShowSource('127.0.0.1:1');
    try {
      const error = await source.getShow('cat-1', Date.now() + 500).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/^catalog: could not fetch show "cat-1"/);
    } finally {
      source.close();
    }
  });
});

import { Metadata, credentials, status as Code } from '@grpc/grpc-js';
import type { ClientOptions, ServiceError } from '@grpc/grpc-js';
import { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ShowDetail } from '../../proto/gen/marquee/catalog/v1/catalog';
import { NotFoundError, UnavailableError } from '../common/errors';

export interface InventorySeat {
  id: string;
  label: string;
  priceTier: string;
  amountCents: number;
}

export interface InventoryPool {
  areaId: string;
  name: string;
  priceTier: string;
  capacity: number;
  amountCents: number;
}

/** What booking needs of a catalog show: its currency and what can be sold. */
export interface ShowInventory {
  showId: string;
  currency: string;
  startsAt: string;
  seats: InventorySeat[];
  pools: InventoryPool[];
}

/** Where show inventories come from: the catalog service, or a fixed map in tests and benchmarks. */
export interface ShowSource {
  /** Throws NotFoundError for an unknown show, UnavailableError when the source cannot answer. */
  getShow(showId: string, deadline: Date | number): Promise<ShowInventory>;
  close(): void;
}

/** Longest we wait for the catalog, even when our caller would wait longer. */
const CATALOG_TIMEOUT_MS = 5000;

export function fromShowDetail(detail: ShowDetail): ShowInventory {
  if (!detail.show) throw new UnavailableError('catalog: GetShow answered without a show');
  return {
    showId: detail.show.id,
    currency: detail.show.currency,
    startsAt: detail.show.startsAt,
    seats: detail.seats.map((s) => ({
      id: s.id,
      label: s.label,
      priceTier: s.priceTier,
      amountCents: s.amountCents,
    })),
    pools: detail.gaAreas.map((a) => ({
      areaId: a.id,
      name: a.name,
      priceTier: a.priceTier,
      capacity: a.capacity,
      amountCents: a.amountCents,
    })),
  };
}

export class GrpcShowSource implements ShowSource {
  private readonly client: CatalogServiceClient;

  constructor(address: string, clientOptions: ClientOptions = {}) {
    this.client = new CatalogServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  getShow(showId: string, deadline: Date | number): Promise<ShowInventory> {
    const callerDeadline = deadline instanceof Date ? deadline.getTime() : deadline;
    const effective = Math.min(callerDeadline, Date.now() + CATALOG_TIMEOUT_MS);
    return new Promise((resolve, reject) => {
      this.client.getShow(
        { showId },
        new Metadata(),
        { deadline: effective },
        (error: ServiceError | null, detail: ShowDetail) => {
          if (!error) {
            try {
              resolve(fromShowDetail(detail));
            } catch (failure) {
              reject(failure);
            }
            return;
          }
          if (error.code === Code.NOT_FOUND) reject(new NotFoundError('show', showId, 'show_id'));
          else
            reject(
              new UnavailableError(
                `catalog: could not fetch show ${JSON.stringify(showId)} (${Code[error.code]}: ${error.details})`,
              ),
            );
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** A fixed set of shows; `getShow` counts calls so tests can see the catalog was asked once. */
export class StaticShowSource implements ShowSource {
  private readonly shows = new Map<string, ShowInventory>();
  calls = 0;

  constructor(shows: ShowInventory[] = []) {
    for (const show of shows) this.add(show);
  }

  add(show: ShowInventory): void {
    this.shows.set(show.showId, show);
  }

  async getShow(showId: string): Promise<ShowInventory> {
    this.calls++;
    const show = this.shows.get(showId);
    if (!show) throw new NotFoundError('show', showId, 'show_id');
    return show;
  }

  close(): void {}
}

import type { Logger } from 'pino';
import { BookingChangeKind } from '../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange } from '../../proto/gen/marquee/booking/v1/booking';
import type { FeedBatch } from './feed-batches';
import { encodeColumns } from './interaction-columns';
import {
  SnapshotError,
  applyInteraction,
  createModel,
  deserializeModel,
  retireEndedEvents,
  upsertEvent,
} from './model';
import type { EventContent, Interaction, Model } from './model';
import type { RecommendationStore, ResolvedChange, StoredBooking } from './store';
import type { TrainJob, TrainResult } from './trainer';

/*
 * Owns the live model. Bookings from the change stream are stored (store.ts) and applied to the
 * model as they come; a full retrain on a worker thread runs on a schedule (and after a stream
 * RESET), and its model is swapped in after replaying what was stored while it trained. Every
 * change to the model goes through one queue (`serially`), so a swap never races an update.
 */

export interface EngineOptions {
  store: RecommendationStore;
  /** show id → event id (the catalog); undefined for a show the catalog no longer knows. */
  eventOf: (showId: string) => Promise<string | undefined>;
  /** Runs a full retrain (on a worker thread in the service; in-thread in unit tests). */
  train: (job: TrainJob) => Promise<TrainResult>;
  logger: Logger;
  now: () => number;
  halfLifeMs: number;
}

export interface EngineStatus {
  version: string;
  position: number;
  events: number;
  users: number;
  retrains: number;
  lastRetrainMs: number | undefined;
  skippedChanges: number;
}

/** Stored bookings as model interactions, in stream order: each booking, and its cancellation. */
export function interactionsOf(bookings: readonly StoredBooking[], after = -1): Interaction[] {
  const timed: { position: number; order: number; interaction: Interaction }[] = [];
  bookings.forEach((b, order) => {
    if (b.bookedPosition > after)
      timed.push({
        position: b.bookedPosition,
        order,
        interaction: { userId: b.userId, eventId: b.eventId, at: b.bookedAt, weight: 1 },
      });
    if (b.cancelledPosition !== undefined && b.cancelledPosition > after)
      timed.push({
        position: b.cancelledPosition,
        order,
        interaction: { userId: b.userId, eventId: b.eventId, at: b.cancelledAt ?? b.bookedAt, weight: -1 },
      });
  });
  timed.sort((x, y) => x.position - y.position || x.order - y.order);
  return timed.map((t) => t.interaction);
}

export class RecommendationEngine {
  private model: Model;
  private modelVersion = 'untrained';
  private contents: EventContent[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private position = 0;
  private retrains = 0;
  private lastRetrainMs: number | undefined;
  private skipped = 0;
  private retraining: Promise<void> | undefined;

  constructor(private readonly options: EngineOptions) {
    this.model = createModel({ halfLifeMs: options.halfLifeMs });
  }

  /** The model serving answers now (replaced whole by a retrain, updated in place by bookings). */
  current(): { model: Model; version: string } {
    return { model: this.model, version: this.modelVersion };
  }

  status(): EngineStatus {
    return {
      version: this.modelVersion,
      position: this.position,
      events: this.model.content.events.size,
      users: this.model.collaborative.users.size,
      retrains: this.retrains,
      lastRetrainMs: this.lastRetrainMs,
      skippedChanges: this.skipped,
    };
  }

  /**
   * Loads the stored model (if it can be trusted) and brings it up to date with the bookings stored
   * after it; otherwise trains from every stored booking. Resolves with the stream position to
   * follow from.
   */
  async load(contents: readonly EventContent[]): Promise<number> {
    this.setContents(contents);
    const feed = await this.options.store.feed();
    this.position = feed.position;
    const stored = await this.options.store.loadModel();
    if (stored && stored.position >= feed.resetPosition) {
      try {
        const model = deserializeModel(JSON.parse(stored.snapshot));
        for (const content of this.contents) upsertEvent(model, content);
        for (const interaction of interactionsOf(
          await this.options.store.bookingsChangedAfter(stored.position),
          stored.position,
        ))
          applyInteraction(model, interaction);
        this.model = model;
        this.modelVersion = stored.version;
        this.options.logger.info({ version: stored.version, position: feed.position }, 'stored model loaded');
        return feed.position;
      } catch (error) {
        if (!(error instanceof SnapshotError) && !(error instanceof SyntaxError)) throw error;
        this.options.logger.warn({ err: error.message }, 'stored model unusable; retraining');
      }
    }
    await this.retrain('start');
    return feed.position;
  }

  /** New catalog content: events added or changed are recommendable at once; ended ones retire. */
  refreshCatalog(contents: readonly EventContent[]): Promise<void> {
    return this.serially(() => {
      this.setContents(contents);
      for (const content of this.contents) upsertEvent(this.model, content);
      retireEndedEvents(this.model, this.options.now());
    });
  }

  /** Stores a batch from the change stream and applies what it changed to the model. */
  applyBatch(batch: FeedBatch): Promise<void> {
    return this.serially(async () => {
      const { store } = this.options;
      if (batch.kind === 'reset') {
        await store.reset(await this.resolve(batch.bookings), batch.position);
        this.position = batch.position;
        // The reset dropped bookings the live model counted: only a retrain from the store is exact.
        this.scheduleRetrain('reset');
        return;
      }
      const applied = await store.applyChanges(await this.resolve(batch.changes), batch.position);
      this.position = batch.position;
      for (const change of applied.booked)
        applyInteraction(this.model, {
          userId: change.userId,
          eventId: change.eventId,
          at: change.at,
          weight: 1,
        });
      for (const change of applied.cancelled)
        applyInteraction(this.model, {
          userId: change.userId,
          eventId: change.eventId,
          at: change.at,
          weight: -1,
        });
    });
  }

  /** Starts a retrain unless one is running; resolves when it has been swapped in. */
  retrain(why: string): Promise<void> {
    this.retraining ??= this.runRetrain(why).finally(() => {
      this.retraining = undefined;
    });
    return this.retraining;
  }

  private scheduleRetrain(why: string): void {
    void this.retrain(why).catch((error: unknown) =>
      this.options.logger.error({ err: error, why }, 'retrain failed; the current model keeps serving'),
    );
  }

  private async runRetrain(why: string): Promise<void> {
    const { store, logger } = this.options;
    const snapshot = await store.snapshot();
    const started = Date.now();
    const result = await this.options.train({
      interactions: await encodeColumns(interactionsOf(snapshot.bookings)),
      contents: this.contents,
      options: { halfLifeMs: this.options.halfLifeMs, now: this.options.now() },
    });
    const version = `m${Date.now().toString(36)}-p${snapshot.position}`;
    await this.serially(async () => {
      // Bookings stored while the worker trained: the new model has not seen them.
      const later = interactionsOf(await store.bookingsChangedAfter(snapshot.position), snapshot.position);
      for (const interaction of later) applyInteraction(result.model, interaction);
      for (const content of this.contents) upsertEvent(result.model, content);
      this.model = result.model;
      this.modelVersion = version;
    });
    await store.saveModel({
      version,
      position: snapshot.position,
      trainedAt: Date.now(),
      snapshot: result.snapshotJson,
    });
    this.retrains += 1;
    this.lastRetrainMs = Date.now() - started;
    logger.info(
      { why, version, bookings: snapshot.bookings.length, trainMs: result.ms, totalMs: this.lastRetrainMs },
      'model retrained',
    );
  }

  private setContents(contents: readonly EventContent[]): void {
    this.contents = [...contents];
  }

  /** Show ids → event ids; a change for a show the catalog does not know is skipped (and counted). */
  private async resolve(changes: readonly BookingChange[]): Promise<ResolvedChange[]> {
    const resolved: ResolvedChange[] = [];
    for (const change of changes) {
      const eventId = await this.options.eventOf(change.showId);
      if (eventId === undefined) {
        this.skipped += 1;
        this.options.logger.warn(
          { showId: change.showId, bookingId: change.bookingId },
          'booking for an unknown show skipped',
        );
        continue;
      }
      resolved.push({
        kind: change.kind === BookingChangeKind.BOOKING_CHANGE_KIND_CANCELLED ? 'cancelled' : 'confirmed',
        bookingId: change.bookingId,
        userId: change.userId,
        eventId,
        showId: change.showId,
        quantity: change.quantity,
        at: Date.parse(change.at) || this.options.now(),
        position: change.position,
      });
    }
    return resolved;
  }

  private serially<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

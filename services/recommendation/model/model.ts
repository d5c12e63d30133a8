import { InvalidArgumentError } from '../../common/errors';
import { emptyContentIndex, hasFutureShow, normalizeContent, upsertContent } from './content';
import type { ContentIndex, EventContent } from './content';
import {
  addBooking,
  buildNeighbours,
  emptyCollaborativeState,
  removeBooking,
  setRetired,
  updateNeighbours,
} from './cooccurrence';
import type { Change, CollaborativeOptions, CollaborativeState } from './cooccurrence';
import { checkInteraction } from './interactions';
import type { Interaction } from './interactions';

/*
 * The model as one value: options, the collaborative counts (with derived neighbour lists) and the
 * content index. `train` is a pure function of its inputs, so it can run on a worker thread;
 * `applyInteraction` and `upsertEvent` update a model in place as bookings and catalog changes
 * arrive (copying a large model per booking would cost more than the update itself), so the owner
 * of a model is the only one who writes it.
 */

/** How the three scores are blended (blend.ts explains the formula). */
export interface BlendOptions {
  /** Share of the collaborative score for a user and an event that are both well known. */
  readonly collaborative: number;
  /** Share of the content score for a well-known user (it also takes over for little-booked events). */
  readonly content: number;
  /** History length at which the user counts as half known. */
  readonly userConfidence: number;
  /** Bookers at which an event's co-bookings count as half known. */
  readonly itemConfidence: number;
  /**
   * Share of the collaborative weight that content takes over for an event without co-booking
   * evidence (a new one). Below 1 because a content match is a weaker sign than co-bookings: at 1,
   * a long tail of unbooked events that merely share genres crowds out what people really book.
   */
  readonly coldContent: number;
  /** Score factor for events with no show in the request's city (a soft preference, not a filter). */
  readonly outOfCity: number;
}

export interface ModelOptions extends CollaborativeOptions {
  readonly blend: BlendOptions;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_OPTIONS: ModelOptions = {
  // Bookings a month old count half: tastes drift slowly, but what is popular changes by the week.
  halfLifeMs: 30 * DAY_MS,
  neighbours: 100,
  historyWindow: 50,
  shrink: 2,
  blend: {
    collaborative: 0.7,
    content: 0.2,
    userConfidence: 1,
    itemConfidence: 3,
    coldContent: 0.25,
    outOfCity: 0.5,
  },
};

export interface Model {
  readonly options: ModelOptions;
  readonly collaborative: CollaborativeState;
  readonly content: ContentIndex;
}

export type ModelOptionsInput = Partial<Omit<ModelOptions, 'blend'>> & { blend?: Partial<BlendOptions> };

export interface TrainOptions extends ModelOptionsInput {
  /**
   * When given, events whose shows are all over by then are retired (never offered as neighbours).
   * Leave it out to keep training a function of the data alone.
   */
  now?: number;
  /** Called now and then on long steps, e.g. to post progress from a worker thread. */
  onProgress?: (phase: 'bookings' | 'neighbours', done: number, total: number) => void;
}

/** Fills defaults and checks ranges; errors name the option. */
export function resolveOptions(input: ModelOptionsInput = {}): ModelOptions {
  const options: ModelOptions = {
    halfLifeMs: input.halfLifeMs ?? DEFAULT_OPTIONS.halfLifeMs,
    neighbours: input.neighbours ?? DEFAULT_OPTIONS.neighbours,
    historyWindow: input.historyWindow ?? DEFAULT_OPTIONS.historyWindow,
    shrink: input.shrink ?? DEFAULT_OPTIONS.shrink,
    blend: { ...DEFAULT_OPTIONS.blend, ...input.blend },
  };
  positive(options.halfLifeMs, 'halfLifeMs');
  integer(options.neighbours, 'neighbours', 1, 10_000);
  integer(options.historyWindow, 'historyWindow', 1, 10_000);
  atLeastZero(options.shrink, 'shrink');
  const { blend } = options;
  share(blend.collaborative, 'blend.collaborative');
  share(blend.content, 'blend.content');
  if (blend.collaborative + blend.content > 1)
    throw new InvalidArgumentError(
      'blend',
      'collaborative + content must be at most 1 (the rest is popularity)',
    );
  atLeastZero(blend.userConfidence, 'blend.userConfidence');
  atLeastZero(blend.itemConfidence, 'blend.itemConfidence');
  share(blend.coldContent, 'blend.coldContent');
  share(blend.outOfCity, 'blend.outOfCity');
  return options;
}

function positive(value: number, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(field, `must be a positive number (got ${value})`);
}

function atLeastZero(value: number, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError(field, `must be a number >= 0 (got ${value})`);
}

function share(value: number, field: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new InvalidArgumentError(field, `must be between 0 and 1 (got ${value})`);
}

function integer(value: number, field: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgumentError(field, `must be an integer between ${min} and ${max} (got ${value})`);
}

/** An empty model: every answer comes from content and popularity until bookings arrive. */
export function createModel(options: ModelOptionsInput = {}): Model {
  return {
    options: resolveOptions(options),
    collaborative: emptyCollaborativeState(),
    content: emptyContentIndex(),
  };
}

/**
 * Builds a model from scratch. Interactions are applied in time order (ties in input order), exactly
 * as `applyInteraction` would apply them one by one, so a model kept up to date incrementally equals
 * a retrain on the same interactions; only the neighbour lists are built once at the end.
 */
export function train(
  interactions: readonly Interaction[],
  contents: readonly EventContent[],
  options: TrainOptions = {},
): Model {
  const model = createModel(options);
  contents.forEach((content, i) => upsertContent(model.content, normalizeContent(content, `contents[${i}]`)));
  const checked = interactions.map((interaction, i) => checkInteraction(interaction, `interactions[${i}]`));
  const ordered = checked.map((interaction, i) => ({ interaction, i }));
  ordered.sort((a, b) => a.interaction.at - b.interaction.at || a.i - b.i);
  const report = options.onProgress;
  ordered.forEach(({ interaction }, i) => {
    record(model, interaction);
    if (report && (i % 10_000 === 9_999 || i === ordered.length - 1))
      report('bookings', i + 1, ordered.length);
  });
  if (options.now !== undefined) retireEnded(model, checkNow(options.now), false);
  buildNeighbours(
    model.collaborative,
    model.options,
    report ? (done, total) => report('neighbours', done, total) : undefined,
  );
  return model;
}

/** Counts one interaction; returns what changed for neighbour maintenance (undefined: nothing). */
function record(model: Model, interaction: Required<Interaction>): Change | undefined {
  const { collaborative, options } = model;
  return interaction.weight > 0
    ? addBooking(
        collaborative,
        options,
        interaction.userId,
        interaction.eventId,
        interaction.at,
        interaction.weight,
      )
    : removeBooking(collaborative, options, interaction.userId, interaction.eventId);
}

/**
 * Applies one booking (weight > 0) or cancellation (weight < 0) as it arrives, in place. The work is
 * proportional to the user's window and the event's co-booking row, not to the model.
 */
export function applyInteraction(model: Model, interaction: Interaction): void {
  const change = record(model, checkInteraction(interaction));
  if (change) updateNeighbours(model.collaborative, model.options, change);
}

/** Adds an event or replaces its content (a new event is recommendable by content at once). */
export function upsertEvent(model: Model, content: EventContent): void {
  upsertContent(model.content, normalizeContent(content, 'event'));
}

/**
 * Retires events whose shows are all over at `now` (they stay as history that points to similar
 * events, but are no longer offered as neighbours, so they cannot crowd bookable events out of the
 * lists), and brings back retired events that got new shows. Run it now and then, e.g. hourly.
 */
export function retireEndedEvents(model: Model, now: number): void {
  retireEnded(model, checkNow(now), true);
}

function retireEnded(model: Model, now: number, maintainLists: boolean): void {
  const { collaborative, options } = model;
  for (const event of model.content.events.values()) {
    const ended = !hasFutureShow(event, now);
    if (maintainLists) setRetired(collaborative, options, event.eventId, ended);
    else if (ended) collaborative.retired.add(event.eventId);
    else collaborative.retired.delete(event.eventId);
  }
}

export function checkNow(now: unknown, field = 'now'): number {
  if (typeof now !== 'number' || !Number.isFinite(now))
    throw new InvalidArgumentError(field, 'must be a time in ms since the epoch');
  return now;
}

/**
 * The recommendation model: pure functions over plain data, no I/O (except movielens.ts's file
 * reader, for offline evaluation). The gRPC service, the booking-stream consumer and the snapshot
 * store wrap it.
 */
export { recommend, recommendPopular, similarEvents, MAX_K, MAX_HISTORY } from './blend';
export type { Recommendation, RecommendRequest, SimilarOptions } from './blend';
export type { EventContent, EventInfo } from './content';
export type { Interaction } from './interactions';
export {
  applyInteraction,
  createModel,
  DEFAULT_OPTIONS,
  retireEndedEvents,
  train,
  upsertEvent,
} from './model';
export type { BlendOptions, Model, ModelOptions, ModelOptionsInput, TrainOptions } from './model';
export { deserializeModel, serializeModel, SnapshotError, SNAPSHOT_VERSION } from './serialize';
export type { ModelSnapshot } from './serialize';

import { principalFrom } from '../common/auth';
import { PermissionDeniedError } from '../common/errors';
import type { AsyncHandlers, CallContext } from '../common/grpc-server';
import type { RecommendationServiceServer } from '../../proto/gen/marquee/recommendation/v1/recommendation';
import { recommend, recommendPopular, similarEvents } from './model';
import type { Model } from './model';

/*
 * RecommendationService over the live model. Whose recommendations: the caller's own (from the
 * token) unless user_id names someone else, which needs the admin role (the reasons name what that
 * user booked); no token and no user_id gets the answer for anyone (popular events). Validation of
 * k, ids and city is the model's (its errors name the request's fields).
 */

export interface RecommendationHandlerDeps {
  current: () => { model: Model; version: string };
  /** Events a user booked and did not cancel (all of them, not only those the model's window keeps). */
  bookedEvents: (userId: string) => Promise<string[]>;
  tokenSecret: string;
  now: () => number;
}

/** Requests leave k at 0 to mean "the default". */
const DEFAULT_K = 10;
const ANYONE = 'anyone';

export function recommendationHandlers(
  deps: RecommendationHandlerDeps,
): AsyncHandlers<RecommendationServiceServer> {
  const kOf = (k: number): number => (k === 0 ? DEFAULT_K : k);

  /** The user the answer is for, or undefined for anyone. */
  const subject = (requested: string, context: CallContext): string | undefined => {
    const caller = principalFrom(context.metadata, deps.tokenSecret, deps.now());
    if (requested === '') return caller?.userId;
    if (caller?.userId === requested || caller?.role === 'admin') return requested;
    throw new PermissionDeniedError("user_id: another user's recommendations need the admin role");
  };

  return {
    recommend: async (request, context) => {
      const userId = subject(request.userId, context);
      const { model, version } = deps.current();
      const now = deps.now();
      const items =
        userId === undefined
          ? recommendPopular(model, { userId: ANYONE, k: kOf(request.k), now, city: request.city })
          : recommend(model, {
              userId,
              k: kOf(request.k),
              now,
              city: request.city,
              history: await deps.bookedEvents(userId),
            });
      return { items: [...items], modelVersion: version };
    },

    similarEvents: async (request) => {
      const { model, version } = deps.current();
      const items = similarEvents(model, request.eventId, kOf(request.k), { now: deps.now() });
      return { items: [...items], modelVersion: version };
    },
  };
}

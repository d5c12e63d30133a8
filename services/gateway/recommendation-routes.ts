import { status as Code } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { Event } from '../../proto/gen/marquee/catalog/v1/catalog';
import type {
  RecommendResponse,
  Recommendation,
} from '../../proto/gen/marquee/recommendation/v1/recommendation';
import { isGrpcError } from '../common/errors';
import { fromUpstream } from './http-errors';
import { bearerToken, queryInteger, queryString } from './request';
import type { Upstreams } from './upstreams';
import { eventView } from './views';

/*
 * Recommendations over HTTP: "for you" (the signed-in user's picks, or popular ones for someone not
 * signed in) and "similar events". The recommendation service answers event ids with a score and a
 * reason; the gateway adds each event's details from the catalog, so a page can draw the cards
 * without another round trip. An event the catalog no longer has is left out.
 */

type Query = Record<string, unknown>;

async function upstream<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw fromUpstream(error, { renames: { event_id: 'eventId', user_id: 'userId' } });
  }
}

/** The picks with their events' details, in the service's order. */
async function withEvents(upstreams: Upstreams, answer: RecommendResponse) {
  const events = await Promise.all(
    answer.items.map(async (item: Recommendation) => {
      try {
        return await upstreams.catalog((c) => c.getEvent.bind(c), { eventId: item.eventId });
      } catch (error) {
        if (isGrpcError(error) && error.code === Code.NOT_FOUND) return undefined;
        throw fromUpstream(error);
      }
    }),
  );
  const items = answer.items.flatMap((item, i) => {
    const event: Event | undefined = events[i];
    return event ? [{ event: eventView(event), score: item.score, reason: item.reason }] : [];
  });
  return { items, modelVersion: answer.modelVersion };
}

export function registerRecommendationRoutes(app: FastifyInstance, upstreams: Upstreams): void {
  app.get('/api/recommendations', async (request) => {
    const query = request.query as Query;
    // Optional: without a token the answer is for anyone (popular events).
    const token = request.headers.authorization === undefined ? undefined : bearerToken(request.headers);
    const answer = await upstream<RecommendResponse>(
      upstreams.recommendation(
        (r) => r.recommend.bind(r),
        {
          userId: '',
          k: queryInteger(query, 'k', { min: 1, max: 20 }, 8),
          city: queryString(query, 'city') ?? '',
        },
        token === undefined ? {} : { token },
      ),
    );
    return withEvents(upstreams, answer);
  });

  app.get<{ Params: { eventId: string } }>('/api/events/:eventId/similar', async (request) => {
    const answer = await upstream<RecommendResponse>(
      upstreams.recommendation((r) => r.similarEvents.bind(r), {
        eventId: request.params.eventId,
        k: queryInteger(request.query as Query, 'k', { min: 1, max: 20 }, 4),
      }),
    );
    return withEvents(upstreams, answer);
  });
}

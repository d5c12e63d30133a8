import { status as Code } from '@grpc/grpc-js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Event } from '../../proto/gen/marquee/catalog/v1/catalog';
import type {
  RecommendResponse,
  Recommendation,
} from '../../proto/gen/marquee/recommendation/v1/recommendation';
import { isGrpcError } from '../common/errors';
import { fromUpstream } from './http-errors';
import { bearerToken } from './request';
import * as schema from './schemas/route-schemas';
import type { Upstreams } from './upstreams';
import { eventView } from './views';

/*
 * Recommendations over HTTP: "for you" (the signed-in user's picks, or popular ones for someone not
 * signed in) and "similar events". The recommendation service answers event ids with a score and a
 * reason; the gateway adds each event's details from the catalog, so a page can draw the cards
 * without another round trip. An event the catalog no longer has is left out.
 */

/** How many picks when `k` is not given. */
const DEFAULT_PICKS = 8;
const DEFAULT_SIMILAR = 4;

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

export function registerRecommendationRoutes(fastify: FastifyInstance, upstreams: Upstreams): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/api/recommendations', { schema: schema.recommendations }, async (request) => {
    const { query } = request;
    // Optional: without a token the answer is for anyone (popular events).
    const token = request.headers.authorization === undefined ? undefined : bearerToken(request.headers);
    const answer = await upstream<RecommendResponse>(
      upstreams.recommendation(
        (r) => r.recommend.bind(r),
        {
          userId: '',
          k: query.k ?? DEFAULT_PICKS,
          city: query.city ?? '',
        },
        token === undefined ? {} : { token },
      ),
    );
    return withEvents(upstreams, answer);
  });

  app.get('/api/events/:eventId/similar', { schema: schema.similarEvents }, async (request) => {
    const answer = await upstream<RecommendResponse>(
      upstreams.recommendation((r) => r.similarEvents.bind(r), {
        eventId: request.params.eventId,
        k: request.query.k ?? DEFAULT_SIMILAR,
      }),
    );
    return withEvents(upstreams, answer);
  });
}

// Compiled by services/gateway/__tests__/route-types.test.ts, not by the project's tsc: a route whose
// handler disagrees with its schema, which the type check must refuse.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { hold } from '../../services/gateway/schemas/route-schemas';

const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();

app.post('/api/holds', { schema: hold }, async (request) => ({
  id: 'hold_1',
  // The body has seatIds (an array), not seatId.
  showId: request.body.seatId,
  seats: [],
  ga: [],
  // The schema says an integer number of cents, not a string.
  totalCents: '45.00',
  currency: 'EUR',
  expiresAt: '2031-06-01T19:40:00Z',
  state: 'active' as const,
}));

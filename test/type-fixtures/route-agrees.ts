// Compiled by services/gateway/__tests__/route-types.test.ts, not by the project's tsc: a route whose
// handler answers what its schema says, which must compile without errors.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { hold } from '../../services/gateway/schemas/route-schemas';

const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();

app.post('/api/holds', { schema: hold }, async (request) => ({
  id: 'hold_1',
  showId: request.body.showId,
  seats: (request.body.seatIds ?? []).map((seatId) => ({ seatId, label: seatId, amountCents: 4500 })),
  ga: [],
  totalCents: 4500,
  currency: 'EUR',
  expiresAt: '2031-06-01T19:40:00Z',
  state: 'active' as const,
}));

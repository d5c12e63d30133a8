import { FailedPreconditionError, InvalidArgumentError } from '../../common/errors';
import { SimulatedCardProcessor, luhnValid, validateCard } from '../payments';
import type { CardInput } from '../payments';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const card = (change: Partial<CardInput> = {}): CardInput => ({
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2030,
  cvc: '123',
  holderName: ' Ada ',
  ...change,
});

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.field;
    throw error;
  }
  return undefined;
}

describe('Luhn', () => {
  it.each(['4242424242424242', '4000000000000002', '5555555555554444', '378282246310005', '79927398713'])(
    'accepts %s',
    (n) => {
      expect(luhnValid(n)).toBe(true);
    },
  );
  it.each(['4242424242424241', '4000000000000001', '79927398710', '1234567812345678'])('refuses %s', (n) => {
    expect(luhnValid(n)).toBe(false);
  });
});

describe('card validation', () => {
  it('normalises a valid card: digits only, trimmed holder, last four kept apart', () => {
    expect(validateCard(card({ number: '4242-4242 4242 4242' }), NOW)).toEqual({
      number: '4242424242424242',
      expMonth: 12,
      expYear: 2030,
      cvc: '123',
      holderName: 'Ada',
      last4: '4242',
    });
  });

  it.each([
    ['no card', undefined, 'card'],
    ['an empty number', card({ number: '  ' }), 'card.number'],
    ['letters', card({ number: '4242 4242 4242 424x' }), 'card.number'],
    ['11 digits', card({ number: '42424242424' }), 'card.number'],
    ['20 digits', card({ number: '42424242424242424242' }), 'card.number'],
    ['a bad checksum', card({ number: '4242424242424243' }), 'card.number'],
    ['month 0', card({ expMonth: 0 }), 'card.exp_month'],
    ['month 13', card({ expMonth: 13 }), 'card.exp_month'],
    ['a two-digit year', card({ expYear: 30 }), 'card.exp_year'],
    ['last month', card({ expYear: 2026, expMonth: 5 }), 'card.exp_year'],
    ['a two-digit cvc', card({ cvc: '12' }), 'card.cvc'],
    ['a five-digit cvc', card({ cvc: '12345' }), 'card.cvc'],
    ['a letter in the cvc', card({ cvc: '12a' }), 'card.cvc'],
    ['a holder name of 101 characters', card({ holderName: 'x'.repeat(101) }), 'card.holder_name'],
  ])('refuses %s, naming the field', (_name, input, field) => {
    expect(fieldOf(() => validateCard(input, NOW))).toBe(field);
  });

  it('a card is good through the last day of its expiry month', () => {
    expect(validateCard(card({ expYear: 2026, expMonth: 6 }), NOW).expMonth).toBe(6);
    expect(
      fieldOf(() => validateCard(card({ expYear: 2026, expMonth: 6 }), Date.parse('2026-07-01T00:00:00Z'))),
    ).toBe('card.exp_year');
  });
});

describe('SimulatedCardProcessor', () => {
  const processor = new SimulatedCardProcessor(() => NOW);
  const charge = (number: string) =>
    processor.charge({
      amountCents: 1000,
      currency: 'EUR',
      card: validateCard(card({ number }), NOW),
      reference: 'bk_1',
    });

  it('approves valid cards with a payment id, and refunds with a refund id', async () => {
    const { paymentId } = await charge('4242 4242 4242 4242');
    expect(paymentId).toMatch(/^pay_/);
    expect((await charge('5555 5555 5555 4444')).paymentId).not.toBe(paymentId);
    expect((await processor.refund({ paymentId, amountCents: 1000, currency: 'EUR' })).refundId).toMatch(
      /^ref_/,
    );
  });

  it('always declines the documented test card 4000 0000 0000 0002', async () => {
    const error = await charge('4000 0000 0000 0002').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect((error as Error).message).toMatch(/^card declined: /);
  });
});

import { FailedPreconditionError, InvalidArgumentError } from '../common/errors';
import { newId } from '../common/ids';

/** A card as the client sent it (proto `Card`). */
export interface CardInput {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  holderName: string;
}

/** A card that passed validation: digits only, never logged or stored in full. */
export interface ValidCard {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  holderName: string;
  last4: string;
}

export interface ChargeRequest {
  amountCents: number;
  currency: string;
  card: ValidCard;
  /** Our reference for the charge (the booking id), as a real processor's idempotency key. */
  reference: string;
}

export interface RefundRequest {
  paymentId: string;
  amountCents: number;
  currency: string;
}

/**
 * The card processor. A real one is a remote service; the store calls `charge` before it writes the
 * booking (a decline changes nothing) and `refund` on cancel, and records both in `payments`.
 */
export interface PaymentProcessor {
  /** Throws FailedPreconditionError "card declined: ..." when the issuer says no. */
  charge(request: ChargeRequest): Promise<{ paymentId: string }>;
  refund(request: RefundRequest): Promise<{ refundId: string }>;
}

/** The documented test card that every simulated charge declines. */
export const DECLINED_TEST_CARD = '4000000000000002';

/** Luhn (mod 10) check of a digit string. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Validates a card against the clock `nowMs`; throws InvalidArgumentError naming the field
 * (`card.number`, `card.exp_month`, ...). A card is valid through the last day of its expiry month (UTC).
 */
export function validateCard(card: CardInput | undefined, nowMs: number): ValidCard {
  if (!card) throw new InvalidArgumentError('card', 'is required');
  if (typeof card.number !== 'string') throw new InvalidArgumentError('card.number', 'must be a string');
  const number = card.number.replace(/[\s-]/g, '');
  if (number.length === 0) throw new InvalidArgumentError('card.number', 'is required');
  if (!/^\d+$/.test(number)) throw new InvalidArgumentError('card.number', 'must contain only digits');
  if (number.length < 12 || number.length > 19)
    throw new InvalidArgumentError('card.number', `must have 12 to 19 digits (got ${number.length})`);
  if (!luhnValid(number))
    throw new InvalidArgumentError('card.number', 'is not a valid card number (checksum)');
  const { expMonth, expYear } = card;
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12)
    throw new InvalidArgumentError('card.exp_month', 'must be between 1 and 12');
  if (!Number.isInteger(expYear) || expYear < 2000 || expYear > 2100) {
    throw new InvalidArgumentError('card.exp_year', 'must be a four-digit year between 2000 and 2100');
  }
  const now = new Date(nowMs);
  const thisMonth = now.getUTCFullYear() * 12 + now.getUTCMonth(); // months since year 0, January = 0
  if (expYear * 12 + (expMonth - 1) < thisMonth)
    throw new InvalidArgumentError(
      'card.exp_year',
      `the card expired in ${expYear}-${String(expMonth).padStart(2, '0')}`,
    );
  if (typeof card.cvc !== 'string' || !/^\d{3,4}$/.test(card.cvc.trim()))
    throw new InvalidArgumentError('card.cvc', 'must be 3 or 4 digits');
  const holderName = typeof card.holderName === 'string' ? card.holderName.trim() : '';
  if (holderName.length > 100)
    throw new InvalidArgumentError('card.holder_name', 'must be at most 100 characters');
  return { number, expMonth, expYear, cvc: card.cvc.trim(), holderName, last4: number.slice(-4) };
}

/**
 * An in-process stand-in for a card processor: approves every valid card except the documented
 * decline card. It validates again because a processor never trusts its caller.
 */
export class SimulatedCardProcessor implements PaymentProcessor {
  constructor(private readonly clock: () => number = Date.now) {}

  async charge(request: ChargeRequest): Promise<{ paymentId: string }> {
    const card = validateCard(request.card, this.clock());
    if (card.number === DECLINED_TEST_CARD) {
      throw new FailedPreconditionError(
        'card declined: the issuer refused the charge (test card ending 0002); the hold is kept, try another card',
        {
          field: 'card.number',
        },
      );
    }
    return { paymentId: newId('pay') };
  }

  async refund(_request: RefundRequest): Promise<{ refundId: string }> {
    return { refundId: newId('ref') };
  }
}

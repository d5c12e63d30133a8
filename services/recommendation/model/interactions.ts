import { InvalidArgumentError } from '../../common/errors';
import { requiredString } from '../../common/validate';

/**
 * One booking signal from the booking change stream (or a rating from an offline dataset).
 *
 * `weight` > 0 is a booking of that strength (default 1; e.g. more tickets or a higher rating may
 * weigh more). `weight` < 0 is a CANCELLATION: it removes the user's booking of that event from the
 * model, whatever its magnitude. The model keeps set semantics per user and event: booking the same
 * event twice counts once, and it takes as many cancellations as bookings to remove it, so the
 * consumer can forward every booking and every cancellation as they come.
 */
export interface Interaction {
  readonly userId: string;
  readonly eventId: string;
  /** When it happened, ms since the epoch. */
  readonly at: number;
  readonly weight?: number;
}

/** User and event ids longer than this are refused (ours are short; this only stops garbage). */
export const MAX_ID_LENGTH = 128;

/**
 * Checks one interaction and returns it with the weight filled in. `field` prefixes the field names
 * in errors (e.g. `interactions[12]`), so a bad row in a training batch is easy to find.
 */
export function checkInteraction(value: Interaction, field = ''): Required<Interaction> {
  const prefix = field ? `${field}.` : '';
  if (typeof value !== 'object' || value === null)
    throw new InvalidArgumentError(field || 'interaction', 'must be an object');
  const userId = requiredString(value.userId, `${prefix}user_id`, { max: MAX_ID_LENGTH });
  const eventId = requiredString(value.eventId, `${prefix}event_id`, { max: MAX_ID_LENGTH });
  if (typeof value.at !== 'number' || !Number.isFinite(value.at))
    throw new InvalidArgumentError(`${prefix}at`, 'must be a time in ms since the epoch');
  const weight = value.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight === 0)
    throw new InvalidArgumentError(
      `${prefix}weight`,
      'must be a non-zero number (> 0 books, < 0 cancels a booking)',
    );
  return { userId, eventId, at: value.at, weight };
}

export function isCancellation(interaction: Required<Interaction>): boolean {
  return interaction.weight < 0;
}

import type { HoldSeatsRequest, RegisterRequest } from '../../proto/gen/marquee/booking/v1/booking';
import { InvalidArgumentError } from '../common/errors';
import { optionalString, requiredEmail, requiredId, requiredInt } from '../common/validate';
import type { HoldRequest } from './store';

/** Request validation (pure): everything is checked before anything is written. */

export const MAX_SEATS_PER_HOLD = 10;
export const MAX_GA_PER_ITEM = 10;
export const MAX_GA_ITEMS = 10;

function list(value: unknown, field: string, max: number): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, 'must be a list');
  if (value.length > max)
    throw new InvalidArgumentError(field, `must have at most ${max} items (got ${value.length})`);
  return value;
}

export function parseHoldRequest(request: HoldSeatsRequest): HoldRequest {
  const showId = requiredId(request.showId, 'show_id');
  const seatIds = list(request.seatIds, 'seat_ids', MAX_SEATS_PER_HOLD).map((id, i) =>
    requiredId(id, `seat_ids[${i}]`),
  );
  const firstIndex = new Map<string, number>();
  seatIds.forEach((id, i) => {
    const first = firstIndex.get(id);
    if (first !== undefined)
      throw new InvalidArgumentError(
        `seat_ids[${i}]`,
        `${JSON.stringify(id)} is already listed as seat_ids[${first}]`,
      );
    firstIndex.set(id, i);
  });
  const areas = new Map<string, number>();
  const ga = list(request.ga, 'ga', MAX_GA_ITEMS).map((item, i) => {
    const g = (item ?? {}) as { areaId?: unknown; quantity?: unknown };
    const areaId = requiredId(g.areaId, `ga[${i}].area_id`);
    const first = areas.get(areaId);
    if (first !== undefined)
      throw new InvalidArgumentError(
        `ga[${i}].area_id`,
        `${JSON.stringify(areaId)} is already listed as ga[${first}]`,
      );
    areas.set(areaId, i);
    return {
      areaId,
      quantity: requiredInt(g.quantity, `ga[${i}].quantity`, { min: 1, max: MAX_GA_PER_ITEM }),
    };
  });
  if (seatIds.length === 0 && ga.length === 0)
    throw new InvalidArgumentError('seat_ids', 'name at least one seat or general-admission place (ga)');
  return { showId, seatIds, ga };
}

/** Passwords are taken as typed (no trimming): 8 to 128 characters. */
export function requiredPassword(value: unknown, field = 'password'): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required');
  if (value.length < 8) throw new InvalidArgumentError(field, 'must be at least 8 characters');
  if (value.length > 128) throw new InvalidArgumentError(field, 'must be at most 128 characters');
  return value;
}

export function parseRegister(request: RegisterRequest): {
  email: string;
  password: string;
  displayName: string;
} {
  const email = requiredEmail(request.email, 'email');
  const password = requiredPassword(request.password);
  const displayName =
    optionalString(request.displayName, 'display_name', { max: 100 }) || email.split('@')[0] || email;
  return { email, password, displayName };
}

// @ts-check
/* The show's price tiers, cheapest first: their order picks the seat map's colours. */

/** @typedef {import('../../../schemas/models').ShowDetail} ShowDetail */

/**
 * @param {ShowDetail} detail
 * @param {import('../../../schemas/models').Show} show
 */
export function priceTiers(detail, show) {
  const tiers = [
    ...new Set([...show.prices].sort((a, b) => a.amountCents - b.amountCents).map((p) => p.priceTier)),
  ];
  for (const seat of detail.seats) if (!tiers.includes(seat.priceTier)) tiers.push(seat.priceTier);
  return {
    tiers,
    /** @param {string} tier */
    tierIndex: (tier) => Math.max(0, tiers.indexOf(tier)) % 5,
  };
}

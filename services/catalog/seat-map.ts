import type { GaAreaPrice, Hall, Price, Seat } from '../../proto/gen/marquee/catalog/v1/catalog';

/**
 * Expands a hall's seat map into the seats and general-admission areas of one show, each with its
 * price. The booking service builds its inventory from exactly this, so ids must stay stable:
 * a seat is `<section id>-<row label>-<number>`, numbered 1..seat_count.
 */

export function seatId(sectionId: string, row: string, number: number): string {
  return `${sectionId}-${row}-${number}`;
}

/** "Orchestra A12"; a numeric row gets a dash ("Balcony 3-12") so row 3 seat 12 is not seat 312. */
export function seatLabel(sectionName: string, row: string, number: number): string {
  return /\d$/.test(row) ? `${sectionName} ${row}-${number}` : `${sectionName} ${row}${number}`;
}

function priceFor(tier: string, prices: readonly Price[], where: string): number {
  const price = prices.find((p) => p.priceTier === tier);
  // Validation refuses shows without a price for every tier of their hall; reaching this is a bug.
  if (!price) throw new Error(`${where}: no price for tier ${JSON.stringify(tier)}`);
  return price.amountCents;
}

export function expandSeats(hall: Hall, prices: readonly Price[]): Seat[] {
  const seats: Seat[] = [];
  for (const section of hall.sections) {
    const amountCents = priceFor(section.priceTier, prices, `section ${section.id}`);
    for (const row of section.rows) {
      for (let number = 1; number <= row.seatCount; number++) {
        seats.push({
          id: seatId(section.id, row.label, number),
          label: seatLabel(section.name, row.label, number),
          sectionId: section.id,
          row: row.label,
          number,
          priceTier: section.priceTier,
          amountCents,
        });
      }
    }
  }
  return seats;
}

export function gaAreaPrices(hall: Hall, prices: readonly Price[]): GaAreaPrice[] {
  return hall.gaAreas.map((area) => ({
    id: area.id,
    name: area.name,
    priceTier: area.priceTier,
    capacity: area.capacity,
    amountCents: priceFor(area.priceTier, prices, `area ${area.id}`),
  }));
}

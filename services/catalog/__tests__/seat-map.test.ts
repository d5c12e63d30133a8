import { expandSeats, gaAreaPrices, seatId, seatLabel } from '../seat-map';
import type { Hall } from '../../../proto/gen/marquee/catalog/v1/catalog';

const hall: Hall = {
  id: 'H1',
  name: 'Hall 1',
  sections: [
    {
      id: 'ORCH',
      name: 'Orchestra',
      priceTier: 'premium',
      rows: [
        { label: 'A', seatCount: 2 },
        { label: 'B', seatCount: 1 },
      ],
    },
    { id: 'BALC', name: 'Balcony', priceTier: 'standard', rows: [{ label: '3', seatCount: 2 }] },
  ],
  gaAreas: [{ id: 'FLOOR', name: 'Floor', priceTier: 'standing', capacity: 300 }],
};
const prices = [
  { priceTier: 'standing', amountCents: 1500 },
  { priceTier: 'premium', amountCents: 4500 },
  { priceTier: 'standard', amountCents: 2500 },
];

describe('seat map', () => {
  it('makes ids <section>-<row>-<number> and readable labels', () => {
    expect(seatId('ORCH', 'A', 12)).toBe('ORCH-A-12');
    expect(seatLabel('Orchestra', 'A', 12)).toBe('Orchestra A12');
    expect(seatLabel('Balcony', '3', 12)).toBe('Balcony 3-12');
  });

  it('expands every row of every section in order, each seat priced by its section tier', () => {
    expect(expandSeats(hall, prices)).toEqual([
      {
        id: 'ORCH-A-1',
        label: 'Orchestra A1',
        sectionId: 'ORCH',
        row: 'A',
        number: 1,
        priceTier: 'premium',
        amountCents: 4500,
      },
      {
        id: 'ORCH-A-2',
        label: 'Orchestra A2',
        sectionId: 'ORCH',
        row: 'A',
        number: 2,
        priceTier: 'premium',
        amountCents: 4500,
      },
      {
        id: 'ORCH-B-1',
        label: 'Orchestra B1',
        sectionId: 'ORCH',
        row: 'B',
        number: 1,
        priceTier: 'premium',
        amountCents: 4500,
      },
      {
        id: 'BALC-3-1',
        label: 'Balcony 3-1',
        sectionId: 'BALC',
        row: '3',
        number: 1,
        priceTier: 'standard',
        amountCents: 2500,
      },
      {
        id: 'BALC-3-2',
        label: 'Balcony 3-2',
        sectionId: 'BALC',
        row: '3',
        number: 2,
        priceTier: 'standard',
        amountCents: 2500,
      },
    ]);
  });

  it('prices general-admission areas', () => {
    expect(gaAreaPrices(hall, prices)).toEqual([
      { id: 'FLOOR', name: 'Floor', priceTier: 'standing', capacity: 300, amountCents: 1500 },
    ]);
  });

  it('refuses to invent a price for an unpriced tier', () => {
    expect(() => expandSeats(hall, prices.slice(0, 2))).toThrow('section BALC: no price for tier "standard"');
    expect(() => gaAreaPrices(hall, [])).toThrow('area FLOOR');
  });
});

import { DEMO_DAYS, demoCatalog } from '../../../scripts/demo-data/demo-catalog';
import { planImport } from '../importer';

describe('demoCatalog', () => {
  const now = new Date('2030-02-10T09:15:00Z');

  it('is the same document for any time on the same UTC day', () => {
    expect(demoCatalog(new Date('2030-02-10T23:59:00Z'))).toEqual(demoCatalog(now));
  });

  it('passes the import checks: 4 theaters in 3 cities, 12 movies, halls of at most 150 seats', () => {
    const plan = planImport(demoCatalog(now));
    expect(plan.venues).toHaveLength(4);
    expect(new Set(plan.venues.map((v) => v.city))).toEqual(new Set(['Lyon', 'Hamburg', 'Lisbon']));
    expect(plan.events).toHaveLength(12);
    for (const hall of plan.venues.flatMap((v) => v.halls)) {
      const seats = hall.sections.flatMap((s) => s.rows).reduce((n, r) => n + r.seatCount, 0);
      expect(seats).toBeLessThanOrEqual(150);
    }
    // 7 screens, 3 shows a day each, every day of the two weeks.
    expect(plan.shows).toHaveLength(7 * 3 * DEMO_DAYS);
  });

  it('schedules every show in the two weeks after today and plays every movie', () => {
    const document = demoCatalog(now);
    const starts = document.showtimes.map((s) => Date.parse(s.startsAt));
    expect(Math.min(...starts)).toBe(Date.parse('2030-02-11T14:00:00Z'));
    expect(Math.max(...starts)).toBe(Date.parse('2030-02-24T20:45:00Z'));
    expect(new Set(document.showtimes.map((s) => s.movieId)).size).toBe(12);
  });

  it('keeps showtime ids of the days two runs share, so a later import adds days without moving shows', () => {
    const today = demoCatalog(now);
    const tomorrow = demoCatalog(new Date('2030-02-11T09:15:00Z'));
    const byId = new Map(today.showtimes.map((s) => [s.id, s]));
    const shared = tomorrow.showtimes.filter((s) => byId.has(s.id));
    expect(shared).toHaveLength(7 * 3 * (DEMO_DAYS - 1));
    for (const show of shared) expect(show).toEqual(byId.get(show.id));
  });
});

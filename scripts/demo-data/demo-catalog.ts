import type {
  ImportDocument,
  ImportMovie,
  ImportShowtime,
  ImportTheater,
} from '../../services/catalog/importer';

/**
 * The demo catalog in the import shape (docs/IMPORT.md): 4 theaters in 3 cities, 12 invented movies
 * and two weeks of showtimes. A function of `now` rather than a JSON file because showtimes must lie
 * in the future whenever the demo runs; the same `now` (indeed the same UTC day) gives the same document.
 *
 * Showtime ids carry their date, theater, screen and time, so importing on a later day keeps the
 * shows already imported (unchanged) and adds the new days; nothing already on sale moves.
 */

export const DEMO_DAYS = 14;

const MOVIES: ImportMovie[] = [
  {
    id: 'demo-m01',
    title: 'The Cartographer of Tides',
    genres: ['Drama', 'Adventure'],
    runtime: 124,
    overview: 'A mapmaker charts a coastline that redraws itself every full moon.',
    cast: ['Ines Marlow', 'Teodor Brandt', 'Amara Okafor'],
  },
  {
    id: 'demo-m02',
    title: 'Quantum Picnic',
    genres: ['Comedy', 'Sci-Fi'],
    runtime: 96,
    overview: 'Two physicists, one basket and infinitely many sandwiches.',
    cast: ['Rosa Quill', 'Bastian Oyelaran'],
  },
  {
    id: 'demo-m03',
    title: 'Night Train to Vireo',
    genres: ['Thriller', 'Mystery'],
    runtime: 112,
    overview: 'Seven passengers, one sleeper car and a conductor who never sleeps.',
    cast: ['Lucien Fairweather', 'Mei Takahara', 'Oskar Lind'],
  },
  {
    id: 'demo-m04',
    title: 'Paper Lanterns',
    genres: ['Animation', 'Family'],
    runtime: 88,
    overview: 'A lantern maker’s daughter follows the last lantern up into the sky.',
    cast: ['Hana Kirei', 'Dario Velasco'],
  },
  {
    id: 'demo-m05',
    title: 'Iron Orchard',
    genres: ['Sci-Fi', 'Drama'],
    runtime: 131,
    overview: 'On a terraformed moon, the last orchard keeper refuses to leave.',
    cast: ['Amara Okafor', 'Vikram Sethi'],
  },
  {
    id: 'demo-m06',
    title: 'The Last Encore',
    genres: ['Music', 'Drama'],
    runtime: 118,
    overview: 'A jazz pianist plans one final concert in the club where she began.',
    cast: ['Celeste Moreau', 'Jonah Abernathy'],
  },
  {
    id: 'demo-m07',
    title: 'Saltwater Saints',
    genres: ['Crime', 'Drama'],
    runtime: 127,
    overview: 'A harbour town’s smugglers keep its chapel bells ringing.',
    cast: ['Teodor Brandt', 'Lucia Ferreira', 'Mateus Rocha'],
  },
  {
    id: 'demo-m08',
    title: 'Comet Season',
    genres: ['Romance', 'Comedy'],
    runtime: 101,
    overview: 'Two rival astronomers share one telescope for one summer.',
    cast: ['Rosa Quill', 'Elliot Brenner'],
  },
  {
    id: 'demo-m09',
    title: 'Under the Glass Mountain',
    genres: ['Fantasy', 'Adventure'],
    runtime: 139,
    overview: 'A tinker and a talking crow climb a mountain nobody has come down from.',
    cast: ['Finn Calloway', 'Yara Haddad', 'Oskar Lind'],
  },
  {
    id: 'demo-m10',
    title: 'Static',
    genres: ['Horror', 'Thriller'],
    runtime: 94,
    overview: 'A late-night radio host takes a call from her own voice.',
    cast: ['Mei Takahara', 'Gideon Roth'],
  },
  {
    id: 'demo-m11',
    title: 'The Long Quiet',
    genres: ['Documentary'],
    runtime: 82,
    overview: 'A year with the keepers of Europe’s last silent monastery.',
    cast: ['Narrated by Jonah Abernathy'],
  },
  {
    id: 'demo-m12',
    title: 'Borrowed Thunder',
    genres: ['Action', 'Comedy'],
    runtime: 108,
    overview: 'A stunt double is mistaken for the action star she replaces.',
    cast: ['Lucia Ferreira', 'Finn Calloway', 'Vikram Sethi'],
  },
];

// Screens stay at or below 150 seats so a seat map fits a screen and a demo run stays quick.
const THEATERS: ImportTheater[] = [
  {
    id: 'demo-t-lyon-aurora',
    name: 'Cinéma Aurora',
    city: 'Lyon',
    address: '12 Rue de la Lumière, 69008 Lyon',
    screens: [
      { id: 'A1', name: 'Salle 1', rows: 10, seatsPerRow: 14, premiumRows: 3 },
      { id: 'A2', name: 'Salle 2', rows: 8, seatsPerRow: 10 },
    ],
  },
  {
    id: 'demo-t-lyon-capitole',
    name: 'Le Capitole',
    city: 'Lyon',
    address: '3 Place des Terreaux, 69001 Lyon',
    screens: [{ id: 'C1', name: 'Grande Salle', rows: 12, seatsPerRow: 12, premiumRows: 4 }],
  },
  {
    id: 'demo-t-hamburg-nordlicht',
    name: 'Kino Nordlicht',
    city: 'Hamburg',
    address: 'Hafenstraße 3, 20359 Hamburg',
    screens: [
      { id: 'N1', name: 'Saal 1', rows: 9, seatsPerRow: 16, premiumRows: 2 },
      { id: 'N2', name: 'Saal 2', rows: 6, seatsPerRow: 12, premiumRows: 1 },
    ],
  },
  {
    id: 'demo-t-lisbon-tejo',
    name: 'Cinema Tejo',
    city: 'Lisbon',
    address: 'Avenida da Liberdade 180, 1250-146 Lisboa',
    screens: [
      { id: 'T1', name: 'Sala Tejo', rows: 10, seatsPerRow: 15, premiumRows: 2 },
      { id: 'T2', name: 'Sala Alfama', rows: 7, seatsPerRow: 10 },
    ],
  },
];

/** Start times in UTC (hours, minutes); matinees before 17:00 are cheaper. */
const SLOTS: [number, number][] = [
  [14, 0],
  [17, 30],
  [20, 45],
];

const PRICES = {
  matinee: { standard: 850, premium: 1250 },
  evening: { standard: 1150, premium: 1550 },
};

function pricesFor(
  band: { standard: number; premium: number },
  hasPremium: boolean,
): ImportShowtime['prices'] {
  return hasPremium ? { standard: band.standard, premium: band.premium } : { standard: band.standard };
}

const pad = (n: number): string => String(n).padStart(2, '0');

export function demoCatalog(now: Date): ImportDocument {
  const firstDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const showtimes: ImportShowtime[] = [];
  for (let day = 0; day < DEMO_DAYS; day++) {
    const date = new Date(firstDay + day * 86_400_000);
    const ymd = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
    THEATERS.forEach((theater, t) => {
      theater.screens.forEach((screen, s) => {
        SLOTS.forEach(([hours, minutes], slot) => {
          // A rotation keyed on the calendar day, so the programme varies but is the same on every run.
          const dayNumber = Math.floor(date.getTime() / 86_400_000);
          const movie = MOVIES[(dayNumber + t * 3 + s * 5 + slot * 7) % MOVIES.length]!;
          const startsAt = new Date(date.getTime() + (hours * 60 + minutes) * 60_000);
          showtimes.push({
            id: `demo-st-${ymd}-${theater.id.replace('demo-t-', '')}-${screen.id}-${pad(hours)}${pad(minutes)}`,
            movieId: movie.id,
            theaterId: theater.id,
            screenId: screen.id,
            startsAt: startsAt.toISOString().replace('.000Z', 'Z'),
            currency: 'EUR',
            prices: pricesFor(hours < 17 ? PRICES.matinee : PRICES.evening, (screen.premiumRows ?? 0) > 0),
          });
        });
      });
    });
  }
  return {
    movies: MOVIES.map((movie) => ({
      ...movie,
      genres: [...(movie.genres ?? [])],
      cast: [...(movie.cast ?? [])],
    })),
    theaters: THEATERS.map((theater) => ({
      ...theater,
      screens: theater.screens.map((screen) => ({ ...screen })),
    })),
    showtimes,
  };
}

import {
  contentVector,
  cosine,
  emptyContentIndex,
  normalizeContent,
  strongestSharedFeature,
  upsertContent,
} from '../content';
import type { EventContent } from '../content';

function indexOf(events: EventContent[]) {
  const index = emptyContentIndex();
  for (const event of events) upsertContent(index, normalizeContent(event));
  return index;
}

describe('content vectors', () => {
  const events: EventContent[] = [
    { eventId: 'a', title: 'A', genres: ['Drama'], artists: ['Rare Artist'], cities: ['Berlin'] },
    { eventId: 'b', title: 'B', genres: ['drama '], artists: ['Rare Artist'], cities: ['Hamburg'] },
    { eventId: 'c', title: 'C', genres: ['Drama'], cities: ['Berlin'] },
    { eventId: 'd', title: 'D', genres: ['Drama', 'Comedy'], cities: ['Berlin'] },
    { eventId: 'e', title: 'E', genres: ['Jazz'], cities: ['Munich'] },
  ];
  const index = indexOf(events);
  const vector = (id: string) => contentVector(index, index.events.get(id)!);

  it('are unit length, so the cosine of an event with itself is 1 and with a stranger 0', () => {
    expect(cosine(vector('a'), vector('a'))).toBeCloseTo(1, 12);
    expect(cosine(vector('a'), vector('e'))).toBe(0);
  });

  it('weigh a rare shared artist above a common shared genre and city (IDF), ignoring case and spaces', () => {
    // a–b share the genre and a rare artist; a–c share the genre and the city.
    expect(cosine(vector('a'), vector('b'))).toBeGreaterThan(cosine(vector('a'), vector('c')));
    expect(strongestSharedFeature(vector('a'), vector('b'), index.events.get('b')!)).toBe(
      'same artist: Rare Artist',
    );
    expect(strongestSharedFeature(vector('c'), vector('d'), index.events.get('d')!)).toBe(
      'same genre: Drama',
    );
    expect(strongestSharedFeature(vector('a'), vector('e'), index.events.get('e')!)).toBeUndefined();
  });

  it('follow catalog changes: replacing an event’s content updates the counts behind IDF', () => {
    const changing = indexOf(events);
    upsertContent(changing, normalizeContent({ eventId: 'e', title: 'E', genres: ['Drama'] }));
    expect(changing.documentFrequency.get('genre:drama')).toBe(5);
    expect(changing.documentFrequency.has('genre:jazz')).toBe(false);
    expect(
      cosine(
        contentVector(changing, changing.events.get('e')!),
        contentVector(changing, changing.events.get('c')!),
      ),
    ).toBeGreaterThan(0);
  });

  it('normalisation parses RFC 3339 show times to ms and sorts them', () => {
    const event = normalizeContent({
      eventId: 'x',
      title: 'X',
      showStarts: ['2026-03-01T20:00:00Z', Date.UTC(2026, 1, 1)],
    });
    expect(event.showStarts).toEqual([Date.UTC(2026, 1, 1), Date.UTC(2026, 2, 1, 20)]);
  });
});

import { status as Code } from '@grpc/grpc-js';
import { InvalidArgumentError } from '../../../common/errors';
import { applyInteraction, createModel, recommend, similarEvents, train } from '..';
import type { Interaction, RecommendRequest } from '..';

const NOW = Date.UTC(2026, 0, 1);

/** Runs `action` and returns the field its InvalidArgumentError names (fails on any other outcome). */
function refusedField(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).code).toBe(Code.INVALID_ARGUMENT);
    return (error as InvalidArgumentError).field;
  }
  throw new Error('expected the call to be refused');
}

describe('bad input is refused with an error naming the field', () => {
  const model = train(
    [{ userId: 'u', eventId: 'e', at: NOW - 1 }],
    [{ eventId: 'e', title: 'E', showStarts: [NOW + 1] }],
  );
  const valid: RecommendRequest = { userId: 'u', k: 5, now: NOW };

  it.each<[string, Partial<RecommendRequest> & Record<string, unknown>, string]>([
    ['k = 0', { k: 0 }, 'k'],
    ['k < 0', { k: -3 }, 'k'],
    ['k > 100', { k: 101 }, 'k'],
    ['k not an integer', { k: 2.5 }, 'k'],
    ['an empty user id', { userId: '' }, 'user_id'],
    ['a blank user id', { userId: '   ' }, 'user_id'],
    ['an empty id in the history', { history: ['e', ''] }, 'history[1]'],
    ['a history that is not a list', { history: 'e' as unknown as string[] }, 'history'],
    ['a missing clock', { now: Number.NaN }, 'now'],
    ['a candidate without id', { candidates: [{ eventId: '', title: 'x' }] }, 'candidates[0].event_id'],
    [
      'a candidate with an unreadable show time',
      { candidates: [{ eventId: 'x', title: 'x', showStarts: ['next week'] }] },
      'candidates[0].show_starts[0]',
    ],
  ])('recommend with %s', (_what, change, field) => {
    expect(refusedField(() => recommend(model, { ...valid, ...change }))).toBe(field);
  });

  it('k = 1 and k = 100 are fine', () => {
    expect(recommend(model, { ...valid, k: 1 })).toHaveLength(0); // the only event is booked
    expect(recommend(model, { ...valid, userId: 'other', k: 100 })).toHaveLength(1);
  });

  it.each([
    ['an empty event id', () => similarEvents(model, '', 5), 'event_id'],
    ['k = 0', () => similarEvents(model, 'e', 0), 'k'],
    ['k = 101', () => similarEvents(model, 'e', 101), 'k'],
    ['a bad clock', () => similarEvents(model, 'e', 5, { now: Infinity }), 'now'],
  ])('similarEvents with %s', (_what, action, field) => {
    expect(refusedField(action)).toBe(field);
  });

  it.each<[string, Partial<Interaction>, string]>([
    ['no user', { userId: '' }, 'user_id'],
    ['no event', { eventId: '' }, 'event_id'],
    ['no time', { at: Number.NaN }, 'at'],
    ['a zero weight', { weight: 0 }, 'weight'],
    ['an infinite weight', { weight: Infinity }, 'weight'],
  ])('an interaction with %s', (_what, change, field) => {
    const fresh = createModel();
    expect(
      refusedField(() => applyInteraction(fresh, { userId: 'u', eventId: 'e', at: NOW, ...change })),
    ).toBe(field);
    expect(fresh.collaborative.items.size).toBe(0);
  });

  it('training names the bad interaction or event by its index', () => {
    const good = { userId: 'u', eventId: 'e', at: NOW };
    expect(refusedField(() => train([good, { ...good, userId: '' }], []))).toBe('interactions[1].user_id');
    expect(refusedField(() => train([], [{ eventId: 'e', title: 'E', genres: ['Drama', ''] }]))).toBe(
      'contents[0].genres[1]',
    );
  });

  it.each([
    [{ halfLifeMs: 0 }, 'halfLifeMs'],
    [{ neighbours: 0 }, 'neighbours'],
    [{ historyWindow: 1.5 }, 'historyWindow'],
    [{ shrink: -1 }, 'shrink'],
    [{ blend: { collaborative: 0.8, content: 0.3 } }, 'blend'],
    [{ blend: { outOfCity: 2 } }, 'blend.outOfCity'],
    [{ blend: { coldContent: -0.1 } }, 'blend.coldContent'],
  ])('model options %j', (options, field) => {
    expect(refusedField(() => createModel(options))).toBe(field);
  });
});

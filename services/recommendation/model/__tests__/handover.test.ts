import { applyInteraction, recommend, similarEvents, train } from '..';
import type { Model } from '..';
import { ModelAssembler, handoverParts } from '../handover';
import type { HandoverPart } from '../handover';
import { syntheticDataset } from '../synthetic-data';

/** Parts through JSON (all but the head, as the worker sends them) and back into a model. */
function handOver(model: Model, budget?: number): { model: Model; parts: HandoverPart[] } {
  const parts = handoverParts(model, budget);
  const assembler = new ModelAssembler();
  for (const part of parts)
    assembler.add(part.kind === 'head' ? part : (JSON.parse(JSON.stringify(part)) as HandoverPart));
  return { model: assembler.finish(), parts };
}

describe('model handover (worker → serving thread, in parts)', () => {
  const data = syntheticDataset({ users: 300, seed: 7 });
  const original = train(data.interactions, data.events, { now: data.now });
  // Content vectors are a cache filled by answering: fill some so they travel too.
  recommend(original, { userId: data.interactions[0]!.userId, k: 10, now: data.now });

  it('rebuilds the same model: counts, pairs, histories, neighbours and content', () => {
    const { model, parts } = handOver(original, 500);
    expect(parts.length).toBeGreaterThan(5);
    expect(model.options).toEqual(original.options);
    expect(model.collaborative.anchor).toBe(original.collaborative.anchor);
    expect(model.collaborative.items).toEqual(original.collaborative.items);
    expect(model.collaborative.users).toEqual(original.collaborative.users);
    expect(model.collaborative.neighbours).toEqual(original.collaborative.neighbours);
    expect(model.collaborative.retired).toEqual(original.collaborative.retired);
    expect(model.collaborative.pairs.rows).toEqual(original.collaborative.pairs.rows);
    const used = original.collaborative.pairs.used;
    expect([...model.collaborative.pairs.together.slice(0, used)]).toEqual([
      ...original.collaborative.pairs.together.slice(0, used),
    ]);
    expect(model.content.events).toEqual(original.content.events);
    expect(model.content.vectors).toEqual(original.content.vectors);
  });

  it('answers exactly as the original, and keeps learning the same way', () => {
    const { model } = handOver(original);
    const users = [...new Set(data.interactions.map((i) => i.userId))].slice(0, 20);
    for (const userId of users)
      expect(recommend(model, { userId, k: 10, now: data.now })).toEqual(
        recommend(original, { userId, k: 10, now: data.now }),
      );
    const eventId = data.events[0]!.eventId;
    expect(similarEvents(model, eventId, 5)).toEqual(similarEvents(original, eventId, 5));
    // New bookings after the handover: the pair table grows from the copied arrays.
    const copy = handOver(original).model;
    const again = train(data.interactions, data.events, { now: data.now });
    for (const event of data.events.slice(0, 30)) {
      const booking = { userId: 'late-user', eventId: event.eventId, at: data.now, weight: 1 };
      applyInteraction(copy, booking);
      applyInteraction(again, booking);
    }
    expect(recommend(copy, { userId: users[0]!, k: 10, now: data.now })).toEqual(
      recommend(again, { userId: users[0]!, k: 10, now: data.now }),
    );
  });

  it('refuses parts before the head', () => {
    const [, second] = handoverParts(original);
    expect(() => new ModelAssembler().add(second!)).toThrow(/head part must come first/);
    expect(() => new ModelAssembler().finish()).toThrow(/no parts/);
  });
});

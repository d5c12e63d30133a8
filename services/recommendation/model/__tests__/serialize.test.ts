import { status as Code } from '@grpc/grpc-js';
import {
  applyInteraction,
  deserializeModel,
  recommend,
  serializeModel,
  similarEvents,
  SNAPSHOT_VERSION,
  SnapshotError,
  train,
} from '..';
import type { Model } from '..';
import { syntheticDataset } from '../synthetic-data';

/** The path of the first value JSON would not carry over as it is (a Map, NaN, ...), if any. */
function nonPlainPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonPlainPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      const found = nonPlainPath(item, `${path}.${key}`);
      if (found) return found;
    }
    return undefined;
  }
  return path;
}

describe('model snapshots', () => {
  const data = syntheticDataset({ users: 120, seed: 9 });
  const cancels = data.interactions.slice(0, 40).map((i) => ({ ...i, at: i.at + 1000, weight: -1 }));
  const model = train([...data.interactions, ...cancels], data.events, {
    neighbours: 20,
    halfLifeMs: 7 * 86_400_000,
  });
  const viaJson = (m: Model): Model => deserializeModel(JSON.parse(JSON.stringify(serializeModel(m))));
  const users = ['u-0', 'u-1', 'u-2', 'u-50', 'u-119', 'stranger'];

  it('survive JSON and give identical recommendations and similar events', () => {
    const loaded = viaJson(model);
    for (const userId of users) {
      const request = { userId, k: 10, now: data.now, city: 'Berlin' };
      expect(recommend(loaded, request)).toEqual(recommend(model, request));
    }
    expect(similarEvents(loaded, data.newEvents[0]!, 10)).toEqual(
      similarEvents(model, data.newEvents[0]!, 10),
    );
    expect(similarEvents(loaded, 'e-g1-0', 10)).toEqual(similarEvents(model, 'e-g1-0', 10));
    expect(loaded.options).toEqual(model.options);
  });

  it('hold plain data only, and a loaded model keeps learning exactly like the original', () => {
    const snapshot = serializeModel(model);
    expect(snapshot.version).toBe(SNAPSHOT_VERSION);
    expect(nonPlainPath(snapshot, 'snapshot')).toBeUndefined();
    const loaded = viaJson(model);
    const original = viaJson(model); // a copy, so the shared model stays untouched
    const next = { userId: 'u-3', eventId: 'e-g4-1', at: data.now - 1000 };
    applyInteraction(loaded, next);
    applyInteraction(original, next);
    expect(recommend(loaded, { userId: 'u-3', k: 10, now: data.now })).toEqual(
      recommend(original, { userId: 'u-3', k: 10, now: data.now }),
    );
    expect(JSON.stringify(serializeModel(loaded))).toBe(JSON.stringify(serializeModel(original)));
  });

  it('of another version are refused with a FAILED_PRECONDITION error, so the service retrains', () => {
    const snapshot = { ...serializeModel(model), version: SNAPSHOT_VERSION + 1 };
    expect(() => deserializeModel(snapshot)).toThrow(SnapshotError);
    expect(() => deserializeModel(snapshot)).toThrow(/version 2 is not 1/);
    try {
      deserializeModel(snapshot);
    } catch (error) {
      expect((error as SnapshotError).code).toBe(Code.FAILED_PRECONDITION);
    }
  });

  it('that are damaged are refused with the place named', () => {
    const snapshot = serializeModel(model);
    const pairs = snapshot.pairs.map((p) => [...p]);
    pairs[3]![2] = 'x' as unknown as number;
    expect(() => deserializeModel({ ...snapshot, pairs })).toThrow(
      'model snapshot: pairs[3][2] must be a number',
    );
    expect(() => deserializeModel(null)).toThrow('model snapshot: snapshot must be an object');
    expect(() => deserializeModel({ ...snapshot, options: { ...snapshot.options, neighbours: 0 } })).toThrow(
      /options: neighbours: must be an integer/,
    );
  });
});

import { ReadCache } from '../cache';

describe('ReadCache', () => {
  let clock = 0;
  const now = () => clock;

  beforeEach(() => {
    clock = 1_000;
  });

  it('loads once within the TTL and counts hits and misses', async () => {
    const cache = new ReadCache(100, now);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.getOrLoad('k', load)).toBe(1);
    expect(await cache.getOrLoad('k', load)).toBe(1);
    clock += 99;
    expect(await cache.getOrLoad('k', load)).toBe(1);
    expect(cache.stats()).toEqual({ hits: 2, misses: 1, size: 1 });
    clock += 1;
    expect(await cache.getOrLoad('k', load)).toBe(2);
    expect(cache.stats()).toEqual({ hits: 2, misses: 2, size: 1 });
  });

  it('forgets everything on clear', async () => {
    const cache = new ReadCache(10_000, now);
    await cache.getOrLoad('a', async () => 'old');
    cache.clear();
    expect(await cache.getOrLoad('a', async () => 'new')).toBe('new');
  });

  it('does not cache undefined (unknown ids) or errors', async () => {
    const cache = new ReadCache(10_000, now);
    expect(await cache.getOrLoad('x', async () => undefined)).toBeUndefined();
    await expect(cache.getOrLoad('y', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(cache.stats().size).toBe(0);
    expect(await cache.getOrLoad('x', async () => 'found')).toBe('found');
  });

  it('does not keep a value read before a write that cleared the cache', async () => {
    const cache = new ReadCache(10_000, now);
    let release: (value: string) => void = () => undefined;
    const slowRead = cache.getOrLoad('k', () => new Promise<string>((resolve) => (release = resolve)));
    cache.clear(); // a write commits while the read is in flight
    release('before the write');
    expect(await slowRead).toBe('before the write');
    expect(await cache.getOrLoad('k', async () => 'after the write')).toBe('after the write');
  });

  it('caches nothing with a TTL of 0 and evicts the oldest entry when full', async () => {
    const off = new ReadCache(0, now);
    await off.getOrLoad('k', async () => 1);
    expect(off.stats().size).toBe(0);
    const small = new ReadCache(10_000, now, 2);
    await small.getOrLoad('a', async () => 1);
    await small.getOrLoad('b', async () => 2);
    await small.getOrLoad('c', async () => 3);
    expect(small.stats().size).toBe(2);
    expect(await small.getOrLoad('a', async () => 'reloaded')).toBe('reloaded');
  });
});

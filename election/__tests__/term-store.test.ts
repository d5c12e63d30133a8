import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileTermStore, MemoryTermStore, TermRegressionError, TermStoreCorruptError } from '../term-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'marquee-term-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileTermStore', () => {
  it('starts at term 0 when nothing was ever saved', async () => {
    await expect(new FileTermStore(path.join(dir, 'term.json')).load()).resolves.toEqual({ term: 0 });
  });

  it('reads back, in a new instance, what it saved: term and vote survive a restart', async () => {
    const file = path.join(dir, 'nested', 'term.json');
    await new FileTermStore(file).save({ term: 3, votedFor: 2 });
    await new FileTermStore(file).save({ term: 4 });
    await expect(new FileTermStore(file).load()).resolves.toEqual({ term: 4 });
    expect(readFileSync(file, 'utf8')).toBe('{"term":4}\n');
  });

  it('refuses to lower the term, also across instances', async () => {
    const file = path.join(dir, 'term.json');
    await new FileTermStore(file).save({ term: 5, votedFor: 1 });
    await expect(new FileTermStore(file).save({ term: 4 })).rejects.toBeInstanceOf(TermRegressionError);
    await expect(new FileTermStore(file).load()).resolves.toEqual({ term: 5, votedFor: 1 });
  });

  it.each([
    ['empty', ''],
    ['not JSON', '{"term": 3'],
    ['a negative term', '{"term": -1}'],
    ['a vote that is no node id', '{"term": 2, "votedFor": 0}'],
  ])('reports a corrupt file (%s) instead of starting from term 0', async (_case, content) => {
    const file = path.join(dir, 'term.json');
    writeFileSync(file, content);
    await expect(new FileTermStore(file).load()).rejects.toBeInstanceOf(TermStoreCorruptError);
  });
});

describe('MemoryTermStore', () => {
  it('keeps the latest state, counts writes and refuses to lower the term', async () => {
    const store = new MemoryTermStore();
    await store.save({ term: 2, votedFor: 3 });
    await expect(store.save({ term: 1 })).rejects.toBeInstanceOf(TermRegressionError);
    expect(store.state).toEqual({ term: 2, votedFor: 3 });
    expect(store.writes).toBe(1);
  });
});

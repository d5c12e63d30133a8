import { ReorderWindow } from '../reorder-window';

const byNumber = (a: number, b: number): number => a - b;

describe('the --follow hold-back window', () => {
  it('holds each item for the window, then releases what is due in order', () => {
    const window = new ReorderWindow(300, byNumber);
    window.push([5], 1000);
    window.push([3], 1100);
    expect(window.release(1299)).toEqual([]);
    expect(window.nextDueMs()).toBe(1300);
    // 5 is due at 1300; 3 (due 1400) sorts before it, so holding 3 longer could only misplace it.
    expect(window.release(1300)).toEqual([3, 5]);
    expect(window.size).toBe(0);
  });

  it('keeps back items that sort after everything due', () => {
    const window = new ReorderWindow(300, byNumber);
    window.push([4, 1], 0);
    window.push([2, 9], 200);
    expect(window.release(300)).toEqual([1, 2, 4]);
    expect(window.drain()).toEqual([9]);
  });

  it('prints an item that comes too late after what it precedes, rather than dropping it', () => {
    const window = new ReorderWindow(100, byNumber);
    window.push([7], 0);
    expect(window.release(100)).toEqual([7]);
    window.push([6], 150);
    expect(window.release(250)).toEqual([6]);
  });

  it('keeps the arrival order of equal items', () => {
    const window = new ReorderWindow<{ key: number; name: string }>(0, (a, b) => a.key - b.key);
    window.push([{ key: 1, name: 'first' }], 0);
    window.push([{ key: 1, name: 'second' }], 0);
    expect(window.release(0).map((x) => x.name)).toEqual(['first', 'second']);
  });

  it('with a window of 0 releases at once', () => {
    const window = new ReorderWindow(0, byNumber);
    window.push([2, 1], 50);
    expect(window.release(50)).toEqual([1, 2]);
    expect(window.nextDueMs()).toBeUndefined();
  });
});

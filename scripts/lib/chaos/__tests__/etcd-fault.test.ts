import { describeWindow, etcdWindow } from '../etcd-fault';

describe('etcd fault windows (what the workload saw while etcd was faulted)', () => {
  const acks = [90, 120, 300, 310, 900, 1200].map((wallMs) => ({ wallMs, node: 3 }));

  it('counts the writes inside the window and the longest stretch without one, edges included', () => {
    expect(etcdWindow(acks, 100, 1000)).toEqual({ acknowledged: 4, longestGapMs: 590 });
    // No write at all: the whole window is the gap.
    expect(etcdWindow(acks, 1300, 1800)).toEqual({ acknowledged: 0, longestGapMs: 500 });
  });

  it('says whether the term stayed the same', () => {
    const window = { acknowledged: 4, longestGapMs: 590 };
    expect(describeWindow('etcd down for 900 ms', window, 4, 4)).toBe(
      'etcd down for 900 ms: 4 writes acknowledged, longest gap between them 590 ms; term 4 throughout (no election)',
    );
    expect(describeWindow('x', window, 4, 5)).toMatch(/term 4 → 5$/);
    expect(describeWindow('x', window, undefined, 5)).toMatch(/term unknown$/);
  });
});

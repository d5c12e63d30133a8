import {
  commitIndex,
  lostState,
  initialProgress,
  onAccepted,
  onFailure,
  onRejected,
  onSent,
  onSnapshotInstalled,
  policySatisfied,
  quorum,
  retryAtOnce,
  slaveLag,
} from '../progress';
import type { Progress, Rejection } from '../progress';

describe('replication progress (pure)', () => {
  it('a new slave is probed from the master’s last index + 1 with nothing matched', () => {
    expect(initialProgress(7)).toEqual({
      match: 0,
      next: 8,
      inflight: 0,
      lastAckAt: undefined,
      snapshotNeeded: false,
    });
  });

  it('an acceptance raises match and next and never lowers them (stale answers)', () => {
    let p = onSent(initialProgress(3));
    expect(p.inflight).toBe(1);
    p = onAccepted(p, 5, 100);
    expect(p).toEqual({ match: 5, next: 6, inflight: 0, lastAckAt: 100, snapshotNeeded: false });
    p = onAccepted(onSent(p), 2, 200);
    expect(p).toMatchObject({ match: 5, next: 6, lastAckAt: 200 });
  });

  /** A refusal of the Append sent from `p.next`, with our log ending at 20. */
  const refusal = (p: Progress, conflictIndex: number, snapshotNeeded = false): Rejection => ({
    prevIndex: p.next - 1,
    conflictIndex,
    snapshotNeeded,
    lastIndex: 20,
  });

  it('a rejection above match moves next down to the hint, never to or below match, keeping match', () => {
    const p = onSent(onAccepted(initialProgress(10), 4, 0)); // match 4, next 11
    expect(onRejected(p, refusal(p, 8), 1)).toEqual({
      match: 4,
      next: 8,
      inflight: 0,
      lastAckAt: 1,
      snapshotNeeded: false,
    });
    expect(onRejected({ ...p, next: 9 }, refusal({ ...p, next: 9 }, 5), 1)).toMatchObject({
      match: 4,
      next: 5,
    });
  });

  it('a slave that asks to resume at or below its match lost its log (wiped): match drops and probing restarts at its hint', () => {
    const p = onSent(onAccepted(initialProgress(19_258), 19_258, 0)); // match 19258, next 19259
    const wiped = onRejected(
      p,
      { prevIndex: 19_258, conflictIndex: 1, snapshotNeeded: false, lastIndex: 19_258 },
      1,
    );
    expect(wiped).toMatchObject({ match: 0, next: 1, snapshotNeeded: false, inflight: 0 });
    expect(retryAtOnce(p, wiped)).toBe(true);
    // Restored from an older backup whose log ends at 7000: resume right after it.
    const restored = onRejected(
      p,
      { prevIndex: 19_258, conflictIndex: 7001, snapshotNeeded: false, lastIndex: 19_300 },
      1,
    );
    expect(restored).toMatchObject({ match: 0, next: 7001 });
    expect(
      lostState(p, { prevIndex: 19_258, conflictIndex: 7001, snapshotNeeded: false, lastIndex: 19_300 }),
    ).toBe(true);
  });

  it('a refused heartbeat at match proves lost state even without a lower hint', () => {
    const p = onSent(onAccepted(initialProgress(5), 5, 0)); // match 5, next 6: the heartbeat's prevIndex is 5
    expect(lostState(p, refusal(p, 6))).toBe(true);
    expect(onRejected(p, refusal(p, 6), 1)).toMatchObject({ match: 0, next: 6 });
  });

  it('an ordinary probe of a new slave is not lost state: match stays', () => {
    const p = onSent(initialProgress(10)); // match 0, next 11
    expect(lostState(p, refusal(p, 3))).toBe(false);
    expect(onRejected(p, refusal(p, 3), 1)).toMatchObject({ match: 0, next: 3 });
  });

  it('a refusal without a hint (not of our entries) or to an older request changes nothing and is not retried at once', () => {
    const p = onSent(onAccepted(initialProgress(10), 4, 0));
    const noHint = onRejected(p, refusal(p, 0), 1);
    expect(noHint).toEqual({ ...p, inflight: 0, lastAckAt: 1 });
    expect(retryAtOnce(p, noHint)).toBe(false);
    const stale = onRejected(p, { prevIndex: 3, conflictIndex: 2, snapshotNeeded: false, lastIndex: 20 }, 1);
    expect(stale).toEqual({ ...p, inflight: 0, lastAckAt: 1 });
    expect(retryAtOnce(p, stale)).toBe(false);
  });

  it('a slave whose own snapshot lies beyond our probe is resumed after it; beyond our whole log it gets a snapshot', () => {
    const p = onSent(onAccepted(initialProgress(10), 4, 0)); // next 11
    expect(onRejected(p, refusal(p, 15), 1)).toMatchObject({ match: 4, next: 15, snapshotNeeded: false });
    expect(onRejected(p, refusal(p, 22), 1)).toMatchObject({ match: 4, next: 11, snapshotNeeded: true });
  });

  it('probing terminates: every refusal with a hint at or below prevIndex lowers next, down to a snapshot or index 1', () => {
    let p = onSent(onAccepted(initialProgress(100), 60, 0)); // match 60, next 101
    const seen: number[] = [];
    // A slave that always answers "my log ends at 0" (hint 1): one round trip reaches the start.
    while (!p.snapshotNeeded && p.next > 1) {
      const before = p;
      p = onRejected(
        p,
        { prevIndex: p.next - 1, conflictIndex: 1, snapshotNeeded: false, lastIndex: 100 },
        1,
      );
      expect(retryAtOnce(before, p)).toBe(true);
      seen.push(p.next);
    }
    expect(seen).toEqual([1]);
  });

  it('a rejection asking for a snapshot keeps next and flags the snapshot; installing it clears the flag', () => {
    const sent = onSent(initialProgress(10));
    const p = onRejected(sent, refusal(sent, 0, true), 5);
    expect(p).toMatchObject({ next: 11, snapshotNeeded: true, inflight: 0, lastAckAt: 5 });
    expect(retryAtOnce(sent, p)).toBe(true);
    expect(onSnapshotInstalled(p, 9, 6)).toEqual({
      match: 9,
      next: 10,
      inflight: 0,
      lastAckAt: 6,
      snapshotNeeded: false,
    });
  });

  it('a transport failure only ends the in-flight request', () => {
    const p = onAccepted(initialProgress(3), 3, 1);
    expect(onFailure(onSent(p))).toEqual(p);
  });

  it('quorum is a strict majority of the group, the master included', () => {
    expect([1, 2, 3, 4, 5].map(quorum)).toEqual([1, 2, 2, 3, 3]);
  });

  it('commit is the highest index on a majority counting the master', () => {
    expect(commitIndex({ ownLast: 10, slaveMatches: [7, 3], termStart: 1, current: 0 })).toBe(7);
    expect(commitIndex({ ownLast: 10, slaveMatches: [0, 0], termStart: 1, current: 0 })).toBe(0);
    expect(commitIndex({ ownLast: 10, slaveMatches: [9, 4, 6, 2], termStart: 1, current: 0 })).toBe(6);
  });

  it('an entry from an older term is not committed by being on a majority (Raft §5.4.2)', () => {
    // Entries 1..5 are from an older term; this master's term starts at 6.
    expect(commitIndex({ ownLast: 6, slaveMatches: [5, 0], termStart: 6, current: 2 })).toBe(2);
    // Once an entry of the current term is on a majority, everything below commits with it.
    expect(commitIndex({ ownLast: 6, slaveMatches: [6, 0], termStart: 6, current: 2 })).toBe(6);
  });

  it('commit never goes backwards', () => {
    expect(commitIndex({ ownLast: 10, slaveMatches: [3, 3], termStart: 1, current: 8 })).toBe(8);
  });

  it('async acks at once, majority on the commit index, all only when every slave has it', () => {
    expect(policySatisfied('async', 9, 0, [0, 0])).toBe(true);
    expect(policySatisfied('majority', 5, 5, [5, 0])).toBe(true);
    expect(policySatisfied('majority', 6, 5, [6, 6])).toBe(false);
    expect(policySatisfied('all', 5, 5, [5, 4])).toBe(false);
    expect(policySatisfied('all', 5, 5, [5, 7])).toBe(true);
  });

  it('lag is entries behind the master and ms since the last answer', () => {
    const p = onAccepted(initialProgress(0), 4, 1000);
    expect(slaveLag(2, p, 10, 1250)).toEqual({ nodeId: 2, matchIndex: 4, lagEntries: 6, lastAckAgeMs: 250 });
    expect(slaveLag(3, initialProgress(10), 10, 1250)).toEqual({
      nodeId: 3,
      matchIndex: 0,
      lagEntries: 10,
      lastAckAgeMs: undefined,
    });
  });
});

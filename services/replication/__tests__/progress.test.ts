import {
  commitIndex,
  initialProgress,
  onAccepted,
  onFailure,
  onRejected,
  onSent,
  onSnapshotInstalled,
  policySatisfied,
  quorum,
  slaveLag,
} from '../progress';

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

  it('a rejection moves next down to the hint but never to or below match, and always strictly down', () => {
    const p = onAccepted(initialProgress(10), 4, 0); // match 4, next 11
    expect(onRejected(p, 8, false, 1).next).toBe(8);
    expect(onRejected(p, 2, false, 1).next).toBe(5);
    expect(onRejected({ ...p, next: 9 }, 20, false, 1).next).toBe(8);
  });

  it('a rejection asking for a snapshot keeps next and flags the snapshot; installing it clears the flag', () => {
    const p = onRejected(onSent(initialProgress(10)), 0, true, 5);
    expect(p).toMatchObject({ next: 11, snapshotNeeded: true, inflight: 0, lastAckAt: 5 });
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

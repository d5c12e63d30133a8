import { DEFAULT_TIMINGS, ElectionConfigError, leaseTicks, makeConfig } from '../config';

describe('election config', () => {
  it('fills the LAN defaults: heartbeat 2, failure 8, answer 4 ticks (100/400/200 ms at 50 ms a tick)', () => {
    const config = makeConfig({ id: 1, peers: [1, 2, 3] });
    expect(config).toMatchObject(DEFAULT_TIMINGS);
    expect(config.heartbeatTicks).toBe(2);
    expect(config.failureTicks).toBe(8);
    expect(config.answerTimeoutTicks).toBe(4);
    expect(leaseTicks(config)).toBe(6);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ failureTicks: 4 }, 'failureTicks: must exceed 2 × heartbeatTicks (4), got 4'],
    [{ heartbeatTicks: 2, failureTicks: 5 }, 'failureTicks: must be at least heartbeatTicks + 4 (6)'],
    [{ coordinatorTimeoutTicks: 4 }, 'coordinatorTimeoutTicks: must exceed answerTimeoutTicks (4), got 4'],
    [{ heartbeatTicks: 0 }, 'heartbeatTicks: must be a positive integer'],
    [{ answerTimeoutTicks: 1.5 }, 'answerTimeoutTicks: must be a positive integer'],
    [{ electionJitterTicks: -1 }, 'electionJitterTicks: must be a non-negative integer'],
    [{ peers: [2, 3] }, "peers: must include this node's own id 1"],
    [{ peers: [1, 2, 2] }, 'peers: must not repeat an id'],
    [{ peers: [1, 0] }, 'peers: ids must be positive integers'],
    [{ peers: [] }, 'peers: must list every node of the group'],
    [{ id: -1, peers: [-1] }, 'id: must be a positive integer'],
  ])('rejects %j with a message naming the field', (override, message) => {
    expect(() => makeConfig({ id: 1, peers: [1, 2, 3], ...override })).toThrow(ElectionConfigError);
    expect(() => makeConfig({ id: 1, peers: [1, 2, 3], ...override })).toThrow(message);
  });
});

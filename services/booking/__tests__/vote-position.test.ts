import { BookingGroup, registerUser, retryUnavailable } from './booking-group';
import { call, makeShow } from './harness';

/*
 * A master's votes carry its log position from an in-memory copy (replication/log-view.ts). Every
 * write it has answered is committed with the master counted in, so the copy must already hold the
 * write's entry: a master that voted in a hand-over with an older copy let the new master start
 * without a committed entry and overwrite it (seen in bench:failover: "refusing to replace
 * committed entry 279 (term 6) with term 7" on the slave that had acknowledged it).
 */

const SHOW = 'vote-show';

describe("a master's vote carries every write it has answered", () => {
  let group: BookingGroup;
  beforeAll(async () => {
    group = await new BookingGroup({
      label: 'bvote',
      shows: [makeShow(SHOW, 30, [])],
      env: { MARQUEE_ACK_POLICY: 'majority' },
    }).start();
  });
  afterAll(() => group.stop());

  it('holds the log position of each answered write in the copy the election reads, at once', async () => {
    const masterId = await group.settled();
    const master = group.member(masterId);
    const { token } = await registerUser(master, 'voter');
    const node = master.server!.cluster!.node;
    const lags: number[] = [];
    for (let i = 1; i <= 20; i++) {
      await retryUnavailable(() =>
        call(
          master.booking.holdSeats.bind(master.booking),
          { showId: SHOW, seatIds: [`ORCH-A-${i}`], ga: [], idempotencyKey: `vote-hold-${i}` },
          token,
        ),
      );
      // Read the copy first, synchronously, as a vote would; then the log it copies.
      const voted = node.position.position().lastIndex;
      const logged = (await node.log.state()).lastIndex;
      lags.push(logged - voted);
    }
    // Entries after ours (the sweeper's, say) may land in between; ours never trails.
    expect(lags.filter((lag) => lag > 0)).toEqual([]);
  });
});

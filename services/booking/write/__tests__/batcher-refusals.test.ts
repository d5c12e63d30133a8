import type { Principal } from '../../../common/auth';
import { createLogger } from '../../../common/logger';
import { UnavailableError } from '../../../common/errors';
import { migrate } from '../../../common/mysql';
import { freshDatabase } from '../../../../test/databases';
import { scopeFor } from '../../idempotency';
import { BOOKING_SCHEMA } from '../../schema';
import { WriteBatcher } from '../batcher';
import { LOCAL_JOURNAL } from '../journal';
import type { Journal } from '../journal';

const logger = createLogger('test', { level: 'silent' });

describe('a batch whose every command is refused', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase('batchrefuse');
    await migrate(database.pool, BOOKING_SCHEMA);
  });
  afterAll(() => database.drop());

  it('leaves no unhandled rejection behind when the master steps down before its acknowledgement', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // The acknowledgement fails as it does when the replicator stops (the master stepped down).
      const journal: Journal = {
        ...LOCAL_JOURNAL,
        acknowledge: () => Promise.reject(new UnavailableError('node 3 became slave in term 2')),
      };
      const writer = new WriteBatcher({ pool: database.pool, journal, clock: Date.now, logger });
      const who: Principal = { userId: 'u1', email: 'u1@example.com', role: 'user' };
      const release = writer.submit({
        kind: 'release',
        principal: who,
        scope: scopeFor(who.userId, 'release-key', 'ReleaseHold', { holdId: 'hold_missing' }),
        holdId: 'hold_missing',
      });
      await expect(release).rejects.toMatchObject({ message: expect.stringContaining('hold_missing') });
      // Unhandled rejections are reported after the microtask queue drains: give them a turn.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

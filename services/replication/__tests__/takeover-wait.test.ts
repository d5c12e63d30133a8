import pino from 'pino';
import { LamportClock } from '../../common/lamport';
import { migrate, withTransaction } from '../../common/mysql';
import { freshDatabase } from '../../../test/databases';
import { ReplicationNode } from '../node';
import { KV_SCHEMA, KvMachine } from './kv-machine';
import { secret } from './cluster';

/*
 * A returning higher id waits (ReplicationNode.waitForCommit) before it campaigns to take over. It
 * must wait until it has applied what was committed, not only copied it: elected with an unapplied
 * backlog it would apply that backlog before serving, with no master in the group meanwhile.
 */

const logger = pino({ level: 'silent' });

describe('a returning node waits to take over', () => {
  it('until the committed entries are applied here, not only in its log', async () => {
    const database = await freshDatabase('takeover_wait');
    await migrate(database.pool, KV_SCHEMA);
    const node = new ReplicationNode({
      nodeId: 3,
      pool: database.pool,
      machine: new KvMachine(),
      peers: new Map(),
      secret,
      clock: new LamportClock(),
      logger,
      heartbeatMs: 10,
    });
    try {
      await node.log.migrate();
      const copied = { ...(await node.log.state()), lastIndex: 10, lastTerm: 1, commitIndex: 10 };
      await withTransaction(database.pool, (c) => node.log.writeState(c, { ...copied, appliedIndex: 4 }));

      let reached: number | undefined;
      const waiting = node.waitForCommit(10, new AbortController().signal).then((index) => {
        reached = index;
      });
      // Several polls go by with the entries copied and committed but applied only up to 4.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(reached).toBeUndefined();

      await withTransaction(database.pool, (c) => node.log.writeState(c, { ...copied, appliedIndex: 10 }));
      await waiting;
      expect(reached).toBe(10);
    } finally {
      await node.stop();
      await database.drop();
    }
  });
});

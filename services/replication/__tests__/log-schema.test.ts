import { freshDatabase } from '../../../test/databases';
import { withTransaction } from '../../common/mysql';
import { ReplicationLog } from '../log-store';

/*
 * A node's database from before entries carried their request's trace: starting the new code over
 * it adds the column, keeps the old entries (untraced), and new entries keep their traceparent.
 */

const TRACE_PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('replication log schema', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase('replschema');
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('adds trace_parent to a log made before it, keeping the old entries', async () => {
    // The table as the previous release created it, holding one entry.
    await database.pool.query(`CREATE TABLE replication_log (
      log_index BIGINT UNSIGNED NOT NULL PRIMARY KEY,
      term BIGINT UNSIGNED NOT NULL,
      lamport BIGINT UNSIGNED NOT NULL,
      op VARCHAR(191) NOT NULL,
      payload LONGTEXT NOT NULL,
      KEY replication_log_term (term, log_index)
    ) ENGINE=InnoDB`);
    await database.pool.query(
      "INSERT INTO replication_log (log_index, term, lamport, op, payload) VALUES (1, 1, 7, 'kv.put', '{}')",
    );
    const log = new ReplicationLog(database.pool, 1);
    await log.migrate();
    await log.migrate(); // every start runs it: the second time changes nothing
    await log.claimTerm(1);
    await withTransaction(database.pool, async (connection) => {
      const state = await log.lockState(connection);
      await log.writeState(connection, { ...state, lastIndex: 1, lastTerm: 1, leaderId: 1 });
    });
    await withTransaction(database.pool, (connection) =>
      log.appendInTransaction(connection, {
        term: 1,
        lamport: 8,
        op: 'kv.put',
        payload: '{}',
        traceParent: TRACE_PARENT,
      }),
    );
    const entries = await log.entries(1, 2);
    expect(entries).toEqual([
      { index: 1, term: 1, lamport: 7, op: 'kv.put', payload: '{}' },
      { index: 2, term: 1, lamport: 8, op: 'kv.put', payload: '{}', traceParent: TRACE_PARENT },
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { openDatabase } from '../services/common/mysql';
import type { Pool } from '../services/common/mysql';

/** The MariaDB that test/global-setup.ts started for this run. */
export function testMysqlUrl(): string {
  const url = process.env.MARQUEE_TEST_MYSQL_URL;
  if (!url)
    throw new Error(
      'MARQUEE_TEST_MYSQL_URL is unset: run the tests through jest (globalSetup starts MariaDB)',
    );
  return url;
}

/** A fresh database with a unique name; `drop` removes it after the suite. */
export async function freshDatabase(
  prefix: string,
): Promise<{ name: string; pool: Pool; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const pool = await openDatabase(testMysqlUrl(), name, 64);
  return {
    name,
    pool,
    drop: async () => {
      await pool.end();
      const admin = await mysql.createConnection(testMysqlUrl());
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}

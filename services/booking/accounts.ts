import { Role } from '../../proto/gen/marquee/booking/v1/booking';
import type { Session, User } from '../../proto/gen/marquee/booking/v1/booking';
import { signToken } from '../common/auth';
import type { Principal } from '../common/auth';
import { AlreadyExistsError, InvalidArgumentError, UnauthenticatedError } from '../common/errors';
import { newId } from '../common/ids';
import type { Logger } from '../common/logger';
import { isDuplicateKey } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { scopeFor } from './idempotency';
import { hashPassword, verifyAgainstDecoy, verifyPassword } from './passwords';
import { queryRows, sqlTime } from './sql';
import type { WriteBatcher } from './write/batcher';

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  password_hash: Buffer;
  password_salt: Buffer;
  password_params: string;
  role: 'user' | 'admin';
}

const USER_COLUMNS = 'id, email, display_name, password_hash, password_salt, password_params, role';

const WRONG_CREDENTIALS = 'email or password is wrong';

function toUser(row: Pick<UserRow, 'id' | 'email' | 'display_name' | 'role'>): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: row.role === 'admin' ? Role.ROLE_ADMIN : Role.ROLE_USER,
  };
}

function stored(row: UserRow): { hash: Buffer; salt: Buffer; params: string } {
  return { hash: row.password_hash, salt: row.password_salt, params: row.password_params };
}

/** Accounts: registration, login and the boot-time admin. Sessions are signed tokens (common/auth). */
export class Accounts {
  constructor(
    private readonly pool: Pool,
    private readonly settings: { tokenSecret: string; tokenTtlSeconds: number },
    private readonly clock: () => number,
    private readonly logger: Logger,
    /** Registrations are booking writes (write/batcher.ts); ensureAdmin stays local. */
    private readonly writer: WriteBatcher,
  ) {}

  /**
   * Creates a user. Idempotent per (email, key): the stored answer is the User, never a token (no
   * credentials at rest); a replay must present the same password, then gets a fresh session.
   */
  async register(
    input: { email: string; password: string; displayName: string },
    key: string | undefined,
  ): Promise<Session> {
    // The password stays out of the request hash (see requestHash); a replay verifies it instead.
    const scope =
      key === undefined
        ? undefined
        : scopeFor(`email:${input.email}`, key, 'Register', {
            email: input.email,
            displayName: input.displayName,
          });
    const password = await hashPassword(input.password); // slow: before the write, never inside a batch
    const id = newId('usr');
    let user: User;
    try {
      user = await this.writer.submit({
        kind: 'register',
        ...(scope ? { scope } : {}),
        user: {
          id,
          email: input.email,
          displayName: input.displayName,
          passwordHash: password.hash.toString('base64'),
          passwordSalt: password.salt.toString('base64'),
          passwordParams: password.params,
          role: 'user',
          createdAt: sqlTime(this.clock()),
        },
      });
    } catch (error) {
      // The admin is written locally at boot (ensureAdmin), outside the batches: its email too is taken.
      if (isDuplicateKey(error) && String((error as Error).message).includes('users_email'))
        throw new AlreadyExistsError('email: already registered');
      throw error;
    }
    const replayed = user.id !== id;
    if (!replayed) {
      this.logger.info({ userId: user.id }, 'user registered');
      return this.session(user);
    }
    const value = user;
    const row = (
      await queryRows<UserRow>(this.pool, `SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, value.id)
    )[0];
    if (!row || !(await verifyPassword(input.password, stored(row)))) {
      throw new InvalidArgumentError('idempotency_key', 'was used for a different request');
    }
    return this.session(toUser(row));
  }

  /** The same answer for an unknown email and a wrong password, after the same amount of work. */
  async login(email: string, password: string): Promise<Session> {
    const row = (
      await queryRows<UserRow>(this.pool, `SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, email)
    )[0];
    const ok = row ? await verifyPassword(password, stored(row)) : await verifyAgainstDecoy(password);
    if (!row || !ok) throw new UnauthenticatedError(WRONG_CREDENTIALS);
    return this.session(toUser(row));
  }

  async whoAmI(principal: Principal): Promise<User> {
    const row = (
      await queryRows<UserRow>(
        this.pool,
        'SELECT id, email, display_name, role FROM users WHERE id = ?',
        principal.userId,
      )
    )[0];
    if (!row) throw new UnauthenticatedError('authorization: the account of this token no longer exists');
    return toUser(row);
  }

  /**
   * Makes sure the configured admin exists with the configured password (config is the source of
   * truth for this one account). Safe to run on every boot and on several nodes at once.
   */
  async ensureAdmin(email: string, password: string): Promise<void> {
    const row = (
      await queryRows<UserRow>(this.pool, `SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, email)
    )[0];
    if (row && row.role === 'admin' && (await verifyPassword(password, stored(row)))) return;
    const hashed = await hashPassword(password);
    if (!row) {
      await this.pool.query(
        `INSERT IGNORE INTO users (${USER_COLUMNS}, created_at) VALUES (?, ?, 'Administrator', ?, ?, ?, 'admin', ?)`,
        [newId('usr'), email, hashed.hash, hashed.salt, hashed.params, sqlTime(this.clock())],
      );
      this.logger.info({ email }, 'admin account created');
      return;
    }
    await this.pool.query(
      "UPDATE users SET role = 'admin', password_hash = ?, password_salt = ?, password_params = ? WHERE id = ?",
      [hashed.hash, hashed.salt, hashed.params, row.id],
    );
    this.logger.info({ email }, 'admin account updated from config');
  }

  private session(user: User): Session {
    const now = this.clock();
    const principal: Principal = {
      userId: user.id,
      email: user.email,
      role: user.role === Role.ROLE_ADMIN ? 'admin' : 'user',
    };
    return {
      token: signToken(principal, this.settings.tokenSecret, this.settings.tokenTtlSeconds, now),
      expiresAt: new Date((Math.floor(now / 1000) + this.settings.tokenTtlSeconds) * 1000).toISOString(),
      user,
    };
  }
}

import { status as Code } from '@grpc/grpc-js';
import { Role } from '../../../proto/gen/marquee/booking/v1/booking';
import { signToken } from '../../common/auth';
import { call, expectError, makeShow, queryRows, startHarness } from './harness';
import type { Harness } from './harness';

describe('accounts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ shows: [makeShow('acct', 1)] });
  });
  afterAll(() => h.stop());

  const register = (
    request: { email: string; password: string; displayName?: string },
    headers: Record<string, string> = {},
  ) => call(h.accounts.register.bind(h.accounts), { displayName: '', ...request }, undefined, headers);
  const login = (email: string, password: string) =>
    call(h.accounts.login.bind(h.accounts), { email, password });
  const whoAmI = (token?: string) => call(h.accounts.whoAmI.bind(h.accounts), {}, token);

  it('registers, logs in and tells the caller who they are', async () => {
    const session = await register({
      email: 'Rita@Example.com',
      password: 'correct horse battery',
      displayName: 'Rita',
    });
    expect(session.user).toEqual({
      id: expect.stringMatching(/^usr_/),
      email: 'rita@example.com',
      displayName: 'Rita',
      role: Role.ROLE_USER,
    });
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());
    expect(await whoAmI(session.token)).toEqual(session.user);
    const again = await login('rita@example.com', 'correct horse battery');
    expect(again.user).toEqual(session.user);
    const [row] = await queryRows<{ password_params: string; hash: number }>(
      h.db,
      'SELECT password_params, LENGTH(password_hash) AS hash FROM users WHERE id = ?',
      session.user!.id,
    );
    expect(row).toEqual({ password_params: 'N=16384,r=8,p=1,len=32', hash: 32 });
  });

  it('a wrong password and an unknown email get the same answer', async () => {
    const wrong = await expectError(
      login('rita@example.com', 'not the password'),
      Code.UNAUTHENTICATED,
      'email or password is wrong',
    );
    const unknown = await expectError(
      login('nobody@example.com', 'not the password'),
      Code.UNAUTHENTICATED,
      'email or password is wrong',
    );
    expect(unknown.details).toBe(wrong.details);
  });

  it('refuses a second account for an email, a bad email and a short password', async () => {
    await expectError(
      register({ email: 'rita@example.com', password: 'another password' }),
      Code.ALREADY_EXISTS,
      'email: already registered',
    );
    await expectError(
      register({ email: 'not-an-email', password: 'long enough pw' }),
      Code.INVALID_ARGUMENT,
      /^email: /,
    );
    await expectError(
      register({ email: '', password: 'long enough pw' }),
      Code.INVALID_ARGUMENT,
      'email: is required',
    );
    await expectError(
      register({ email: 'sam@example.com', password: 'short' }),
      Code.INVALID_ARGUMENT,
      'password: must be at least 8',
    );
    await expectError(
      register({ email: 'sam@example.com', password: 'x'.repeat(129) }),
      Code.INVALID_ARGUMENT,
      'password: must be at most 128',
    );
    await expectError(
      register({ email: 'sam@example.com', password: 'long enough pw', displayName: 'n'.repeat(101) }),
      Code.INVALID_ARGUMENT,
      'display_name',
    );
    await expectError(login('', 'whatever1'), Code.INVALID_ARGUMENT, 'email');
    await expectError(login('sam@example.com', ''), Code.INVALID_ARGUMENT, 'password');
    expect(await queryRows(h.db, "SELECT id FROM users WHERE email = 'sam@example.com'")).toEqual([]);
  });

  it('a registration retried with its idempotency-key header gets the same account', async () => {
    const headers = { 'idempotency-key': 'signup-0001' };
    const first = await register({ email: 'tess@example.com', password: 'tess password 1' }, headers);
    const second = await register({ email: 'tess@example.com', password: 'tess password 1' }, headers);
    expect(second.user).toEqual(first.user);
    await expectError(
      register({ email: 'tess@example.com', password: 'tess password 1', displayName: 'Other' }, headers),
      Code.INVALID_ARGUMENT,
      'idempotency_key: was used for a different request',
    );
    // The stored answer is no credential: a replay must present the same password.
    await expectError(
      register({ email: 'tess@example.com', password: 'guessed password' }, headers),
      Code.INVALID_ARGUMENT,
      'idempotency_key',
    );
    await expectError(
      register({ email: 'tess@example.com', password: 'tess password 1' }, { 'idempotency-key': 'short' }),
      Code.INVALID_ARGUMENT,
      'idempotency-key',
    );
  });

  it('the configured admin exists at boot and logs in with the admin role', async () => {
    const admin = await login(h.config.adminEmail, h.config.adminPassword);
    expect(admin.user?.role).toBe(Role.ROLE_ADMIN);
  });

  it('calls without a token, with a bad token or an expired one are UNAUTHENTICATED', async () => {
    const booking = h.booking[0]!;
    const availability = (token?: string) =>
      call(booking.getAvailability.bind(booking), { showId: 'acct' }, token);
    await expectError(whoAmI(), Code.UNAUTHENTICATED, 'authorization');
    await expectError(availability(), Code.UNAUTHENTICATED, 'authorization');
    await expectError(availability('garbage'), Code.UNAUTHENTICATED, 'authorization');
    const forged = signToken(
      { userId: 'eve', email: 'eve@example.com', role: 'admin' },
      'some-other-secret-entirely',
      3600,
      Date.now(),
    );
    await expectError(availability(forged), Code.UNAUTHENTICATED, 'signature');
    const expired = signToken(
      { userId: 'eve', email: 'eve@example.com', role: 'user' },
      h.config.tokenSecret,
      60,
      Date.now() - 120_000,
    );
    await expectError(availability(expired), Code.UNAUTHENTICATED, 'expired');
    const listMine = call(booking.listMyBookings.bind(booking), { pageSize: 0, pageToken: '' });
    await expectError(listMine, Code.UNAUTHENTICATED, 'authorization');
  });
});

import { Metadata, status as Code } from '@grpc/grpc-js';
import { signToken } from '../../common/auth';
import type { CallContext } from '../../common/grpc-server';
import { cachedAuthenticator } from '../handlers';

const secret = 'token-cache-secret-0123';
const start = Date.parse('2026-11-25T10:00:00Z');

function contextWith(header: string | undefined): CallContext {
  const metadata = new Metadata();
  if (header !== undefined) metadata.set('authorization', header);
  return { metadata, peer: 'test', deadline: Infinity };
}

describe('cachedAuthenticator', () => {
  it('serves a verified token again, but still refuses it once it has expired', () => {
    let now = start;
    const authenticate = cachedAuthenticator(secret, () => now);
    const token = signToken({ userId: 'u1', email: 'u1@example.com', role: 'user' }, secret, 60, start);
    expect(authenticate(contextWith(`Bearer ${token}`))).toEqual({
      userId: 'u1',
      email: 'u1@example.com',
      role: 'user',
    });
    now = start + 30_000;
    expect(authenticate(contextWith(`Bearer ${token}`)).userId).toBe('u1');
    now = start + 61_000;
    expect(() => authenticate(contextWith(`Bearer ${token}`))).toThrow(
      expect.objectContaining({ code: Code.UNAUTHENTICATED, message: expect.stringContaining('expired') }),
    );
  });

  it('never lets a token that failed verification through, however often it is sent', () => {
    const authenticate = cachedAuthenticator(secret, () => start);
    const forged = signToken(
      { userId: 'u2', email: 'u2@example.com', role: 'admin' },
      'another-secret-value',
      60,
      start,
    );
    for (let i = 0; i < 3; i++) {
      expect(() => authenticate(contextWith(`Bearer ${forged}`))).toThrow(
        expect.objectContaining({ code: Code.UNAUTHENTICATED }),
      );
    }
    expect(() => authenticate(contextWith(undefined))).toThrow(
      expect.objectContaining({ code: Code.UNAUTHENTICATED }),
    );
  });

  it('does not mix up two users whose tokens differ', () => {
    const authenticate = cachedAuthenticator(secret, () => start);
    const a = signToken({ userId: 'a', email: 'a@example.com', role: 'user' }, secret, 60, start);
    const b = signToken({ userId: 'b', email: 'b@example.com', role: 'admin' }, secret, 60, start);
    expect(authenticate(contextWith(`Bearer ${a}`)).userId).toBe('a');
    expect(authenticate(contextWith(`Bearer ${b}`))).toMatchObject({ userId: 'b', role: 'admin' });
    expect(authenticate(contextWith(`Bearer ${a}`))).toMatchObject({ userId: 'a', role: 'user' });
  });
});

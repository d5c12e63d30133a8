import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { PermissionDeniedError, UnauthenticatedError } from './errors';

export type Role = 'user' | 'admin';

export interface Principal {
  userId: string;
  email: string;
  role: Role;
}

interface TokenPayload {
  sub: string;
  email: string;
  role: Role;
  exp: number; // seconds since the epoch
}

/**
 * Signed bearer tokens: base64url(JSON payload) "." base64url(HMAC-SHA256). The booking service
 * issues them; every service verifies them with the shared secret, so no call needs a session lookup.
 */
export function signToken(principal: Principal, secret: string, ttlSeconds: number, nowMs: number): string {
  const payload: TokenPayload = {
    sub: principal.userId,
    email: principal.email,
    role: principal.role,
    exp: Math.floor(nowMs / 1000) + ttlSeconds,
  };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${sign(body, secret)}`;
}

export function verifyToken(token: string, secret: string, nowMs: number): Principal {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined)
    throw new UnauthenticatedError('authorization: malformed token');
  const expected = Buffer.from(sign(body, secret), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new UnauthenticatedError('authorization: token signature is invalid');
  }
  let payload: TokenPayload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
  } catch {
    throw new UnauthenticatedError('authorization: malformed token');
  }
  if (typeof payload.exp !== 'number' || payload.exp * 1000 <= nowMs)
    throw new UnauthenticatedError('authorization: token expired; log in again');
  if (payload.role !== 'user' && payload.role !== 'admin')
    throw new UnauthenticatedError('authorization: malformed token');
  return { userId: payload.sub, email: payload.email, role: payload.role };
}

function sign(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

/** The caller, or undefined when the call carries no authorization header. A bad token is an error. */
export function principalFrom(metadata: Metadata, secret: string, nowMs: number): Principal | undefined {
  const header = metadata.get('authorization')[0];
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(String(header));
  if (!match?.[1]) throw new UnauthenticatedError('authorization: expected "Bearer <token>"');
  return verifyToken(match[1], secret, nowMs);
}

export function requireUser(metadata: Metadata, secret: string, nowMs: number): Principal {
  const principal = principalFrom(metadata, secret, nowMs);
  if (!principal) throw new UnauthenticatedError();
  return principal;
}

export function requireAdmin(metadata: Metadata, secret: string, nowMs: number): Principal {
  const principal = requireUser(metadata, secret, nowMs);
  if (principal.role !== 'admin') throw new PermissionDeniedError('this call needs the admin role');
  return principal;
}

import { status as Code } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError, fromGrpcError, toGrpcStatus } from '../errors';
import { createLogger } from '../logger';
import { nextPageToken, readPage } from '../pagination';
import {
  optionalDate,
  requiredId,
  requiredIdempotencyKey,
  requiredInt,
  requiredString,
  requiredTimestamp,
} from '../validate';
import { requireAdmin, signToken, verifyToken } from '../auth';
import { Metadata } from '@grpc/grpc-js';

const logger = createLogger('test', { level: 'silent' });

describe('toGrpcStatus', () => {
  it('keeps a domain error code and message, with the field in metadata', () => {
    const status = toGrpcStatus(new InvalidArgumentError('show_id', 'is required'), logger);
    expect(status.code).toBe(Code.INVALID_ARGUMENT);
    expect(status.details).toBe('show_id: is required');
    expect(status.metadata?.get('x-error-field')).toEqual(['show_id']);
  });

  it('turns an unknown error into INTERNAL without leaking its message', () => {
    const status = toGrpcStatus(new Error('password=hunter2 in SQL'), logger);
    expect(status.code).toBe(Code.INTERNAL);
    expect(status.details).not.toContain('hunter2');
  });

  it('round-trips through fromGrpcError with the field', () => {
    const status = toGrpcStatus(new NotFoundError('show', 'sh_1', 'show_id'), logger);
    const back = fromGrpcError({ code: status.code, details: status.details, metadata: status.metadata });
    expect(back).toMatchObject({ code: Code.NOT_FOUND, details: { field: 'show_id' } });
  });
});

describe('validators name the field', () => {
  it.each([
    [() => requiredString('', 'title'), 'title: is required'],
    [() => requiredString('x'.repeat(201), 'title'), 'title: must be at most 200 characters'],
    [() => requiredString(7, 'title'), 'title: must be a string'],
    [() => requiredId('a b', 'show_id'), 'show_id: "a b" is not a valid id'],
    [() => requiredInt(-1, 'quantity', { min: 1, max: 10 }), 'quantity: must be between 1 and 10'],
    [() => requiredInt(1.5, 'quantity', { min: 1, max: 10 }), 'quantity: must be an integer'],
    [() => optionalDate('2026-13-45', 'from_date'), 'from_date: must be a date'],
    [() => requiredTimestamp('2026-12-01 20:00', 'starts_at'), 'starts_at: must be an RFC 3339 time'],
    [() => requiredIdempotencyKey('short'), 'idempotency_key: must be at least 8 characters'],
  ])('%#', (call, message) => {
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow(message);
  });

  it('accepts good values', () => {
    expect(requiredTimestamp('2026-12-01T20:00:00Z', 'starts_at').toISOString()).toBe(
      '2026-12-01T20:00:00.000Z',
    );
    expect(optionalDate('', 'from_date')).toBe('');
    expect(requiredInt(10, 'q', { min: 1, max: 10 })).toBe(10);
  });
});

describe('pagination tokens', () => {
  it('walks pages and rejects forged tokens', () => {
    const first = readPage(2, '');
    expect(first).toEqual({ offset: 0, size: 2 });
    const token = nextPageToken(first, 3);
    expect(readPage(2, token)).toEqual({ offset: 2, size: 2 });
    expect(nextPageToken(first, 2)).toBe('');
    expect(() => readPage(2, 'garbage!')).toThrow('page_token');
    expect(() => readPage(101, '')).toThrow('page_size');
  });
});

describe('tokens', () => {
  const secret = 'a-test-secret-of-length';
  const now = Date.parse('2026-11-25T00:00:00Z');

  it('verifies what it signed and refuses tampering, expiry and other secrets', () => {
    const token = signToken({ userId: 'u1', email: 'a@b.c', role: 'user' }, secret, 60, now);
    expect(verifyToken(token, secret, now)).toEqual({ userId: 'u1', email: 'a@b.c', role: 'user' });
    expect(() => verifyToken(token, 'another-secret-value', now)).toThrow('signature');
    expect(() => verifyToken(token, secret, now + 61_000)).toThrow('expired');
    const [body, signature] = token.split('.');
    const forged = Buffer.from(
      Buffer.from(body!, 'base64url').toString().replace('"user"', '"admin"'),
    ).toString('base64url');
    expect(() => verifyToken(`${forged}.${signature}`, secret, now)).toThrow('signature');
  });

  it('requireAdmin refuses a user token with PERMISSION_DENIED', () => {
    const metadata = new Metadata();
    metadata.set(
      'authorization',
      `Bearer ${signToken({ userId: 'u1', email: 'a@b.c', role: 'user' }, secret, 60, now)}`,
    );
    expect(() => requireAdmin(metadata, secret, now)).toThrow(
      expect.objectContaining({ code: Code.PERMISSION_DENIED }),
    );
    expect(() => requireAdmin(new Metadata(), secret, now)).toThrow(
      expect.objectContaining({ code: Code.UNAUTHENTICATED }),
    );
  });
});

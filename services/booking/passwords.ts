import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

/**
 * scrypt parameters, stored next to every hash so they can be raised later without invalidating
 * existing passwords. N=16384, r=8, p=1 (16 MiB, ~50 ms on one core) is the interactive-login
 * setting from the scrypt paper; it keeps a login cheap for us and an offline guess expensive.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  N: 16384,
  r: 8,
  p: 1,
  keyLength: 32,
});

export interface PasswordHash {
  hash: Buffer;
  salt: Buffer;
  /** "N=16384,r=8,p=1,len=32" */
  params: string;
}

export function formatParams(params: ScryptParams): string {
  return `N=${params.N},r=${params.r},p=${params.p},len=${params.keyLength}`;
}

export function parseParams(text: string): ScryptParams {
  const match = /^N=(\d+),r=(\d+),p=(\d+),len=(\d+)$/.exec(text);
  if (!match) throw new Error(`unreadable scrypt parameters ${JSON.stringify(text)}`);
  return { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]), keyLength: Number(match[4]) };
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, params.keyLength, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return { hash: await derive(password, salt, params), salt, params: formatParams(params) };
}

/** Compares in constant time; a hash made with other parameters is checked with those parameters. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const candidate = await derive(password, stored.salt, parseParams(stored.params));
  return candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash);
}

let decoy: Promise<PasswordHash> | undefined;

/**
 * Spends the same work as a real verification and returns false: a login for an unknown email
 * must not answer faster than one with a wrong password, or response times would list our users.
 */
export async function verifyAgainstDecoy(password: string): Promise<false> {
  decoy ??= hashPassword('decoy-password-never-matches');
  await verifyPassword(password, await decoy);
  return false;
}

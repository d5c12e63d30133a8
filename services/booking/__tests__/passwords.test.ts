import {
  DEFAULT_SCRYPT_PARAMS,
  formatParams,
  hashPassword,
  parseParams,
  verifyAgainstDecoy,
  verifyPassword,
} from '../passwords';

describe('passwords (scrypt)', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored.params).toBe('N=16384,r=8,p=1,len=32');
    expect(stored.salt).toHaveLength(16);
    expect(stored.hash).toHaveLength(32);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash, so equal passwords hash differently', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a.hash.equals(b.hash)).toBe(false);
    expect(a.salt.equals(b.salt)).toBe(false);
  });

  it('checks a hash with the parameters stored beside it', async () => {
    const cheap = { N: 1024, r: 8, p: 1, keyLength: 16 };
    const stored = await hashPassword('old account pw', cheap);
    expect(parseParams(stored.params)).toEqual(cheap);
    expect(stored.hash).toHaveLength(16);
    expect(await verifyPassword('old account pw', stored)).toBe(true);
  });

  it('round-trips its parameter text and refuses garbage', () => {
    expect(parseParams(formatParams(DEFAULT_SCRYPT_PARAMS))).toEqual(DEFAULT_SCRYPT_PARAMS);
    expect(() => parseParams('bcrypt$2a')).toThrow(/unreadable scrypt parameters/);
  });

  it('the decoy used for unknown emails never matches', async () => {
    expect(await verifyAgainstDecoy('decoy-password-never-matches')).toBe(false);
  });
});

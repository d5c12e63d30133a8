import { Metadata, status as Code } from '@grpc/grpc-js';
import pino from 'pino';
import { UnauthenticatedError } from '../errors';
import { ClusterSecret, PEER_AUTH_METADATA_KEY, requirePeer } from '../peer-auth';

const RAW = 'correct-horse-battery-staple';
const secret = new ClusterSecret(RAW);

function capture(): { lines: string[]; call: { peer: string; method: string; logger: pino.Logger } } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return {
    lines,
    call: { peer: 'ipv4:10.0.0.7:5555', method: '/marquee.cluster.v1.ElectionService/Deliver', logger },
  };
}

function presented(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add(PEER_AUTH_METADATA_KEY, value);
  return metadata;
}

it('sends a credential derived from the secret (HMAC-SHA256, hex), never the secret itself', () => {
  const [token] = secret.metadata().get(PEER_AUTH_METADATA_KEY);
  expect(token).toMatch(/^[0-9a-f]{64}$/);
  expect(token).not.toContain(RAW);
  expect(new ClusterSecret(RAW).metadata().get(PEER_AUTH_METADATA_KEY)).toEqual([token]);
  expect(JSON.stringify({ secret })).not.toContain(String(token));
});

it('accepts exactly one correct credential, silently', () => {
  const { lines, call } = capture();
  expect(() => requirePeer(secret.metadata(), secret, call)).not.toThrow();
  expect(lines).toEqual([]);
});

it.each([
  ['missing', () => new Metadata()],
  ['wrong', () => new ClusterSecret('another-long-secret-value').metadata()],
  ['wrong', () => presented(RAW)],
  ['wrong', () => presented('')],
  ['repeated', () => presented(String(secret.metadata().get(PEER_AUTH_METADATA_KEY)[0]), 'x')],
])(
  'refuses a %s credential with UNAUTHENTICATED and a warn line that names caller and method, not the secret',
  (reason, metadata) => {
    const { lines, call } = capture();
    let thrown: unknown;
    try {
      requirePeer(metadata(), secret, call);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnauthenticatedError);
    expect((thrown as UnauthenticatedError).code).toBe(Code.UNAUTHENTICATED);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 40,
      peer: call.peer,
      method: call.method,
      reason,
    });
    expect(lines[0]).not.toContain(RAW);
    expect(lines[0]).not.toContain(String(secret.metadata().get(PEER_AUTH_METADATA_KEY)[0]));
  },
);

it('refuses to build from a short secret, without echoing it', () => {
  expect(() => new ClusterSecret('short')).toThrow(/at least 16 characters \(got 5\)/);
  expect(() => new ClusterSecret('short')).not.toThrow(/short/);
});

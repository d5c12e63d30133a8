import { createHmac, timingSafeEqual } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { UnauthenticatedError } from './errors';

/*
 * Peer RPCs (election, later replication) prove membership of the booking group with a credential
 * derived from the shared cluster secret: HMAC-SHA256(secret, "marquee-peer"), hex, in `x-cluster-auth`.
 *
 * Why a derived token rather than the secret itself:
 *  - The secret never leaves the process. Anything that sees headers (a proxy's debug log, a packet
 *    capture on the plaintext LAN channel, a heap dump of a peer) learns only the token, which
 *    authenticates peer RPCs and nothing else; other keys derived from the same secret under other
 *    labels stay safe.
 *  - Both sides compare two fixed-length values, so timingSafeEqual applies without leaking how
 *    long the secret is.
 * What it does not do: the token is static, so someone who can read traffic on the channel can
 * replay it. Against an on-path attacker the answer is mTLS (DESIGN.md, Security), not a cleverer
 * header; this guards the group against misconfigured or stray clients and against anyone off-path.
 */

/** The metadata key that carries the peer credential. */
export const PEER_AUTH_METADATA_KEY = 'x-cluster-auth';

/** Domain-separation label: a token for peer RPCs is useless as any other key derived from the secret. */
const PEER_LABEL = 'marquee-peer';

/** Below this the secret is guessable offline from one captured token. */
export const MIN_CLUSTER_SECRET_LENGTH = 16;

/**
 * The cluster secret and the token derived from it. Build it once at boot: the constructor
 * validates, so a node with a weak or missing secret refuses to start rather than run open.
 */
export class ClusterSecret {
  private readonly token: Buffer;

  constructor(secret: string) {
    if (secret.length < MIN_CLUSTER_SECRET_LENGTH) {
      // The message names the problem, never the value.
      throw new RangeError(
        `cluster secret: must be at least ${MIN_CLUSTER_SECRET_LENGTH} characters (got ${secret.length})`,
      );
    }
    this.token = Buffer.from(createHmac('sha256', secret).update(PEER_LABEL).digest('hex'), 'utf8');
  }

  /** Metadata for one outgoing peer call (fresh each time: grpc-js may hold on to what it is given). */
  metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set(PEER_AUTH_METADATA_KEY, this.token.toString('utf8'));
    return metadata;
  }

  /** Constant-time check of one presented value. */
  matches(presented: string): boolean {
    const candidate = Buffer.from(presented, 'utf8');
    // The token's length is public (64 hex characters), so checking it first reveals nothing.
    return candidate.length === this.token.length && timingSafeEqual(candidate, this.token);
  }

  /** Keeps the token out of logs and error messages that print objects. */
  toJSON(): string {
    return '[cluster secret]';
  }
}

/** Who is calling what: for the refusal log line. */
export interface PeerCall {
  /** The caller's address as grpc-js reports it (CallContext.peer). */
  peer: string;
  /** The full method path. */
  method: string;
  logger: Logger;
}

/**
 * Throws UnauthenticatedError unless `metadata` carries the cluster credential exactly once. Logs the
 * refusal at warn with the caller's address, the method and why, never the presented value.
 */
export function requirePeer(metadata: Metadata, secret: ClusterSecret, call: PeerCall): void {
  const values = metadata.get(PEER_AUTH_METADATA_KEY);
  const reason =
    values.length === 0
      ? 'missing'
      : values.length > 1
        ? 'repeated'
        : typeof values[0] !== 'string' || !secret.matches(values[0])
          ? 'wrong'
          : undefined;
  if (reason === undefined) return;
  call.logger.warn(
    { peer: call.peer, method: call.method, reason },
    'refused a peer call: bad cluster credential',
  );
  throw new UnauthenticatedError(`${PEER_AUTH_METADATA_KEY}: a valid cluster credential is required`);
}

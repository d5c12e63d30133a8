import { connect } from 'node:net';

/*
 * Strong evidence that a peer's process is gone: a TCP connect to its peer port that the peer's
 * kernel refuses (RST: nothing listens there). A killed process's listening socket closes with it,
 * so this answers within a round trip, while a busy or paused (SIGSTOP) process still completes the
 * handshake in its kernel and a cut-off or vanished host just times out: neither is evidence, and
 * the election's silence timeout covers them.
 *
 * A TCP proxy on the path (npm start's fault proxies) accepts first and then resets the connection
 * when its own upstream refuses, so a connection reset before the probe's time is up counts as a
 * refusal too; a connection still open then is a live listener (a gRPC server waits for the client's
 * preface, it never closes a fresh connection by itself).
 */

/** refused: nothing listens (the process is gone); listening: something accepted; unknown: no answer. */
export type ProbeResult = 'refused' | 'listening' | 'unknown';

/** Splits "host:port" (also "[::1]:port"). Throws naming the address when it has no port. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535)
    throw new RangeError(`peer address ${JSON.stringify(address)} is not host:port`);
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

/**
 * One connection to `address`, held for at most `timeoutMs` and then closed; never rejects.
 * refused: the connect was refused, or the connection was reset by the far end in that time.
 */
export function probePort(address: string, timeoutMs: number): Promise<ProbeResult> {
  const { host, port } = parseAddress(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let connected = false;
    const settle = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle(connected ? 'listening' : 'unknown'), timeoutMs);
    socket.once('connect', () => (connected = true));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      settle(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' ? 'refused' : 'unknown'),
    );
    // An orderly close is no refusal (a proxy whose upstream timed out does that): no evidence.
    socket.once('end', () => settle('unknown'));
  });
}

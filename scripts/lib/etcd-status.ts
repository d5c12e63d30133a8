import path from 'node:path';
import { readNodeStatus } from './stack';
import type { EtcdInfo } from './stack-control';

/* What `npm start` prints about the booking group's etcd and its fallback lease. */

/** One line for npm start's listing: where etcd is, and who holds the lease with which token. */
export async function etcdStatusLine(stack: {
  etcdEndpoint: string | undefined;
  etcd?: { info(): EtcdInfo };
  bookingNodes: readonly { id: number; peerAddress: string }[];
}): Promise<string> {
  if (stack.etcdEndpoint === undefined)
    return 'etcd: off (MARQUEE_ETCD_ENDPOINTS is empty): the booking group runs bully + quorum alone';
  const info = stack.etcd?.info();
  const where = info
    ? `private, pid ${String(info.pid)}, data in ${path.join('.data', 'local', 'etcd')}`
    : 'yours';
  const lease = await leaseSeenBy(stack.bookingNodes);
  return `etcd: ${stack.etcdEndpoint} (${where}); fallback lease: ${lease}`;
}

/** The lease holder and token as the first node that answers Status reports them. */
async function leaseSeenBy(nodes: readonly { id: number; peerAddress: string }[]): Promise<string> {
  for (const node of nodes) {
    try {
      const status = await readNodeStatus(node.peerAddress);
      return status.etcdLeaseHolder === 0
        ? 'no holder yet'
        : `held by node ${status.etcdLeaseHolder}, fencing token ${status.etcdLeaseToken}`;
    } catch {
      // try the next node
    }
  }
  return 'unknown (no node answered Status)';
}

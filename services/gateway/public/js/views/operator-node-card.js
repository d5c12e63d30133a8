// @ts-check
/*
 * One booking node on the operator page (#/operator): its role, term, Lamport clock, indexes and
 * lag, the master it follows and whether it takes writes; on the master, each slave's lag.
 */
import { h, replace } from '../dom.js';

const roleOf = (node) => (node.reachable ? node.role : 'unreachable');

function stat(label, value, attrs = {}) {
  return h('div', { class: 'stat', ...attrs }, h('dt', null, label), h('dd', null, value ?? '—'));
}

export function nodeCard(node, masterId) {
  const role = roleOf(node);
  const card = h('article', {
    class: 'card cluster-node',
    'data-testid': 'cluster-node',
    'data-node-id': node.nodeId,
    'data-role': role,
    'aria-label': `Node ${node.nodeId}, ${role}`,
  });
  const head = h(
    'header',
    null,
    h('h2', null, `Node ${node.nodeId}`),
    h('span', { class: `badge role-${role}` }, role),
  );
  if (!node.reachable)
    return replace(
      card,
      head,
      // grpc-js errors run long ("…. Last error: …"): the first sentence says enough, the rest is in the tooltip.
      h('p', { class: 'node-error', title: node.error }, 'Not answering: ', node.error.split('. ')[0]),
      h('p', { class: 'muted address' }, node.address),
    );
  const lag = node.nodeId === masterId ? 'master' : node.lagEntries;
  return replace(
    card,
    head,
    h(
      'dl',
      { class: 'stats' },
      stat('Term', node.term, { 'data-field': 'term' }),
      stat('Lamport', node.lamport, { 'data-field': 'lamport' }),
      stat('Applied', node.appliedIndex, { 'data-field': 'applied' }),
      stat('Committed', node.commitIndex),
      stat('Lag (entries)', lag, { 'data-field': 'lag' }),
      stat('Follows', node.masterId === null ? 'nobody' : `node ${node.masterId}`),
      stat('Writes', node.canServeWrites ? 'yes' : 'no'),
      node.etcdLeaseHolder !== null
        ? stat('etcd lease', `node ${node.etcdLeaseHolder}, token ${node.etcdLeaseToken}`)
        : null,
    ),
    node.slaves.length
      ? h(
          'table',
          { class: 'slaves' },
          h('caption', null, 'Replication to slaves'),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Slave'),
              h('th', null, 'Match'),
              h('th', null, 'Lag'),
              h('th', null, 'Last ack'),
            ),
          ),
          h(
            'tbody',
            null,
            node.slaves.map((s) =>
              h(
                'tr',
                null,
                h('td', null, `node ${s.nodeId}`),
                h('td', null, s.matchIndex),
                h('td', null, s.lagEntries),
                h('td', null, `${s.lastAckMs} ms`),
              ),
            ),
          ),
        )
      : null,
    h('p', { class: 'muted address' }, node.address),
  );
}

// @ts-check
/*
 * #/operator: the booking group live — each node's role, term, Lamport clock, indexes and lag, the
 * current master, and a timeline of elections (GET /api/cluster/events). Made to watch
 * `npm run chaos -- kill-master` happen. Below, each process's request rate, p99 and errors from
 * the same /metrics endpoints Prometheus scrapes (GET /api/metrics/summary).
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { clock } from '../format.js';
import { subscribe } from '../sse.js';
import { metricsTable } from './operator-metrics.js';
import { nodeCard } from './operator-node-card.js';

const REFRESH_MS = 2000; // Lamport clocks and ack ages are not in `node` events: refresh them.
const METRICS_REFRESH_MS = 5000;
const MAX_TIMELINE = 200;

export function operatorView({ root, signal }) {
  document.title = 'Cluster · Marquee';
  const nodes = new Map(); // nodeId → view
  let master = null; // {nodeId, term} | null
  let electionStartedAt = null;

  const masterText = h('span', { 'data-testid': 'cluster-master', class: 'master-id' }, '…');
  const masterTerm = h('span', { class: 'muted' }, '');
  const live = h('span', { class: 'live', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  const lamport = h('span', { class: 'muted' }, '');
  const grid = h('div', { class: 'cluster-grid', 'aria-live': 'polite' });
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'election-timeline', 'aria-live': 'polite' });

  function renderNodes() {
    const ids = [...nodes.keys()].sort((a, b) => a - b);
    replace(
      grid,
      ids.map((id) => nodeCard(nodes.get(id), master?.nodeId)),
    );
    if (master) {
      masterText.textContent = String(master.nodeId);
      masterTerm.textContent = ` (term ${master.term})`;
    } else {
      masterText.textContent = 'none';
      masterTerm.textContent = ' — election in progress';
    }
  }

  function addEvent(kind, text, data) {
    const item = h(
      'li',
      { class: `timeline-item kind-${kind}`, 'data-kind': kind },
      h('time', { datetime: data.at }, clock(data.at ?? new Date().toISOString())),
      h('span', { class: 'timeline-text' }, text),
      data.lamport !== undefined ? h('span', { class: 'muted lamport' }, `L${data.lamport}`) : null,
    );
    timeline.prepend(item);
    while (timeline.children.length > MAX_TIMELINE) timeline.lastChild.remove();
    if (data.lamport !== undefined) lamport.textContent = `gateway clock L${data.lamport}`;
  }

  function onMaster(event) {
    master = event.to === null ? null : { nodeId: event.to, term: event.term };
    if (event.to === null) {
      electionStartedAt = Date.parse(event.at);
      addEvent('lost', `Node ${event.from ?? '?'} is no longer master — election running`, event);
    } else {
      const took =
        electionStartedAt === null
          ? ''
          : ` after ${((Date.parse(event.at) - electionStartedAt) / 1000).toFixed(1)} s`;
      electionStartedAt = null;
      addEvent(
        'elected',
        event.from === null
          ? `Node ${event.to} elected master, term ${event.term}${took}`
          : `Master changed: node ${event.from} → node ${event.to}, term ${event.term}`,
        event,
      );
    }
    renderNodes();
  }

  function onNode({ node, changed, ...stamp }) {
    const before = nodes.get(node.nodeId);
    nodes.set(node.nodeId, node);
    if (before && changed.includes('reachable')) {
      addEvent(
        node.reachable ? 'up' : 'down',
        node.reachable
          ? `Node ${node.nodeId} is answering again (${node.role})`
          : `Node ${node.nodeId} stopped answering`,
        stamp,
      );
    } else if (before && node.reachable && changed.includes('role') && node.role !== 'master') {
      // (a new master is told by the `master` event)
      addEvent('role', `Node ${node.nodeId} is now ${node.role} (term ${node.term})`, stamp);
    } else if (before?.reachable && node.reachable && changed.includes('term') && before.term !== node.term) {
      addEvent('term', `Node ${node.nodeId} moved to term ${node.term}`, stamp);
    }
    renderNodes();
  }

  function onSnapshot(snapshot) {
    for (const node of snapshot.nodes) nodes.set(node.nodeId, node);
    const first = timeline.children.length === 0;
    master = snapshot.master;
    renderNodes();
    if (first)
      addEvent(
        'watch',
        master
          ? `Watching: node ${master.nodeId} is master (term ${master.term})`
          : 'Watching: no master right now',
        snapshot,
      );
  }

  subscribe(
    api.clusterEventsUrl(),
    { snapshot: onSnapshot, node: onNode, master: onMaster },
    {
      signal,
      onState: (state) => {
        live.dataset.state = state;
        live.textContent =
          { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…' }[state] ?? 'Stopped';
      },
    },
  );

  // Clocks between events: a quiet poll of the same view.
  const refresh = setInterval(async () => {
    try {
      const answer = await api.cluster(signal, true);
      for (const node of answer.nodes) {
        const known = nodes.get(node.nodeId);
        // Keep the stream's lag figures; take the fresh clock and indexes.
        nodes.set(
          node.nodeId,
          known?.reachable && node.reachable ? { ...node, lagEntries: known.lagEntries } : node,
        );
      }
      lamport.textContent = `gateway clock L${answer.lamport}`;
      renderNodes();
    } catch {
      // the stream shows reachability; nothing to add here
    }
  }, REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(refresh));

  // The processes' own numbers (gRPC calls, errors, latency), as Prometheus would see them.
  const metrics = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Reading /metrics…'));
  const refreshMetrics = async () => {
    try {
      const answer = await api.metricsSummary(signal);
      replace(
        metrics,
        answer.targets.length
          ? metricsTable(answer.targets)
          : h('p', { class: 'muted' }, 'No metrics endpoints configured (MARQUEE_METRICS_ADDRS).'),
      );
    } catch (error) {
      if (!signal.aborted)
        replace(
          metrics,
          h('p', { class: 'node-error' }, 'Metrics unavailable: ', error.message ?? String(error)),
        );
    }
  };
  void refreshMetrics();
  const metricsTimer = setInterval(refreshMetrics, METRICS_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(metricsTimer));

  root.append(
    h(
      'div',
      { class: 'operator-head' },
      h('h1', { tabindex: -1 }, 'Booking cluster'),
      h('p', { class: 'lead' }, 'Master: node ', masterText, masterTerm, ' ', live, ' ', lamport),
    ),
    grid,
    h(
      'div',
      { class: 'operator-lower' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'timeline-title' },
        h('h2', { id: 'timeline-title' }, 'Election timeline'),
        timeline,
      ),
      h(
        'aside',
        { class: 'card hint' },
        h('h2', null, 'Watch a failover'),
        h(
          'p',
          null,
          'With the stack running (',
          h('code', null, 'npm start'),
          '), kill the master from a terminal:',
        ),
        h('pre', null, h('code', null, 'npm run chaos -- kill-master')),
        h(
          'p',
          null,
          'The master’s card turns unreachable, the others run a bully election, and the timeline shows the new master and how long it took. Bookings made meanwhile are retried by the gateway with the same idempotency key.',
        ),
      ),
    ),
    h(
      'section',
      { class: 'card metrics-card', 'data-testid': 'metrics-summary', 'aria-labelledby': 'metrics-title' },
      h('h2', { id: 'metrics-title' }, 'Metrics'),
      metrics,
    ),
  );
}

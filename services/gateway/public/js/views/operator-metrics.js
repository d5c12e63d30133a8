// @ts-check
/*
 * The operator page's table of processes (#/operator): each one's request rate, p99, errors, term,
 * lag and cache hits, from the same /metrics endpoints Prometheus scrapes (GET /api/metrics/summary).
 */
import { h } from '../dom.js';

/**
 * A number as text, '—' when there is none.
 * @param {number | null | undefined} value
 * @param {(value: number) => string} [show]
 */
const dash = (value, show = String) => (value === null || value === undefined ? '—' : show(value));
/** @param {number} digits */
const fixed = (digits) => (/** @type {number} */ value) => value.toFixed(digits);
/** @param {number} value */
const ms = (value) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
/** @param {number} ratio */
const percent = (ratio) => `${Math.round(ratio * 100)} %`;

function metricsRow(target) {
  const row = (...cells) =>
    h(
      'tr',
      { 'data-testid': 'metrics-row', 'data-name': target.name, 'data-reachable': String(target.reachable) },
      h('th', { scope: 'row' }, target.name),
      cells,
    );
  if (!target.reachable)
    return row(
      h(
        'td',
        { colspan: 6, class: 'node-error', title: target.error },
        'Not answering: ',
        (target.error ?? '').split('. ')[0],
      ),
    );
  return row(
    h('td', { 'data-field': 'rate' }, dash(target.requestsPerSecond, fixed(1))),
    h('td', { 'data-field': 'p99' }, dash(target.p99Ms, ms)),
    h('td', { 'data-field': 'errors' }, dash(target.errors)),
    h('td', { 'data-field': 'term' }, dash(target.term)),
    h('td', { 'data-field': 'lag' }, dash(target.lagEntries)),
    h('td', { 'data-field': 'cache' }, dash(target.cacheHitRatio, percent)),
  );
}

export function metricsTable(targets) {
  const seconds = targets.find((t) => t.windowSeconds !== null)?.windowSeconds;
  return [
    h(
      'table',
      { class: 'slaves metrics-table' },
      h(
        'caption',
        null,
        seconds
          ? `Rates and p99 over the last ${seconds.toFixed(0)} s`
          : 'Rates and p99 from the next refresh on',
      ),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Process', 'Calls/s', 'p99', 'Errors', 'Term', 'Lag', 'Cache hits'].map((label) =>
            h('th', { scope: 'col' }, label),
          ),
        ),
      ),
      h('tbody', null, targets.map(metricsRow)),
    ),
  ];
}

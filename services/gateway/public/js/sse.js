/*
 * A server-sent event feed that says how it is doing. EventSource reconnects by itself after a
 * dropped connection; when the server refuses a reconnect (a 401, a 404, the gateway down behind
 * nginx) it gives up for good, so this wrapper opens a new one after a pause, asking `canRetry`
 * first (the seat map checks that the session still works).
 *
 *   const feed = subscribe(url, { snapshot(data) {}, seats(data) {} }, { onState, signal });
 *
 * States: 'connecting' → 'live' ⇄ 'reconnecting'; 'stopped' when the server sent `error` (this
 * subscriber's token or show is no longer good) or `canRetry` said no.
 */

const RETRY_MS = 3000;

export function subscribe(url, handlers, { onState = () => {}, signal, canRetry = async () => true } = {}) {
  let source = null;
  let timer;
  let stopped = false;

  const stop = (state) => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
    onState(state);
  };

  const open = () => {
    if (stopped) return;
    onState(source ? 'reconnecting' : 'connecting');
    source = new EventSource(typeof url === 'function' ? url() : url);
    source.addEventListener('open', () => onState('live'));
    for (const [name, handler] of Object.entries(handlers)) {
      if (name === 'error') continue;
      source.addEventListener(name, (event) => {
        onState('live');
        handler(JSON.parse(event.data));
      });
    }
    // 'error' is both the server's own event (with data) and EventSource's connection trouble.
    source.addEventListener('error', (event) => {
      if (event.data) {
        handlers.error?.(JSON.parse(event.data));
        stop('stopped');
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        onState('reconnecting');
        timer = setTimeout(async () => {
          if (stopped) return;
          if (await canRetry()) open();
          else stop('stopped');
        }, RETRY_MS);
      } else {
        onState('reconnecting');
      }
    });
  };

  signal?.addEventListener('abort', () => stop('stopped'));
  open();
  return { close: () => stop('stopped') };
}

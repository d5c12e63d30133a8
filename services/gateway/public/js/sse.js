// @ts-check
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

/**
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'stopped'} FeedState
 * @param {string | (() => string)} url
 * @param {Record<string, (data: any) => void>} handlers by event name
 * @param {{ onState?: (state: FeedState) => void, signal?: AbortSignal, canRetry?: () => Promise<boolean> }} [options]
 */
export function subscribe(url, handlers, { onState = () => {}, signal, canRetry = async () => true } = {}) {
  /** @type {EventSource | null} */
  let source = null;
  let timer;
  let stopped = false;

  /** @param {FeedState} state */
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
        handler(JSON.parse(/** @type {MessageEvent<string>} */ (event).data));
      });
    }
    // 'error' is both the server's own event (with data) and EventSource's connection trouble.
    source.addEventListener('error', (event) => {
      // The server's own `error` event is a MessageEvent; a connection failure is a plain Event.
      const data = event instanceof MessageEvent ? event.data : undefined;
      if (data) {
        handlers.error?.(JSON.parse(data));
        stop('stopped');
        return;
      }
      if (source?.readyState === EventSource.CLOSED) {
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

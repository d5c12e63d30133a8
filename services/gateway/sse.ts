import type { ServerResponse } from 'node:http';

/** Heartbeat comment interval: keeps proxies (nginx's read timeout) and browsers from dropping idle streams. */
export const HEARTBEAT_MS = 15_000;

/** Where feeds push events: an SSE stream, or a fake in unit tests. */
export interface EventSink {
  readonly closed: boolean;
  send(event: string, data: unknown): void;
  /** Ends the stream from the server side. */
  close(): void;
  /** Runs once the stream is closed by either side (at once if it already is). */
  onClose(listener: () => void): void;
}

/**
 * One server-sent-event stream on a hijacked response. Writes after the client left are dropped;
 * `onClose` runs once, whether the client disconnected or the server closed the stream.
 */
export class SseStream implements EventSink {
  private closedFlag = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly raw: ServerResponse,
    headers: Record<string, string>,
    heartbeatMs = HEARTBEAT_MS,
  ) {
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx: pass events on as they come instead of buffering the response.
      'x-accel-buffering': 'no',
      ...headers,
    });
    // How long a browser's EventSource waits before reconnecting after the stream drops.
    raw.write('retry: 2000\n\n');
    this.heartbeat = setInterval(() => this.comment('heartbeat'), heartbeatMs);
    this.heartbeat.unref();
    raw.on('close', () => this.finish());
    raw.on('error', () => this.finish());
    // The client may have gone while the first read was in flight: its 'close' has already passed.
    if (raw.destroyed || !raw.socket || raw.socket.destroyed) this.finish();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  onClose(listener: () => void): void {
    if (this.closedFlag) listener();
    else this.closeListeners.push(listener);
  }

  send(event: string, data: unknown): void {
    if (this.closedFlag) return;
    // JSON.stringify never emits a raw newline, so one `data:` line carries the whole payload.
    this.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (!this.closedFlag) this.raw.write(`: ${text}\n\n`);
  }

  /** Ends the stream from the server side (shutdown, a fatal error for this subscriber). */
  close(): void {
    if (this.closedFlag) return;
    this.raw.end();
    this.finish();
  }

  private finish(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.heartbeat);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

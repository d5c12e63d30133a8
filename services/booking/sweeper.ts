import type { Logger } from '../common/logger';
import type { BookingStore } from './store';

/**
 * Expires lapsed holds every `intervalMs` (and purges idempotency keys past their retention once a
 * minute). Holds also lapse lazily — a seat held by a lapsed hold can be taken at once — so the
 * sweeper only has to give GA places back and tidy up; it never decides whether anything is sold.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastPurgeMs = -Infinity;
  private expiredTotal = 0;

  constructor(
    private readonly store: Pick<BookingStore, 'sweep'>,
    private readonly intervalMs: number,
    private readonly clock: () => number,
    private readonly logger: Logger,
    private readonly purgeEveryMs = 60_000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref(); // a pending sweep must not keep the process alive
  }

  /** One pass; a pass still running makes the next tick a no-op rather than a second pass. */
  async runOnce(): Promise<{ expired: number; purged: number }> {
    const now = this.clock();
    const purgeKeys = now - this.lastPurgeMs >= this.purgeEveryMs;
    if (purgeKeys) this.lastPurgeMs = now;
    const result = await this.store.sweep({ purgeKeys });
    this.expiredTotal += result.expired;
    if (result.expired > 0 || result.purged > 0) this.logger.info(result, 'sweep');
    return result;
  }

  /** Holds this sweeper expired since it was made (lapsed holds taken over lazily are not among them). */
  get expired(): number {
    return this.expiredTotal;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.runOnce().then(
      () => undefined,
      (error: unknown) => this.logger.error({ err: error }, 'sweep failed; will try again'),
    );
    void this.running.finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

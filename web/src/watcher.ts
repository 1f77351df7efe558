/**
 * Polls while something is in flight: every `visibleMs` when the page is visible, backing off (doubling up
 * to `hiddenMaxMs`) while it is hidden, and at once when the page comes back (visibilitychange, pageshow
 * from the back-forward cache, online). `poll` returns false to stop.
 */
export class Watcher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private hiddenDelay: number;
  private failures = 0;
  private readonly onWake = () => {
    if (document.visibilityState === 'visible') this.wake();
  };

  constructor(
    private readonly poll: () => Promise<boolean>,
    /** `visibleMs` may change while watching (a function): slow while events are pushed, fast when they are not. */
    private readonly options: { visibleMs: number | (() => number); hiddenMinMs?: number; hiddenMaxMs?: number } = { visibleMs: 1000 },
  ) {
    this.hiddenDelay = options.hiddenMinMs ?? 5000;
  }

  start() {
    document.addEventListener('visibilitychange', this.onWake);
    window.addEventListener('pageshow', this.onWake);
    window.addEventListener('online', this.onWake);
    void this.tick();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onWake);
    window.removeEventListener('pageshow', this.onWake);
    window.removeEventListener('online', this.onWake);
  }

  /** Polls now (coalesced with a poll already under way). */
  wake() {
    if (this.stopped) return;
    this.hiddenDelay = this.options.hiddenMinMs ?? 5000;
    clearTimeout(this.timer);
    if (this.running) this.again = true;
    else void this.tick();
  }

  private async tick() {
    if (this.stopped) return;
    this.running = true;
    let keepGoing = true;
    try {
      keepGoing = await this.poll();
      this.failures = 0;
    } catch {
      this.failures++;
    } finally {
      this.running = false;
    }
    if (!keepGoing) return this.stop();
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      return void this.tick();
    }
    this.timer = setTimeout(() => void this.tick(), this.nextDelay());
  }

  private nextDelay() {
    const visibleMs = typeof this.options.visibleMs === 'function' ? this.options.visibleMs() : this.options.visibleMs;
    const errorBackoff = Math.max(visibleMs, Math.min(30_000, visibleMs * 2 ** this.failures));
    if (document.visibilityState === 'hidden') {
      const delay = this.hiddenDelay;
      this.hiddenDelay = Math.min(this.options.hiddenMaxMs ?? 60_000, this.hiddenDelay * 2);
      return Math.max(delay, errorBackoff);
    }
    return errorBackoff;
  }
}

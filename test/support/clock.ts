import type { Clock, Timer } from '../../src/shared/clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test says so: the timers the engine arms through it (scheduler
 * ticks, Rule.stats flushes, stream deadlines) fire, in time order, as advance() passes their time.
 */
export class ManualClock implements Clock {
  private at: number;
  private seq = 0;
  private readonly timers = new Set<PendingTimer>();
  /** Timers armed so far, for tick() to count the re-arms. */
  private armed = 0;
  private armedWaiters: { atCount: number; resolve: () => void }[] = [];

  constructor(start: Date | number = Date.now()) {
    this.at = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.at);
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: PendingTimer = { at: this.at + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    this.armed++;
    const ready = this.armedWaiters.filter((waiter) => waiter.atCount <= this.armed);
    this.armedWaiters = this.armedWaiters.filter((waiter) => waiter.atCount > this.armed);
    for (const waiter of ready) waiter.resolve();
    return { cancel: () => this.timers.delete(timer) };
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way at its own time; returns how
   * many fired.
   */
  advance(ms: number): number {
    const target = this.at + ms;
    let fired = 0;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const timer of this.timers) if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      if (!next) break;
      this.timers.delete(next);
      this.at = Math.max(this.at, next.at);
      next.fn();
      fired++;
    }
    this.at = target;
    return fired;
  }

  /** Resolves when the next timer is armed: for a loop that re-arms once its work is done. */
  nextTimer(): Promise<void> {
    return this.armedCount(this.armed + 1);
  }

  /**
   * Advances by `ms` and waits until every timer that fired is armed again (at least one), as the
   * scheduler and the Rule.stats flush do at the end of the pass the advance started: one call,
   * one tick of work done. Every timer on this clock must then belong to such a loop.
   */
  async tick(ms: number): Promise<void> {
    const armedBefore = this.armed;
    const fired = this.advance(ms);
    await this.armedCount(armedBefore + Math.max(1, fired));
  }

  private armedCount(atCount: number): Promise<void> {
    if (this.armed >= atCount) return Promise.resolve();
    return new Promise((resolve) => this.armedWaiters.push({ atCount, resolve }));
  }
}

import type { Clock, Timer } from '../../src/shared/clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test says so: the timers the engine arms through it (scheduler
 * ticks, stream deadlines) fire, in time order, as advance() passes their time.
 */
export class ManualClock implements Clock {
  private at: number;
  private seq = 0;
  private readonly timers = new Set<PendingTimer>();
  private armedWaiters: (() => void)[] = [];

  constructor(start: Date | number = Date.now()) {
    this.at = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.at);
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: PendingTimer = { at: this.at + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    const waiters = this.armedWaiters;
    this.armedWaiters = [];
    for (const resolve of waiters) resolve();
    return { cancel: () => this.timers.delete(timer) };
  }

  /** Moves time forward by `ms`, firing every timer due on the way at its own time. */
  advance(ms: number): void {
    const target = this.at + ms;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const timer of this.timers) if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      if (!next) break;
      this.timers.delete(next);
      this.at = Math.max(this.at, next.at);
      next.fn();
    }
    this.at = target;
  }

  /** Resolves when the next timer is armed: for a loop that re-arms once its work is done. */
  nextTimer(): Promise<void> {
    return new Promise((resolve) => this.armedWaiters.push(resolve));
  }

  /**
   * Advances by `ms` and waits until some timer is armed again, as the scheduler does at the end
   * of the pass the advance started: one call, one tick of work done.
   */
  async tick(ms: number): Promise<void> {
    const armed = this.nextTimer();
    this.advance(ms);
    await armed;
  }
}

import type { Logger } from '../../logger.js';
import type { Clock } from '../../shared/clock.js';
import type { RunSystem } from '../runs/runSystem.js';
import type { DeliveryStore, InFlightScope } from '../store/deliveryStore.js';
import { storeErrorFields } from '../store/storeError.js';
import { runsFields } from '../runs/runFields.js';

export interface DeliveryWorkerOptions {
  store: DeliveryStore;
  runs: RunSystem;
  clock: Clock;
  logger: Logger;
  instanceId: string;
  /** Attempts this instance sends at once; it claims no more while that many are in flight. */
  maxInFlight?: number;
  /** The longest it goes without looking for due attempts (another instance may have scheduled them). */
  pollMs?: number;
}

/** Claimed per statement: enough to keep up with a burst, few enough to share with other instances. */
const CLAIM_BATCH = 100;

/**
 * Sends the webhook attempts that are due (SPEC.md, 'Delivery'). They wait in the database, not
 * in timers per execution: this instance keeps one timer, set for the next attempt due (as the
 * database or its own runs tell it) or `pollMs` ahead, whichever comes first, and claims due
 * attempts in batches when it fires. A claimed attempt is this instance's alone; one cut off by
 * a stopped instance is counted failed by the heartbeat sweep (`interrupt`).
 */
export class DeliveryWorker {
  private readonly maxInFlight: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private inFlight = 0;
  private polling: Promise<void> | null = null;
  /** The timer fired while a poll was going on: poll again once it ends. */
  private repoll = false;
  /** The last claim filled its batch: more may be due as soon as there is room. */
  private backlog = false;
  private stopped = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.maxInFlight = options.maxInFlight ?? 256;
    this.pollMs = options.pollMs ?? 1000;
  }

  start(): void {
    this.options.runs.onRetrying = (at) => this.wake(at);
    this.schedule(this.options.clock.now().getTime());
  }

  /** Makes sure the timer fires by `at` (an attempt this instance just scheduled). */
  wake(at: Date): void {
    this.schedule(at.getTime());
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.poll(), Math.max(0, at - this.options.clock.now().getTime()));
    this.timer.unref();
  }

  /** Claims and sends what is due, then sets the timer for what comes next. */
  private poll(): Promise<void> {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.polling) {
      this.repoll = true;
      return this.polling;
    }
    this.polling = this.claimAndSend().finally(() => {
      this.polling = null;
      if (this.repoll) {
        this.repoll = false;
        this.schedule(this.options.clock.now().getTime());
      }
    });
    return this.polling;
  }

  private async claimAndSend(): Promise<void> {
    const { store, runs, clock, logger, instanceId } = this.options;
    let next = clock.now().getTime() + this.pollMs;
    try {
      this.backlog = false;
      const room = Math.min(CLAIM_BATCH, this.maxInFlight - this.inFlight);
      // Full: the attempts in flight call for the next claim as they finish (sent()).
      if (room <= 0) this.backlog = true;
      else if (!this.stopped) {
        const held = await store.claimDue(clock.now(), instanceId, room);
        if (this.stopped) {
          // Stopping: what was claimed just now is given back unsent, for the next instance.
          await store.release(
            held.map((h) => h.execution.id),
            instanceId,
          );
          return;
        }
        this.backlog = held.length === room;
        for (const attempt of held) {
          this.inFlight++;
          void runs.sendAttempt(attempt).finally(() => this.sent());
        }
      }
      if (this.backlog) next = clock.now().getTime();
      else {
        const due = await store.nextDue();
        if (due) next = Math.min(next, due.getTime());
      }
    } catch (error) {
      logger.warn({ ...storeErrorFields(error) }, 'could not claim due webhook attempts; trying again shortly');
    }
    if (!this.backlog || this.inFlight < this.maxInFlight) this.schedule(next);
  }

  private sent(): void {
    this.inFlight--;
    if (this.backlog && this.inFlight <= this.maxInFlight / 2) this.schedule(this.options.clock.now().getTime());
  }

  /** Counts the attempts in `scope` that a stopped process cut off as failed (see RunSystem.interruptAttempt). */
  async interrupt(scope: InFlightScope): Promise<void> {
    const { store, runs, logger } = this.options;
    const held = await store.inFlight(scope);
    for (const attempt of held) await runs.interruptAttempt(attempt);
    if (held.length > 0) logger.warn(runsFields(held.map((h) => h.execution)), 'webhook attempts cut off by a stopped instance were counted as failed');
  }

  /** Claims nothing more (a claim under way is given back); attempts in flight finish with the runs (RunSystem.drain). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }
}

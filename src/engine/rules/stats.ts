import type { Logger } from '../../logger.js';
import type { Clock, Timer } from '../../shared/clock.js';
import type { RuleStatsStore } from '../store/ruleStatsStore.js';

export interface RuleStats {
  matched: number;
  ran: number;
  held: number;
  failed: number;
}

export type StatName = keyof RuleStats;

const STAT_NAMES: readonly StatName[] = ['matched', 'ran', 'held', 'failed'];

const zero = (): RuleStats => ({ matched: 0, ran: 0, held: 0, failed: 0 });

/**
 * Rule.stats: counted in memory on the hot path and added to the rule_stats row every few
 * seconds (and at stop), so every instance's counts sum up without a write per event. Reads add
 * this instance's counts not yet written.
 */
export class RuleStatsCounter {
  private pending = new Map<string, RuleStats>();
  private timer: Timer | undefined;
  private stopped = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RuleStatsStore,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  add(ruleId: string, name: StatName, count = 1) {
    let stats = this.pending.get(ruleId);
    if (!stats) {
      stats = zero();
      this.pending.set(ruleId, stats);
    }
    stats[name] += count;
  }

  /** Flushes `intervalMs` of the clock after start, then that long after each flush ends. */
  start(intervalMs: number) {
    this.timer = this.clock.setTimer(async () => {
      await this.flush();
      if (!this.stopped) this.start(intervalMs);
    }, intervalMs);
  }

  /** Adds what was counted since the last flush to the stored rows; counts survive a failed write. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.store.add([...batch].map(([ruleId, s]) => ({ ruleId, ...s })));
      } catch (error) {
        for (const [ruleId, s] of batch) for (const name of STAT_NAMES) this.add(ruleId, name, s[name]);
        this.logger.warn({ err: error }, 'could not write rule counters; they are kept for the next try');
      }
    });
    return this.flushing;
  }

  /**
   * Stored counts plus this instance's unwritten ones. Taken in turn with the flushes: while a
   * flush is writing, its batch is neither pending nor (yet) stored, and would be missed.
   */
  read(ruleIds: readonly string[]): Promise<Map<string, RuleStats>> {
    const reading = this.flushing.then(() => this.readNow(ruleIds));
    this.flushing = reading.then(
      () => undefined,
      () => undefined,
    );
    return reading;
  }

  private async readNow(ruleIds: readonly string[]): Promise<Map<string, RuleStats>> {
    const result = new Map<string, RuleStats>(ruleIds.map((id) => [id, zero()]));
    if (ruleIds.length === 0) return result;
    for (const row of await this.store.read(ruleIds)) {
      const stats = result.get(row.ruleId);
      if (stats) for (const name of STAT_NAMES) stats[name] += row[name];
    }
    for (const id of ruleIds) {
      const local = this.pending.get(id);
      const stats = result.get(id);
      if (local && stats) for (const name of STAT_NAMES) stats[name] += local[name];
    }
    return result;
  }

  async stop() {
    this.stopped = true;
    this.timer?.cancel();
    await this.flush();
  }
}

/**
 * Absence form (SPEC.md "Windows, sequences, absence"): fires when an `after` event is not
 * followed by an `expect` event for the same key within `within` seconds.
 *
 * - Each `after` event starts its own timer, due at its event time + within (the deadline,
 *   in event time). The timer fires once the rule's event clock reaches the deadline: by
 *   the wall clock (onTime, or found due at the start of onEvent) or by a newer event's time.
 * - An `expect` event cancels every pending timer of its key (an expect must come before
 *   the deadline: one at the deadline itself finds the timer already fired).
 * - An event meeting both: due timers fire first, then the expect cancels, then the after
 *   starts a new timer.
 * - An `after` event whose deadline the clock has already reached is dropped and counted late.
 * - Only `after` and `expect` events move the event clock.
 */
import { compilePredicate, type CompiledPredicate } from '../rules/conditions/index.js';
import type { AbsenceSpec } from '../rules/spec/types.js';
import {
  compileKeyReader,
  compileTimeReader,
  EventClock,
  iso,
  maxGroupsOf,
  MinHeap,
  type Firing,
  type KeyReader,
  type StreamOptions,
  type StreamProcessor,
  type StreamStats,
  type TimeReader,
} from './common.js';

interface KeyTimers {
  id: unknown;
  key: Record<string, unknown>;
  timers: Timer[];
  live: number;
}

interface Timer {
  /** Deadline (event time). */
  hk: number;
  seq: number;
  t: number;
  event: Record<string, unknown>;
  owner: KeyTimers;
  live: boolean;
}

const isDead = (timer: Timer): boolean => !timer.live;

class AbsenceProcessor implements StreamProcessor {
  private readonly after: CompiledPredicate;
  private readonly expect: CompiledPredicate;
  private readonly withinMs: number;
  private readonly time: TimeReader;
  private readonly keyReader: KeyReader;
  private readonly clock = new EventClock();
  private readonly maxTimers: number;
  private readonly keys = new Map<unknown, KeyTimers>();
  private readonly heap = new MinHeap<Timer>();
  /** Timers in creation order (eviction order); dead ones skipped, compacted now and then. */
  private order: Timer[] = [];
  private orderHead = 0;
  private live = 0;
  private late = 0;
  private evicted = 0;

  constructor(
    private readonly spec: AbsenceSpec,
    options: StreamOptions,
  ) {
    this.after = compilePredicate(spec.absence.after);
    this.expect = compilePredicate(spec.absence.expect);
    this.withinMs = spec.absence.within * 1000;
    this.time = compileTimeReader(spec.timeField);
    this.keyReader = compileKeyReader(spec.absence.by);
    this.maxTimers = maxGroupsOf(options);
  }

  onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[] {
    const out: Firing[] = [];
    if (this.clock.advanceWall(arrivalMs)) this.fireDue(out, 'time');
    const isExpect = this.expect(event);
    const isAfter = this.after(event);
    if (!isExpect && !isAfter) return out;
    const t = this.time(event, arrivalMs);
    this.clock.observe(t, arrivalMs);
    this.fireDue(out, 'event');
    const id = this.keyReader.id(event);
    if (isExpect) {
      const k = this.keys.get(id);
      if (k !== undefined) {
        for (const timer of k.timers) {
          if (timer.live) {
            timer.live = false;
            this.live--;
          }
        }
        this.keys.delete(id);
        this.compact();
      }
    }
    if (isAfter) {
      const deadline = t + this.withinMs;
      if (deadline <= this.clock.now) {
        this.late++;
        return out;
      }
      if (this.live >= this.maxTimers) this.evictOldest();
      let k = this.keys.get(id);
      if (k === undefined) {
        k = { id, key: this.keyReader.describe(event), timers: [], live: 0 };
        this.keys.set(id, k);
      }
      const timer: Timer = { hk: deadline, seq: this.heap.seq(), t, event, owner: k, live: true };
      k.timers.push(timer);
      k.live++;
      if (k.timers.length > 2 * k.live + 8) k.timers = k.timers.filter((x) => x.live);
      this.live++;
      this.heap.push(timer);
      this.order.push(timer);
    }
    return out;
  }

  onTime(nowMs: number): Firing[] {
    const out: Firing[] = [];
    if (this.clock.advanceWall(nowMs)) this.fireDue(out, 'time');
    return out;
  }

  nextDeadline(): number | null {
    const top = this.heap.peekLive(isDead);
    return top === undefined ? null : this.clock.wallFor(top.hk);
  }

  stats(): StreamStats {
    return { dropped: { late: this.late, evicted: this.evicted }, groups: this.live };
  }

  private fireDue(out: Firing[], cause: 'event' | 'time'): void {
    const now = this.clock.now;
    for (let top = this.heap.popDue(now, isDead); top !== undefined; top = this.heap.popDue(now, isDead)) {
      this.kill(top);
      const deadline = iso(top.hk);
      const key = top.owner.key;
      out.push({
        payload: { key, after: top.event, deadline },
        references: {
          absence: { key, afterEventTime: iso(top.t), deadline, withinSeconds: this.spec.absence.within },
        },
        throttleKeySource: key,
        cause,
      });
    }
    this.compact();
  }

  private kill(timer: Timer): void {
    timer.live = false;
    this.live--;
    const k = timer.owner;
    if (--k.live === 0 && this.keys.get(k.id) === k) this.keys.delete(k.id);
  }

  private evictOldest(): void {
    while (this.orderHead < this.order.length) {
      const timer = this.order[this.orderHead++] as Timer;
      if (timer.live) {
        this.kill(timer);
        this.evicted++;
        break;
      }
    }
    this.compact();
  }

  /** Drops dead timers from the eviction order and the heap once they dominate. */
  private compact(): void {
    if (this.orderHead > 64 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.order.length - this.orderHead > 2 * this.live + 64) {
      this.order = this.order.slice(this.orderHead).filter((x) => x.live);
      this.orderHead = 0;
    }
    if (this.heap.size > 2 * this.live + 64) this.heap.filter((x) => x.live);
  }
}

export function createAbsenceProcessor(spec: AbsenceSpec, options: StreamOptions): StreamProcessor {
  return new AbsenceProcessor(spec, options);
}

/**
 * Sequence form (SPEC.md "Windows, sequences, absence"): fires when events meeting each
 * step arrive in that order for the same key within `within` seconds of the first.
 *
 * - Order is arrival order (the order of onEvent calls); `within` is measured in event time.
 * - Skip till next match: events meeting no expected step are passed over.
 * - One partial match per key, started by the earliest unconsumed first-step event. A
 *   first-step event that arrives while the key's partial match is in progress (and does not
 *   advance it) waits; when that partial match completes or expires, the earliest waiting one
 *   (still within `within`) starts the next partial match, with only itself matched.
 * - An event advances at most one step; advancing takes precedence over waiting.
 * - A match consumes its events. A partial match expires once the rule's event clock is more
 *   than `within` past its first event; it is dropped and the next waiting first-step event
 *   (or the next one to come) starts a new one.
 * - Only events meeting some step move the event clock.
 */
import { compilePredicate, type CompiledPredicate } from '../rules/conditions/index.js';
import type { SequenceSpec } from '../rules/spec/types.js';
import {
  compileKeyReader,
  compileTimeReader,
  EventClock,
  evictOldest,
  iso,
  maxGroupsOf,
  type Firing,
  type KeyReader,
  type StreamOptions,
  type StreamProcessor,
  type StreamStats,
  type TimeReader,
} from './common.js';

interface Waiting {
  event: Record<string, unknown>;
  t: number;
}

interface Partial {
  events: Record<string, unknown>[];
  first: number;
  last: number;
}

interface KeyState {
  ref: boolean;
  id: unknown;
  key: Record<string, unknown>;
  partial: Partial | null;
  waiting: Waiting[];
}

class SequenceProcessor implements StreamProcessor {
  private readonly steps: CompiledPredicate[];
  private readonly withinMs: number;
  private readonly time: TimeReader;
  private readonly keyReader: KeyReader;
  private readonly clock = new EventClock();
  private readonly maxUnits: number;
  private readonly keys = new Map<unknown, KeyState>();
  /** Partial matches plus waiting first-step events held, over every key. */
  private units = 0;
  private evicted = 0;
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly spec: SequenceSpec,
    options: StreamOptions,
  ) {
    this.steps = spec.sequence.map((c) => compilePredicate(c));
    this.withinMs = spec.within * 1000;
    this.time = compileTimeReader(spec.timeField);
    this.keyReader = compileKeyReader(spec.by);
    this.maxUnits = maxGroupsOf(options);
  }

  onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[] {
    this.clock.advanceWall(arrivalMs);
    const steps = this.steps;
    const isFirst = (steps[0] as CompiledPredicate)(event);
    if (!isFirst && !this.meetsLaterStep(event)) return [];
    const t = this.time(event, arrivalMs);
    this.clock.observe(t, arrivalMs);
    const now = this.clock.now;
    if (now - this.sweptAt >= this.withinMs) this.sweep();

    const id = this.keyReader.id(event);
    let s = this.keys.get(id);
    if (s !== undefined) {
      s.ref = true;
      this.expire(s, now);
      const p = s.partial;
      if (p !== null && (steps[p.events.length] as CompiledPredicate)(event)) {
        p.events.push(event);
        if (t > p.last) p.last = t;
        if (p.events.length < steps.length) return [];
        // Complete: the match consumes its events.
        s.partial = null;
        this.units--;
        this.promote(s, now);
        if (s.partial === null && this.keys.get(id) === s) this.keys.delete(id);
        return [this.firing(s.key, p)];
      }
    }
    if (!isFirst) return [];
    if (s === undefined) {
      this.makeRoom(undefined);
      s = { ref: false, id, key: this.keyReader.describe(event), partial: null, waiting: [] };
      this.keys.set(id, s);
    } else if (!this.makeRoom(s)) {
      return [];
    }
    if (s.partial === null) s.partial = { events: [event], first: t, last: t };
    else s.waiting.push({ event, t });
    this.units++;
    return [];
  }

  /** Sequences fire on events only; time passing just frees expired partial matches. */
  onTime(nowMs: number): Firing[] {
    this.clock.advanceWall(nowMs);
    if (this.clock.now - this.sweptAt >= this.withinMs) this.sweep();
    return [];
  }

  nextDeadline(): number | null {
    return null;
  }

  stats(): StreamStats {
    return { dropped: { late: 0, evicted: this.evicted }, groups: this.keys.size };
  }

  /** Whether the event meets some step after the first. */
  private meetsLaterStep(event: Record<string, unknown>): boolean {
    const steps = this.steps;
    for (let i = 1; i < steps.length; i++) {
      if ((steps[i] as CompiledPredicate)(event)) return true;
    }
    return false;
  }

  private firing(key: Record<string, unknown>, p: Partial): Firing {
    return {
      payload: { key, events: p.events },
      references: {
        sequence: {
          key,
          steps: p.events.length,
          firstEventTime: iso(p.first),
          lastEventTime: iso(p.last),
          withinSeconds: this.spec.within,
        },
      },
      throttleKeySource: key,
      cause: 'event',
    };
  }

  /** Drops the partial match when the clock is past its first event + within. */
  private expire(s: KeyState, now: number): void {
    const p = s.partial;
    if (p !== null && now - p.first > this.withinMs) {
      s.partial = null;
      this.units--;
      this.promote(s, now);
    }
  }

  /** The earliest waiting first-step event still within `within` starts the next partial match. */
  private promote(s: KeyState, now: number): void {
    while (s.partial === null && s.waiting.length > 0) {
      const w = s.waiting.shift() as Waiting;
      if (now - w.t > this.withinMs) {
        this.units--;
        continue;
      }
      s.partial = { events: [w.event], first: w.t, last: w.t };
      // The unit moves from waiting to partial.
    }
  }

  /**
   * Makes room for one more unit. Evicts other keys (oldest first, second chance) and, when
   * `s` holds everything, its oldest waiting event. False when nothing could be freed.
   */
  private makeRoom(s: KeyState | undefined): boolean {
    if (this.units < this.maxUnits) return true;
    if (this.clock.now > this.sweptAt) this.sweep();
    while (this.units >= this.maxUnits) {
      const victim = evictOldest(this.keys, s);
      if (victim !== undefined) {
        const held = (victim[1].partial === null ? 0 : 1) + victim[1].waiting.length;
        this.units -= held;
        this.evicted += held;
        continue;
      }
      if (s !== undefined && s.waiting.length > 0) {
        s.waiting.shift();
        this.units--;
        this.evicted++;
        continue;
      }
      this.evicted++;
      return false;
    }
    return true;
  }

  /** Expires partial matches and waiting events of every key; forgets keys left empty. */
  private sweep(): void {
    const now = this.clock.now;
    this.sweptAt = now;
    for (const [id, s] of this.keys) {
      this.expire(s, now);
      if (s.partial === null) this.promote(s, now);
      if (s.partial === null && s.waiting.length === 0) this.keys.delete(id);
    }
  }
}

export function createSequenceProcessor(spec: SequenceSpec, options: StreamOptions): StreamProcessor {
  return new SequenceProcessor(spec, options);
}

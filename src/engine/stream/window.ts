/**
 * Window form (SPEC.md "Windows, sequences, absence"): tumbling, sliding and session
 * windows over event time, per group, with an aggregate compared to a threshold.
 *
 * Time (see docs/stream-forms.md):
 * - Event time is `timeField` (ISO 8601 or epoch ms) or, missing / unparsable / absent, the
 *   arrival time. Only events the window takes in (filter met, aggregated field present)
 *   move the rule's event clock (common.ts EventClock): the highest event time seen, moved
 *   forward by the wall clock while no newer event comes.
 * - Watermark W = clock - allowedLatenessSeconds. A tumbling window [start, end) or a session
 *   [first, last + gap) closes once W >= its end, by an event or by the wall clock (onTime).
 *   An event whose window is already closed is dropped and counted late.
 * - Sliding: each event taken in is evaluated over the window (W - size, W]; events newer than
 *   W (possible only with lateness) wait until W reaches them; an event at or before W - size
 *   is dropped and counted late.
 */
import { compilePath, compilePredicate, MISSING, readCompiled, toFiniteNumber, type CompiledPath, type CompiledPredicate } from '../rules/conditions/index.js';
import type { WindowSpec } from '../rules/spec/types.js';
import {
  Accumulator,
  compileComparison,
  fnCode,
  FN_AVG,
  FN_COUNT,
  FN_MAX,
  FN_MIN,
  FN_PERCENTILE,
  FN_STD,
  FN_SUM,
  nearestRankIndex,
  type Comparison,
} from './aggregates.js';
import {
  compileKeyReader,
  compileTimeReader,
  EventClock,
  evictOldest,
  iso,
  maxGroupsOf,
  MinHeap,
  type Firing,
  type HeapItem,
  type KeyReader,
  type StreamOptions,
  type StreamProcessor,
  type StreamStats,
  type TimeReader,
} from './common.js';

/** Shared parts of the three window types; `G` is the state kept per group. */
abstract class WindowBase<G> implements StreamProcessor {
  protected readonly filter: CompiledPredicate | null;
  protected readonly field: CompiledPath | null;
  protected readonly fn: number;
  protected readonly percentile: number;
  protected readonly meets: Comparison;
  protected readonly time: TimeReader;
  protected readonly key: KeyReader;
  protected readonly clock = new EventClock();
  protected readonly latenessMs: number;
  protected readonly maxGroups: number;
  protected readonly groups = new Map<unknown, G>();
  protected late = 0;
  protected evicted = 0;

  constructor(
    protected readonly spec: WindowSpec,
    options: StreamOptions,
  ) {
    this.filter = spec.filter === undefined ? null : compilePredicate(spec.filter);
    this.field = spec.aggregate.field === undefined ? null : compilePath(spec.aggregate.field);
    this.fn = fnCode(spec.aggregate.fn);
    this.percentile = spec.aggregate.percentile ?? 50;
    this.meets = compileComparison(spec.op, spec.value);
    this.time = compileTimeReader(spec.timeField);
    this.key = compileKeyReader(spec.groupBy);
    this.latenessMs = spec.allowedLatenessSeconds * 1000;
    this.maxGroups = maxGroupsOf(options);
  }

  /** Watermark: the event clock minus the allowed lateness. */
  protected get watermark(): number {
    return this.clock.now - this.latenessMs;
  }

  stats(): StreamStats {
    return { dropped: { late: this.late, evicted: this.evicted }, groups: this.groups.size };
  }

  /**
   * The number to aggregate, or NaN when the event is skipped (filter not met, field
   * missing or null, or, for every fn but count, not a finite number or numeric string).
   */
  protected take(event: Record<string, unknown>): number {
    if (this.filter !== null && !this.filter(event)) return NaN;
    if (this.field === null) return 0;
    const v = readCompiled(event, this.field);
    if (v === MISSING || v === null) return NaN;
    return this.fn === FN_COUNT ? 0 : toFiniteNumber(v);
  }

  protected firing(group: Record<string, unknown>, value: number | null, count: number, start: number, end: number, cause: 'event' | 'time'): Firing {
    const windowStart = iso(start);
    const windowEnd = iso(end);
    const agg = this.spec.aggregate;
    return {
      payload: { group, value, count, windowStart, windowEnd },
      references: {
        window: {
          type: this.spec.window.type,
          fn: agg.fn,
          ...(agg.field === undefined ? {} : { field: agg.field }),
          ...(agg.percentile === undefined ? {} : { percentile: agg.percentile }),
          op: this.spec.op,
          threshold: this.spec.value,
          group,
          value,
          count,
          windowStart,
          windowEnd,
        },
      },
      throttleKeySource: group,
      cause,
    };
  }

  abstract onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[];
  abstract onTime(nowMs: number): Firing[];
  abstract nextDeadline(): number | null;
}

// ---------------------------------------------------------------------------
// Tumbling and session: closed windows, found due through a heap keyed by their end

/** A tumbling window [start, end), or a session [first event, last event + gap): its end grows with the events it takes in. */
class ClosingWindow extends Accumulator implements HeapItem {
  /** Heap key: the end the window was scheduled with (a session's end may have grown since). */
  hk: number;
  closed = false;
  constructor(
    public start: number,
    public end: number,
    readonly owner: ClosingGroup,
    keepValues: boolean,
    readonly seq: number,
  ) {
    super(keepValues);
    this.hk = end;
  }
}

const isClosed = (w: ClosingWindow): boolean => w.closed;

interface ClosingGroup {
  ref: boolean;
  id: unknown;
  group: Record<string, unknown>;
  /**
   * Open windows. Tumbling: usually one (more with lateness and out-of-order events);
   * session: in time order, each more than the gap apart.
   */
  windows: ClosingWindow[];
}

/** Tumbling and session windows: each closes once the watermark reaches its end. */
abstract class ClosingProcessor extends WindowBase<ClosingGroup> {
  private readonly heap = new MinHeap<ClosingWindow>();

  onTime(nowMs: number): Firing[] {
    const out: Firing[] = [];
    if (this.clock.advanceWall(nowMs)) this.closeDue(out, 'time');
    return out;
  }

  onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[] {
    const out = this.onTime(arrivalMs);
    const x = this.take(event);
    // NaN (filtered out, or no usable value) places nothing.
    if (!Number.isNaN(x)) this.place(event, x, this.time(event, arrivalMs), arrivalMs, out);
    return out;
  }

  /** Puts an event's value `x` (event time `t`) into its group's window, closing what it makes due. */
  protected abstract place(event: Record<string, unknown>, x: number, t: number, arrivalMs: number, out: Firing[]): void;

  nextDeadline(): number | null {
    for (;;) {
      const top = this.heap.peekLive(isClosed);
      if (top === undefined) return null;
      if (top.end <= top.hk) return this.clock.wallFor(top.end + this.latenessMs);
      this.heap.pop();
      this.reschedule(top);
    }
  }

  /** Closes the windows the watermark has reached, firing those whose aggregate meets the threshold. */
  protected closeDue(out: Firing[], cause: 'event' | 'time'): void {
    const w = this.watermark;
    for (let top = this.heap.popDue(w, isClosed); top !== undefined; top = this.heap.popDue(w, isClosed)) {
      if (top.end > top.hk) this.reschedule(top);
      else this.close(top, out, cause);
    }
  }

  /** The event's group: `found`, or a new one (evicting the oldest when full). */
  protected admit(id: unknown, found: ClosingGroup | undefined, event: Record<string, unknown>): ClosingGroup {
    if (found !== undefined) {
      found.ref = true;
      return found;
    }
    if (this.groups.size >= this.maxGroups) this.evictOne();
    const g: ClosingGroup = { ref: false, id, group: this.key.describe(event), windows: [] };
    this.groups.set(id, g);
    return g;
  }

  /** Opens a window at index `at` of the group's windows and schedules its close. */
  protected open(g: ClosingGroup, start: number, end: number, at: number): ClosingWindow {
    const w = new ClosingWindow(start, end, g, this.fn === FN_PERCENTILE, this.heap.seq());
    g.windows.splice(at, 0, w);
    this.heap.push(w);
    return w;
  }

  /** A window extended since it was scheduled: schedule it again at its current end. */
  private reschedule(w: ClosingWindow): void {
    w.hk = w.end;
    this.heap.push(w);
  }

  private close(w: ClosingWindow, out: Firing[], cause: 'event' | 'time'): void {
    w.closed = true;
    const g = w.owner;
    const i = g.windows.indexOf(w);
    if (i >= 0) g.windows.splice(i, 1);
    if (g.windows.length === 0 && this.groups.get(g.id) === g) this.groups.delete(g.id);
    const value = w.value(this.fn, this.percentile);
    if (this.meets(value)) out.push(this.firing(g.group, value, w.count, w.start, w.end, cause));
  }

  private evictOne(): void {
    const victim = evictOldest(this.groups);
    if (victim === undefined) return;
    for (const w of victim[1].windows) w.closed = true;
    this.evicted++;
    if (this.heap.size > 4 * (this.groups.size + 16)) this.heap.filter((w) => !w.closed);
  }
}

class TumblingProcessor extends ClosingProcessor {
  private readonly sizeMs: number;

  constructor(spec: WindowSpec, options: StreamOptions) {
    super(spec, options);
    // Validation requires sizeSeconds of tumbling and sliding windows.
    this.sizeMs = (spec.window.sizeSeconds as number) * 1000;
  }

  protected place(event: Record<string, unknown>, x: number, t: number, arrivalMs: number, out: Firing[]): void {
    const start = Math.floor(t / this.sizeMs) * this.sizeMs;
    const end = start + this.sizeMs;
    if (end <= this.watermark) {
      this.late++;
      return;
    }
    // Close what this event's time closes first (never its own window: W <= t < end), so
    // the groups closed are gone before a new group may need room.
    this.clock.observe(t, arrivalMs);
    this.closeDue(out, 'event');
    const id = this.key.id(event);
    const g = this.admit(id, this.groups.get(id), event);
    const w = windowStartingAt(g, start) ?? this.open(g, start, end, g.windows.length);
    w.add(x);
  }
}

function windowStartingAt(g: ClosingGroup, start: number): ClosingWindow | undefined {
  for (const w of g.windows) {
    if (w.start === start) return w;
  }
  return undefined;
}

class SessionProcessor extends ClosingProcessor {
  private readonly gapMs: number;

  constructor(spec: WindowSpec, options: StreamOptions) {
    super(spec, options);
    // Validation requires gapSeconds of session windows.
    this.gapMs = (spec.window.gapSeconds as number) * 1000;
  }

  protected place(event: Record<string, unknown>, x: number, t: number, arrivalMs: number, out: Firing[]): void {
    // A newer time closes sessions ending at or before t - lateness: never one this event
    // could join (their ends are after t). An older time does not move the watermark.
    this.clock.observe(t, arrivalMs);
    this.closeDue(out, 'event');
    const id = this.key.id(event);
    const found = this.groups.get(id);
    // Open sessions this event falls within the gap of (at most two: it may bridge them).
    let join: ClosingWindow | undefined;
    let join2: ClosingWindow | undefined;
    if (found !== undefined) {
      for (const s of found.windows) {
        if (t < s.end && t > s.start - this.gapMs) {
          if (join === undefined) join = s;
          else join2 = s;
        }
      }
    }
    if (join === undefined) {
      if (t + this.gapMs <= this.watermark) {
        this.late++;
        return;
      }
      this.startSession(this.admit(id, found, event), t, x);
    } else {
      this.admit(id, found, event);
      if (join2 !== undefined) mergeSessions(join, join2);
      this.extend(join, t, x);
    }
  }

  private startSession(g: ClosingGroup, t: number, x: number): void {
    const sessions = g.windows;
    let i = sessions.length;
    while (i > 0 && (sessions[i - 1] as ClosingWindow).start > t) i--;
    this.open(g, t, t + this.gapMs, i).add(x);
  }

  private extend(s: ClosingWindow, t: number, x: number): void {
    s.add(x);
    if (t < s.start) s.start = t;
    const end = t + this.gapMs;
    if (end > s.end) s.end = end;
  }
}

/** The event bridges two sessions: the later one merges into the earlier. */
function mergeSessions(earlier: ClosingWindow, later: ClosingWindow): void {
  earlier.merge(later);
  if (later.start < earlier.start) earlier.start = later.start;
  if (later.end > earlier.end) earlier.end = later.end;
  later.closed = true;
  const sessions = earlier.owner.windows;
  sessions.splice(sessions.indexOf(later), 1);
}

// ---------------------------------------------------------------------------
// Sliding: per group, a time-ordered ring buffer of (time, value) with running aggregates

const INITIAL_CAPACITY = 4;

/**
 * Positions are absolute counters; the slot of position p is p & mask. The buffer holds
 * [head, tail) in time order; [head, enter) is in the window (added to the aggregates),
 * [enter, tail) waits for the watermark (only with allowedLatenessSeconds > 0).
 */
class SlidingGroup {
  ref = false;
  armed = true;
  /** Interleaved time, value. */
  buf: Float64Array;
  mask: number;
  head = 0;
  enter = 0;
  tail = 0;
  sum = 0;
  mean = 0;
  m2 = 0;
  /** min / max: monotonic deque of positions over [head, enter); rebuilt when `dqDirty`. */
  dq: Float64Array | null;
  dqHead = 0;
  dqTail = 0;
  dqDirty = false;
  /** percentile: the values in the window, sorted. */
  sorted: Float64Array | null;
  sortedLen = 0;

  constructor(
    readonly group: Record<string, unknown>,
    readonly fn: number,
  ) {
    this.buf = new Float64Array(INITIAL_CAPACITY * 2);
    this.mask = INITIAL_CAPACITY - 1;
    this.dq = fn === FN_MIN || fn === FN_MAX ? new Float64Array(INITIAL_CAPACITY) : null;
    this.sorted = fn === FN_PERCENTILE ? new Float64Array(INITIAL_CAPACITY) : null;
  }

  /** Events in the window: [head, enter). */
  get count(): number {
    return this.enter - this.head;
  }

  timeAt(pos: number): number {
    return this.buf[(pos & this.mask) * 2] as number;
  }

  valueAt(pos: number): number {
    return this.buf[(pos & this.mask) * 2 + 1] as number;
  }

  /** Time of the newest event held (-Infinity when empty). */
  lastTime(): number {
    return this.tail === this.head ? Number.NEGATIVE_INFINITY : this.timeAt(this.tail - 1);
  }

  private grow(): void {
    const cap = this.mask + 1;
    const next = cap * 2;
    const nmask = next - 1;
    const nbuf = new Float64Array(next * 2);
    const buf = this.buf;
    const mask = this.mask;
    for (let p = this.head; p < this.tail; p++) {
      const from = (p & mask) * 2;
      const to = (p & nmask) * 2;
      nbuf[to] = buf[from] as number;
      nbuf[to + 1] = buf[from + 1] as number;
    }
    this.buf = nbuf;
    if (this.dq !== null) {
      const ndq = new Float64Array(next);
      for (let i = this.dqHead; i < this.dqTail; i++) ndq[i & nmask] = this.dq[i & mask] as number;
      this.dq = ndq;
    }
    this.mask = nmask;
  }

  insert(t: number, x: number): void {
    if (this.tail - this.head > this.mask) this.grow();
    const buf = this.buf;
    const mask = this.mask;
    let p = this.tail;
    while (p > this.head && (buf[((p - 1) & mask) * 2] as number) > t) p--;
    if (p < this.tail) {
      // Out of order: shift the newer ones up by one.
      for (let q = this.tail; q > p; q--) {
        const to = (q & mask) * 2;
        const from = ((q - 1) & mask) * 2;
        buf[to] = buf[from] as number;
        buf[to + 1] = buf[from + 1] as number;
      }
    }
    const slot = (p & mask) * 2;
    buf[slot] = t;
    buf[slot + 1] = x;
    this.tail++;
    if (p < this.enter) {
      // Inside the window already (older than events in it): add now; positions moved.
      this.enter++;
      this.addValue(x);
      this.dqDirty = true;
    }
  }

  /** Moves the window to (lo, hi]. */
  advance(lo: number, hi: number): void {
    const dq = this.dq;
    while (this.enter < this.tail && this.timeAt(this.enter) <= hi) {
      const pos = this.enter++;
      this.addValue(this.valueAt(pos));
      if (dq !== null && !this.dqDirty) this.dqPush(pos);
    }
    while (this.head < this.enter && this.timeAt(this.head) <= lo) {
      const pos = this.head++;
      this.removeValue(this.valueAt(pos));
      if (dq !== null && !this.dqDirty && this.dqTail > this.dqHead && dq[this.dqHead & this.mask] === pos) this.dqHead++;
    }
    if (this.count === 0) {
      this.sum = 0;
      this.mean = 0;
      this.m2 = 0;
    }
  }

  /** Adds a value that has just entered the window (count already includes it). */
  private addValue(x: number): void {
    const n = this.count;
    switch (this.fn) {
      case FN_SUM:
      case FN_AVG:
        this.sum += x;
        break;
      case FN_STD: {
        const d = x - this.mean;
        this.mean += d / n;
        this.m2 += d * (x - this.mean);
        break;
      }
      case FN_PERCENTILE:
        this.sortedInsert(x);
        break;
      default:
        break;
    }
  }

  /** Removes a value that has just left the window (count already excludes it). */
  private removeValue(x: number): void {
    const n = this.count;
    switch (this.fn) {
      case FN_SUM:
      case FN_AVG:
        this.sum -= x;
        break;
      case FN_STD:
        if (n === 0) {
          this.mean = 0;
          this.m2 = 0;
        } else {
          const mean = this.mean + (this.mean - x) / n;
          this.m2 -= (x - this.mean) * (x - mean);
          this.mean = mean;
        }
        break;
      case FN_PERCENTILE:
        this.sortedRemove(x);
        break;
      default:
        break;
    }
  }

  private dqPush(pos: number): void {
    const dq = this.dq as Float64Array;
    const mask = this.mask;
    const v = this.valueAt(pos);
    if (this.fn === FN_MIN) {
      while (this.dqTail > this.dqHead && this.valueAt(dq[(this.dqTail - 1) & mask] as number) >= v) this.dqTail--;
    } else {
      while (this.dqTail > this.dqHead && this.valueAt(dq[(this.dqTail - 1) & mask] as number) <= v) this.dqTail--;
    }
    dq[this.dqTail & mask] = pos;
    this.dqTail++;
  }

  private sortedInsert(x: number): void {
    let s = this.sorted as Float64Array;
    const n = this.sortedLen;
    if (n === s.length) {
      const bigger = new Float64Array(s.length * 2);
      bigger.set(s);
      this.sorted = s = bigger;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((s[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    if (lo < n) s.copyWithin(lo + 1, lo, n);
    s[lo] = x;
    this.sortedLen = n + 1;
  }

  private sortedRemove(x: number): void {
    const s = this.sorted as Float64Array;
    const n = this.sortedLen;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((s[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= n) return;
    s.copyWithin(lo, lo + 1, n);
    this.sortedLen = n - 1;
  }

  /** The aggregate over [head, enter); null when empty, except count and sum. */
  value(percentile: number): number | null {
    const n = this.count;
    switch (this.fn) {
      case FN_COUNT:
        return n;
      case FN_SUM:
        return this.sum;
      case FN_AVG:
        return n === 0 ? null : this.sum / n;
      case FN_STD:
        return n === 0 ? null : Math.sqrt(this.m2 > 0 ? this.m2 / n : 0);
      case FN_PERCENTILE:
        return n === 0 ? null : ((this.sorted as Float64Array)[nearestRankIndex(n, percentile)] as number);
      default: {
        if (n === 0) return null;
        if (this.dqDirty) this.rebuildDeque();
        return this.valueAt((this.dq as Float64Array)[this.dqHead & this.mask] as number);
      }
    }
  }

  private rebuildDeque(): void {
    this.dqDirty = false;
    this.dqHead = 0;
    this.dqTail = 0;
    for (let p = this.head; p < this.enter; p++) this.dqPush(p);
  }
}

class SlidingProcessor extends WindowBase<SlidingGroup> {
  private readonly sizeMs: number;
  /** Watermark at the last sweep of emptied groups. */
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(spec: WindowSpec, options: StreamOptions) {
    super(spec, options);
    // Validation requires sizeSeconds of tumbling and sliding windows.
    this.sizeMs = (spec.window.sizeSeconds as number) * 1000;
  }

  onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[] {
    this.clock.advanceWall(arrivalMs);
    const x = this.take(event);
    if (Number.isNaN(x)) return [];
    const t = this.time(event, arrivalMs);
    if (t <= this.watermark - this.sizeMs) {
      this.late++;
      return [];
    }
    this.clock.observe(t, arrivalMs);
    const hi = this.watermark;
    const lo = hi - this.sizeMs;
    if (hi - this.sweptAt >= this.sizeMs) this.sweep();
    const id = this.key.id(event);
    let g = this.groups.get(id);
    if (g === undefined) {
      if (this.groups.size >= this.maxGroups) {
        if (hi > this.sweptAt) this.sweep();
        if (this.groups.size >= this.maxGroups && evictOldest(this.groups) !== undefined) this.evicted++;
      }
      g = new SlidingGroup(this.key.describe(event), this.fn);
      this.groups.set(id, g);
    } else {
      g.ref = true;
      // Emptied but not swept yet: same as a new group (so sweep timing never matters).
      if (g.lastTime() <= lo) g.armed = true;
    }
    g.insert(t, x);
    g.advance(lo, hi);
    const value = g.value(this.percentile);
    if (this.meets(value)) {
      if (g.armed) {
        g.armed = false;
        return [this.firing(g.group, value, g.count, lo, hi, 'event')];
      }
    } else {
      g.armed = true;
    }
    return [];
  }

  /** Sliding windows fire on events only; time passing just frees emptied groups. */
  onTime(nowMs: number): Firing[] {
    this.clock.advanceWall(nowMs);
    if (this.watermark - this.sweptAt >= this.sizeMs) this.sweep();
    return [];
  }

  nextDeadline(): number | null {
    return null;
  }

  /**
   * Forgets groups whose newest event has left the window: their next event starts them
   * afresh (armed). Runs at most once per window length of watermark progress, and when
   * the group bound is reached.
   */
  private sweep(): void {
    const w = this.watermark;
    this.sweptAt = w;
    const lo = w - this.sizeMs;
    for (const [id, g] of this.groups) {
      if (g.lastTime() <= lo) this.groups.delete(id);
    }
  }
}

export function createWindowProcessor(spec: WindowSpec, options: StreamOptions): StreamProcessor {
  switch (spec.window.type) {
    case 'tumbling':
      return new TumblingProcessor(spec, options);
    case 'sliding':
      return new SlidingProcessor(spec, options);
    case 'session':
      return new SessionProcessor(spec, options);
  }
}

/**
 * Shared pieces of the stream processors (SPEC.md "Windows, sequences,
 * absence"): the public types, event-time reading, group / key reading, the
 * per-rule event clock, a small binary heap and CLOCK (second-chance) eviction.
 *
 * Everything here is pure and in memory; time only comes in through the
 * `arrivalMs` / `nowMs` arguments (the injected clock).
 */
import { compilePath, MISSING, readCompiled, type CompiledPath } from '../rules/conditions/index.js';

/** What a processor answers when a stream rule fires. */
export interface Firing {
  /**
   * The action payload (SPEC.md): window `{group, value, count, windowStart, windowEnd}`,
   * sequence `{key, events}`, absence `{key, after, deadline}`; times as ISO 8601.
   */
  payload: Record<string, unknown>;
  /**
   * The value of the execution's `references.trigger`: `{window: {...}}`,
   * `{sequence: {...}}` or `{absence: {...}}` with the values that fired.
   */
  references: Record<string, unknown>;
  /** The firing's group (window) or key (sequence, absence): what `throttle.key` is read from. */
  throttleKeySource: Record<string, unknown>;
  /**
   * `event`: caused by the event passed to onEvent (it counts in publishEvent.matched);
   * `time`: caused by wall-clock time passing (window closes, session gaps and absence
   * deadlines reached without an event), also when found due at the start of onEvent.
   */
  cause: 'event' | 'time';
}

export interface StreamOptions {
  /**
   * Per rule: the most groups (window), keys (sequence; each holds at most one partial
   * match, waiting first-step events count too) or pending timers (absence) kept.
   * Beyond it the oldest (second-chance order) is evicted and counted in stats.dropped.evicted.
   */
  maxGroups: number;
}

/** The bound of groups / keys / timers a processor keeps: a whole number, at least 1. */
export function maxGroupsOf(options: StreamOptions): number {
  return Math.max(1, Math.floor(options.maxGroups));
}

export interface StreamStats {
  dropped: { late: number; evicted: number };
  /** Groups (window), keys (sequence) or pending timers (absence) held now. */
  groups: number;
}

export interface StreamProcessor {
  /** An event arrives (arrivalMs = the wall clock now). Returns the firings it causes, and any found due by the wall clock. */
  onEvent(event: Record<string, unknown>, arrivalMs: number): Firing[];
  /** Time passes without events: window closes by wall clock, session gaps, absence deadlines. */
  onTime(nowMs: number): Firing[];
  /** The earliest wall-clock ms at which onTime could fire something, or null. */
  nextDeadline(): number | null;
  stats(): StreamStats;
}

// ---------------------------------------------------------------------------
// Event time

const MAX_DATE_MS = 8.64e15;
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * An event-time value as epoch ms: a finite number (epoch milliseconds) or an
 * ISO 8601 string; NaN for anything else (and for dates outside the JS Date range).
 */
export function parseEventTime(value: unknown): number {
  if (typeof value === 'number') {
    return !Number.isNaN(value) && value >= -MAX_DATE_MS && value <= MAX_DATE_MS ? value : NaN;
  }
  if (typeof value === 'string' && ISO_RE.test(value)) {
    const ms = Date.parse(value);
    return !Number.isNaN(ms) && ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS ? ms : NaN;
  }
  return NaN;
}

export type TimeReader = (event: Record<string, unknown>, arrivalMs: number) => number;

/** `timeField` read as event time; missing or unparsable gives the arrival time. */
export function compileTimeReader(timeField: string | undefined): TimeReader {
  if (timeField === undefined) return (_event, arrivalMs) => arrivalMs;
  const path = compilePath(timeField);
  return (event, arrivalMs) => {
    const v = readCompiled(event, path);
    if (v === MISSING) return arrivalMs;
    const t = parseEventTime(v);
    return !Number.isNaN(t) ? t : arrivalMs;
  };
}

export function iso(ms: number): string {
  const clamped = ms < -MAX_DATE_MS ? -MAX_DATE_MS : Math.min(ms, MAX_DATE_MS);
  return new Date(clamped).toISOString();
}

// ---------------------------------------------------------------------------
// Group / key reading

/** Reads a group (window groupBy) or key (sequence / absence `by`). */
export interface KeyReader {
  /** A Map key standing for the group: equal groups give equal ids (SameValueZero). */
  id(event: Record<string, unknown>): unknown;
  /** The group as an object `{<path>: value}` (missing: null), built once per new group. */
  describe(event: Record<string, unknown>): Record<string, unknown>;
}

const NUL = '\u0000';
const EMPTY_ID = '';

function valueAt(event: Record<string, unknown>, path: CompiledPath): unknown {
  const v = readCompiled(event, path);
  return v === MISSING ? null : v;
}

/**
 * One path: the value itself is the id (strings, numbers, booleans, null), objects and
 * arrays are NUL + JSON (a string that starts with NUL is prefixed with one more, so
 * ids never collide). Several paths: NUL + JSON of the list of values.
 */
export function compileKeyReader(paths: readonly string[]): KeyReader {
  const compiled = paths.map((p) => compilePath(p));
  const describe = (event: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < compiled.length; i++) out[paths[i] as string] = valueAt(event, compiled[i] as CompiledPath);
    return out;
  };
  if (compiled.length === 0) return { id: () => EMPTY_ID, describe };
  if (compiled.length === 1) {
    const only = compiled[0] as CompiledPath;
    return {
      id(event) {
        const v = readCompiled(event, only);
        if (v === MISSING || v === null) return null;
        if (typeof v === 'string') return v.length > 0 && v.charCodeAt(0) === 0 ? NUL + v : v;
        if (typeof v === 'object') return NUL + JSON.stringify(v);
        return v;
      },
      describe,
    };
  }
  return {
    id(event) {
      const values: unknown[] = new Array(compiled.length);
      for (let i = 0; i < compiled.length; i++) values[i] = valueAt(event, compiled[i] as CompiledPath);
      return NUL + JSON.stringify(values);
    },
    describe,
  };
}

// ---------------------------------------------------------------------------
// Event clock

/**
 * The rule's event-time clock. `now` is the highest event time taken in so far, moved
 * forward by the wall clock while no newer event comes: after an event with time E arrived
 * at wall time A, at wall time N the clock reads E + (N - A). It never goes back. Before
 * the first event it reads -Infinity (nothing can close or expire).
 */
export class EventClock {
  now = Number.NEGATIVE_INFINITY;
  /** Wall ms at which `now` was last set. */
  private at = Number.NEGATIVE_INFINITY;

  /** Wall time passes; true when the clock moved. */
  advanceWall(wallMs: number): boolean {
    if (this.now === Number.NEGATIVE_INFINITY || !(wallMs > this.at)) return false;
    this.now += wallMs - this.at;
    this.at = wallMs;
    return true;
  }

  /** An event with time `t` taken in at wall time `arrivalMs`. */
  observe(t: number, arrivalMs: number): void {
    if (t > this.now) {
      this.now = t;
      if (arrivalMs > this.at) this.at = arrivalMs;
    }
  }

  /** The wall ms at which the clock will read `eventTime` without further events, or null before the first event. */
  wallFor(eventTime: number): number | null {
    if (this.now === Number.NEGATIVE_INFINITY) return null;
    return this.at + (eventTime - this.now);
  }
}

// ---------------------------------------------------------------------------
// Binary min-heap over objects carrying their key in `hk`

export interface HeapItem {
  hk: number;
  /** Tie-break among equal keys (creation order), so equal deadlines fire in a stable order. */
  seq: number;
}

function before(a: HeapItem, b: HeapItem): boolean {
  return a.hk < b.hk || (a.hk === b.hk && a.seq < b.seq);
}

export class MinHeap<T extends HeapItem> {
  items: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  /** A fresh sequence number for a new item. */
  seq(): number {
    return this.nextSeq++;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** The top item, after dropping the dead items above it; undefined when none is left. */
  peekLive(dead: (item: T) => boolean): T | undefined {
    for (;;) {
      const top = this.items[0];
      if (top === undefined || !dead(top)) return top;
      this.pop();
    }
  }

  /** Pops the next live item keyed at or before `bound` (dropping dead ones on the way); undefined when none is due. */
  popDue(bound: number, dead: (item: T) => boolean): T | undefined {
    for (;;) {
      const top = this.items[0];
      if (top === undefined || top.hk > bound) return undefined;
      this.pop();
      if (!dead(top)) return top;
    }
  }

  push(item: T): void {
    const a = this.items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as T;
      if (!before(item, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(a[r] as T, a[l] as T)) c = r;
      const child = a[c] as T;
      if (!before(child, last)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }

  /** Keeps only the items for which `keep` is true (O(n) rebuild). */
  filter(keep: (item: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items = [];
    for (const item of kept) this.push(item);
  }
}

// ---------------------------------------------------------------------------
// CLOCK (second-chance) eviction over a Map in insertion order

export interface Referenced {
  /** Set on every use; cleared when eviction passes over the entry once. */
  ref: boolean;
}

/**
 * Removes and returns the oldest entry not used since eviction last passed it: entries
 * used since are moved to the end with their bit cleared. `spare` is never evicted.
 */
export function evictOldest<K, G extends Referenced>(map: Map<K, G>, spare?: G): [K, G] | undefined {
  let guard = 2 * map.size + 1;
  while (guard-- > 0) {
    const first = map.entries().next();
    if (first.done) return undefined;
    const [k, g] = first.value;
    map.delete(k);
    if (g.ref || g === spare) {
      g.ref = false;
      map.set(k, g);
      continue;
    }
    return [k, g];
  }
  return undefined;
}

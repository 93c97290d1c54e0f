import { describe, expect, it } from 'vitest';
import { createStreamProcessor, type Firing } from '../../src/engine/stream/index.js';
import type { WindowSpec } from '../../src/engine/rules/spec/types.js';

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0); // aligned to the minute
const s = (seconds: number): number => T0 + seconds * 1000;
const iso = (seconds: number): string => new Date(s(seconds)).toISOString();

function windowSpec(over: Partial<WindowSpec> = {}): WindowSpec {
  return {
    window: { type: 'tumbling', sizeSeconds: 60 },
    aggregate: { fn: 'count' },
    groupBy: ['host'],
    op: '>=',
    value: 3,
    timeField: 'ts',
    allowedLatenessSeconds: 0,
    ...over,
  };
}

/** An event with its event time as ISO 8601 (or epoch ms when `ms`). */
const ev = (seconds: number, extra: Record<string, unknown> = {}, ms = false): Record<string, unknown> => ({
  ts: ms ? s(seconds) : iso(seconds),
  host: 'a',
  ...extra,
});

/** Feeds events in order with the wall clock frozen (event time only). */
function feed(p: ReturnType<typeof createStreamProcessor>, events: Record<string, unknown>[], arrival = 0): Firing[] {
  const out: Firing[] = [];
  for (const e of events) out.push(...p.onEvent(e, arrival));
  return out;
}

describe('tumbling windows', () => {
  it('closes on event time once the watermark passes the end, with the SPEC payload', () => {
    const p = createStreamProcessor(windowSpec(), { maxGroups: 100 });
    expect(feed(p, [ev(1), ev(20), ev(59)])).toEqual([]);
    const fired = p.onEvent(ev(60), 0); // watermark reaches the end (exclusive): window [0, 60) closes
    expect(fired).toHaveLength(1);
    const f = fired[0] as Firing;
    expect(f.payload).toEqual({ group: { host: 'a' }, value: 3, count: 3, windowStart: iso(0), windowEnd: iso(60) });
    expect(f.throttleKeySource).toEqual({ host: 'a' });
    expect(f.cause).toBe('event');
    expect(f.references).toMatchObject({ window: { type: 'tumbling', fn: 'count', op: '>=', threshold: 3, value: 3, count: 3 } });
  });

  it('accepts epoch-ms event times and treats a missing or bad timeField as arrival time', () => {
    const p = createStreamProcessor(windowSpec({ value: 2 }), { maxGroups: 100 });
    p.onEvent(ev(1, {}, true), s(1));
    p.onEvent({ host: 'a' }, s(2)); // no ts: arrival time
    p.onEvent({ host: 'a', ts: 'yesterday' }, s(3)); // unparsable: arrival time
    const fired = p.onEvent(ev(61, {}, true), s(61));
    expect(fired.map((f) => f.payload.count)).toEqual([3]);
  });

  it('counts out-of-order events that fall inside the window', () => {
    const p = createStreamProcessor(windowSpec({ aggregate: { fn: 'sum', field: 'ms' }, op: '>', value: 0 }), { maxGroups: 100 });
    feed(p, [ev(50, { ms: 5 }), ev(10, { ms: 1 }), ev(30, { ms: 3 })]);
    const fired = p.onEvent(ev(75, { ms: 100 }), 0);
    expect(fired.map((f) => [f.payload.value, f.payload.count])).toEqual([[9, 3]]);
  });

  it('drops and counts events later than a closed window; lateness keeps it open longer', () => {
    const strict = createStreamProcessor(windowSpec({ value: 1 }), { maxGroups: 100 });
    feed(strict, [ev(1), ev(61)]); // [0, 60) closed
    expect(feed(strict, [ev(5)])).toEqual([]);
    expect(strict.stats().dropped.late).toBe(1);

    const lenient = createStreamProcessor(windowSpec({ value: 2, allowedLatenessSeconds: 10 }), { maxGroups: 100 });
    expect(feed(lenient, [ev(1), ev(65)])).toEqual([]); // watermark 55: still open
    expect(feed(lenient, [ev(5)])).toEqual([]); // out of order but within lateness
    const fired = feed(lenient, [ev(70)]); // watermark 60: closes
    expect(fired.map((f) => f.payload.count)).toEqual([2]);
    feed(lenient, [ev(7)]);
    expect(lenient.stats().dropped.late).toBe(1);
  });

  it('keeps groups apart and fires once per closed window that meets the comparison', () => {
    const p = createStreamProcessor(windowSpec(), { maxGroups: 100 });
    const first = feed(p, [ev(1), ev(2, { host: 'b' }), ev(3), ev(4), ev(61), ev(62), ev(63), ev(64, { host: 'b' })]);
    // [0, 60) closed at ts 61: a had 3 (fires), b had 1 (does not).
    expect(first.map((f) => [f.payload.group, f.payload.count])).toEqual([[{ host: 'a' }, 3]]);
    const second = feed(p, [ev(130)]);
    expect(second.map((f) => [f.payload.group, f.payload.count, f.payload.windowStart])).toEqual([[{ host: 'a' }, 3, iso(60)]]);
  });

  it('a missing groupBy key is the group value null; events without the field are skipped', () => {
    const p = createStreamProcessor(windowSpec({ aggregate: { fn: 'max', field: 'ms' }, op: '>', value: 0 }), { maxGroups: 100 });
    feed(p, [{ ts: iso(1), ms: 4 }, { ts: iso(2), ms: 9 }, { ts: iso(3) }, { ts: iso(4), ms: 'x' }, { ts: iso(5), host: null, ms: 7 }]);
    const fired = p.onEvent({ ts: iso(90), ms: 1 }, 0);
    expect(fired.map((f) => f.payload)).toEqual([{ group: { host: null }, value: 9, count: 3, windowStart: iso(0), windowEnd: iso(60) }]);
  });

  it('closes by the wall clock without further events, and nextDeadline says when', () => {
    // No timeField: event time is arrival time.
    const p = createStreamProcessor(windowSpec({ timeField: undefined, value: 2 }), { maxGroups: 100 });
    p.onEvent({ host: 'a' }, s(10));
    p.onEvent({ host: 'a' }, s(20));
    expect(p.nextDeadline()).toBe(s(60));
    expect(p.onTime(s(59.999))).toEqual([]);
    const fired = p.onTime(s(60));
    expect(fired.map((f) => [f.payload.count, f.cause])).toEqual([[2, 'time']]);
    expect(p.nextDeadline()).toBeNull();
    expect(p.stats().groups).toBe(0);
  });

  it('wall-clock closing follows event time forward from the last newest event (skewed clocks, lateness)', () => {
    const p = createStreamProcessor(windowSpec({ value: 1, allowedLatenessSeconds: 5 }), { maxGroups: 100 });
    p.onEvent(ev(10), 1_000); // event time T0+10s arrives at wall 1000
    // Window [T0, T0+60) closes when the event clock passes T0+65s: 55s of wall time later.
    expect(p.nextDeadline()).toBe(56_000);
    expect(p.onTime(55_999)).toEqual([]);
    expect(p.onTime(56_000).map((f) => f.payload.windowEnd)).toEqual([iso(60)]);
    // The clock moved on: an event for the closed window is late.
    p.onEvent(ev(30), 56_001);
    expect(p.stats().dropped.late).toBe(1);
  });

  it('std (population) and percentile (nearest rank) against hand-computed values', () => {
    const values = [2, 4, 4, 4, 5, 5, 7, 9]; // mean 5, population variance 4
    const run = (aggregate: WindowSpec['aggregate']): number | null => {
      const p = createStreamProcessor(windowSpec({ aggregate, op: '>=', value: -1e9 }), { maxGroups: 10 });
      feed(
        p,
        [7, 2, 5, 0, 3, 1, 6, 4].map((i, k) => ev(k + 1, { v: values[i] })),
      );
      const fired = p.onEvent(ev(60, { v: 0 }), 0);
      return (fired[0] as Firing).payload.value as number | null;
    };
    expect(run({ fn: 'std', field: 'v' })).toBeCloseTo(2, 12);
    expect(run({ fn: 'avg', field: 'v' })).toBe(5);
    expect(run({ fn: 'sum', field: 'v' })).toBe(40);
    expect(run({ fn: 'min', field: 'v' })).toBe(2);
    expect(run({ fn: 'max', field: 'v' })).toBe(9);
    expect(run({ fn: 'percentile', field: 'v', percentile: 50 })).toBe(4); // rank ceil(4) = 4
    expect(run({ fn: 'percentile', field: 'v', percentile: 90 })).toBe(9); // rank ceil(7.2) = 8
    expect(run({ fn: 'percentile', field: 'v', percentile: 75 })).toBe(5); // rank 6
    expect(run({ fn: 'percentile', field: 'v', percentile: 0 })).toBe(2); // rank 1
    expect(run({ fn: 'percentile', field: 'v', percentile: 100 })).toBe(9);
  });

  it('evicts the oldest group beyond maxGroups and counts it', () => {
    const p = createStreamProcessor(windowSpec({ value: 1 }), { maxGroups: 2 });
    feed(p, [ev(1, { host: 'a' }), ev(2, { host: 'b' }), ev(3, { host: 'c' })]);
    expect(p.stats()).toEqual({ dropped: { late: 0, evicted: 1 }, groups: 2 });
    const fired = feed(p, [ev(61, { host: 'z' })]);
    expect(fired.map((f) => f.payload.group)).toEqual([{ host: 'b' }, { host: 'c' }]);
  });
});

describe('sliding windows', () => {
  const sliding = (over: Partial<WindowSpec> = {}): WindowSpec => windowSpec({ window: { type: 'sliding', sizeSeconds: 10 }, op: '>', value: 2, ...over });

  it('evaluates on every event over the last sizeSeconds; edge-triggered and re-armed', () => {
    const p = createStreamProcessor(sliding(), { maxGroups: 100 });
    expect(feed(p, [ev(0), ev(1)])).toEqual([]);
    const fired = p.onEvent(ev(2), 0);
    expect(fired.map((f) => f.payload)).toEqual([{ group: { host: 'a' }, value: 3, count: 3, windowStart: iso(-8), windowEnd: iso(2) }]);
    expect(feed(p, [ev(3), ev(4)])).toEqual([]); // still true: no new firing
    expect(feed(p, [ev(14)])).toEqual([]); // window (4, 14]: 1 event, false: re-armed
    expect(feed(p, [ev(15)])).toEqual([]);
    expect(feed(p, [ev(16)]).map((f) => f.payload.count)).toEqual([3]);
  });

  it('handles out-of-order events by event time and drops events older than the window', () => {
    const p = createStreamProcessor(sliding({ aggregate: { fn: 'sum', field: 'v' }, op: '>', value: 100 }), { maxGroups: 100 });
    feed(p, [ev(5, { v: 5 }), ev(1, { v: 1 }), ev(9, { v: 9 })]); // window (-1, 9]: 15
    const fired = p.onEvent(ev(12, { v: 100 }), 0); // window (2, 12]: 5 + 9 + 100 (1 left)
    expect(fired.map((f) => [f.payload.value, f.payload.count])).toEqual([[114, 3]]);
    expect(feed(p, [ev(2, { v: 1000 })])).toEqual([]); // at the window's open start: late
    expect(p.stats().dropped.late).toBe(1);
    feed(p, [ev(3, { v: -50 })]); // out of order but inside: (2, 12] = 64
    expect(feed(p, [ev(12.5, { v: 40 })]).map((f) => f.payload.value)).toEqual([104]);
  });

  it('keeps groups isolated', () => {
    const p = createStreamProcessor(sliding(), { maxGroups: 100 });
    const fired = feed(p, [ev(0), ev(0.5, { host: 'b' }), ev(1), ev(1.5, { host: 'b' }), ev(2), ev(3, { host: 'c' })]);
    expect(fired.map((f) => f.payload.group)).toEqual([{ host: 'a' }]);
    expect(feed(p, [ev(4, { host: 'b' })]).map((f) => f.payload.group)).toEqual([{ host: 'b' }]);
  });

  it('min and max follow expiry and out-of-order arrivals', () => {
    const max = createStreamProcessor(sliding({ aggregate: { fn: 'max', field: 'v' }, op: '<', value: 5 }), { maxGroups: 10 });
    expect(feed(max, [ev(0, { v: 9 }), ev(3, { v: 1 })])).toEqual([]); // max 9
    expect(feed(max, [ev(10.5, { v: 2 })]).map((f) => f.payload.value)).toEqual([2]); // 9 expired: max(1, 2)
    expect(feed(max, [ev(4, { v: 7 })])).toEqual([]); // out of order: max 7, re-armed
    expect(feed(max, [ev(14.5, { v: 3 })]).map((f) => f.payload.value)).toEqual([3]); // (4.5, 14.5]: 2, 3

    const min = createStreamProcessor(sliding({ aggregate: { fn: 'min', field: 'v' }, op: '>', value: 4 }), { maxGroups: 10 });
    expect(feed(min, [ev(0, { v: 1 }), ev(5, { v: 8 }), ev(6, { v: 6 })])).toEqual([]);
    expect(feed(min, [ev(10, { v: 9 })]).map((f) => f.payload.value)).toEqual([6]);
  });

  it('std and percentile over a window that lost its oldest values', () => {
    // With lateness, events wait until the watermark reaches them; the last event moves the
    // watermark to T0+12s: 100 and 50 enter and leave again, the window (2, 12] keeps 8 values.
    const values = [2, 4, 4, 4, 5, 5, 7, 9];
    const events = [ev(0, { v: 100 }), ev(1, { v: 50 }), ...values.map((v, i) => ev(5 + i, { v }))];
    const trigger = ev(112, { v: 0 });
    const run = (aggregate: WindowSpec['aggregate'], op: WindowSpec['op'], value: number): Firing[] => {
      const p = createStreamProcessor(sliding({ aggregate, op, value, allowedLatenessSeconds: 100 }), { maxGroups: 10 });
      expect(feed(p, events)).toEqual([]);
      return feed(p, [trigger]);
    };
    const std = run({ fn: 'std', field: 'v' }, '>', 1.9);
    expect(std).toHaveLength(1);
    expect((std[0] as Firing).payload.value).toBeCloseTo(2, 9);
    expect((std[0] as Firing).payload.count).toBe(8);
    expect(run({ fn: 'percentile', field: 'v', percentile: 75 }, '==', 5)).toHaveLength(1);
    expect(run({ fn: 'percentile', field: 'v', percentile: 90 }, '==', 9)).toHaveLength(1);
    expect(run({ fn: 'avg', field: 'v' }, '==', 5)).toHaveLength(1);
  });

  it('percentile over a moving window (sorted state kept across expiry)', () => {
    const p = createStreamProcessor(sliding({ aggregate: { fn: 'percentile', field: 'v', percentile: 50 }, op: '>=', value: 50 }), { maxGroups: 10 });
    // median of [10, 60, 70] = 60 (rank 2) -> fires at the third event
    expect(feed(p, [ev(0, { v: 10 }), ev(1, { v: 60 })])).toEqual([]); // [10, 60] rank 1 = 10
    expect(feed(p, [ev(2, { v: 70 })]).map((f) => f.payload.value)).toEqual([60]);
    expect(feed(p, [ev(11.5, { v: 1 }), ev(11.6, { v: 2 })]).map((f) => f.payload.value)).toEqual([]); // [70, 1, 2]: 2
    expect(feed(p, [ev(11.8, { v: 99 })])).toEqual([]); // [70, 1, 2, 99]: rank 2 = 2
    expect(feed(p, [ev(11.9, { v: 98 })]).map((f) => f.payload.value)).toEqual([70]); // [1, 2, 70, 98, 99]: rank 3
    expect(feed(p, [ev(12.5, { v: 97 })])).toEqual([]); // 70 left: [1, 2, 97, 98, 99] rank 3 = 97, still true
  });

  it('forgets emptied groups and bounds groups by maxGroups', () => {
    const p = createStreamProcessor(sliding({ value: 100 }), { maxGroups: 3 });
    feed(
      p,
      ['a', 'b', 'c', 'd'].map((host, i) => ev(i, { host })),
    );
    expect(p.stats()).toEqual({ dropped: { late: 0, evicted: 1 }, groups: 3 });
    p.onEvent(ev(40, { host: 'e' }), 0); // the others have left the window: swept, not evicted
    expect(p.stats()).toEqual({ dropped: { late: 0, evicted: 1 }, groups: 1 });
  });
});

describe('session windows', () => {
  const session = (over: Partial<WindowSpec> = {}): WindowSpec => windowSpec({ window: { type: 'session', gapSeconds: 30 }, op: '>=', value: 2, ...over });

  it('closes by timer when the gap has passed with no further event', () => {
    const p = createStreamProcessor(session({ timeField: undefined }), { maxGroups: 10 });
    p.onEvent({ host: 'a' }, s(0));
    p.onEvent({ host: 'a' }, s(10));
    p.onEvent({ host: 'a' }, s(20));
    p.onEvent({ host: 'b' }, s(25)); // one event: does not meet >= 2
    expect(p.nextDeadline()).toBe(s(50));
    expect(p.onTime(s(49.999))).toEqual([]);
    const fired = p.onTime(s(50));
    expect(fired.map((f) => [f.payload, f.cause])).toEqual([[{ group: { host: 'a' }, value: 3, count: 3, windowStart: iso(0), windowEnd: iso(50) }, 'time']]);
    expect(p.nextDeadline()).toBe(s(55));
    expect(p.onTime(s(60))).toEqual([]);
    expect(p.stats().groups).toBe(0);
  });

  it('closes on event time, one firing per closed session, groups apart', () => {
    const p = createStreamProcessor(session(), { maxGroups: 10 });
    expect(feed(p, [ev(0), ev(20), ev(45, { host: 'b' }), ev(49)])).toEqual([]); // a's session extends to 79
    const fired = feed(p, [ev(80, { host: 'b' })]);
    expect(fired.map((f) => [f.payload.group, f.payload.count, f.payload.windowEnd])).toEqual([[{ host: 'a' }, 3, iso(79)]]);
    expect(feed(p, [ev(81, { host: 'b' }), ev(200)]).map((f) => [f.payload.group, f.payload.count])).toEqual([[{ host: 'b' }, 2]]);
  });

  it('merges sessions bridged by an out-of-order event and drops late ones', () => {
    const p = createStreamProcessor(session({ allowedLatenessSeconds: 60, aggregate: { fn: 'sum', field: 'v' }, op: '>', value: 0 }), { maxGroups: 10 });
    feed(p, [ev(0, { v: 1 }), ev(50, { v: 2 })]); // two sessions (50 - 0 >= 30)
    feed(p, [ev(25, { v: 4 })]); // bridges them
    const fired = feed(p, [ev(200, { v: 0 })]); // watermark 140 passes 80
    expect(fired.map((f) => [f.payload.value, f.payload.count, f.payload.windowStart, f.payload.windowEnd])).toEqual([[7, 3, iso(0), iso(80)]]);
    feed(p, [ev(60, { v: 9 })]); // 60 + 30 <= 140: its session would be closed already
    expect(p.stats().dropped.late).toBe(1);
  });
});

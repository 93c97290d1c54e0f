import { describe, expect, it } from 'vitest';
import { createStreamProcessor, type Firing } from '../../src/engine/stream/index.js';
import type { AbsenceSpec } from '../../src/engine/rules/spec/types.js';

const T0 = Date.UTC(2024, 0, 1);
const s = (seconds: number): number => T0 + seconds * 1000;
const iso = (seconds: number): string => new Date(s(seconds)).toISOString();

const spec = (over: Partial<AbsenceSpec> = {}): AbsenceSpec => ({
  absence: {
    after: { field: 'type', op: '==', value: 'created' },
    expect: { field: 'type', op: '==', value: 'paid' },
    within: 60,
    by: ['order_id'],
  },
  ...over,
});

const created = (order: string, extra: Record<string, unknown> = {}) => ({ type: 'created', order_id: order, ...extra });
const paid = (order: string, extra: Record<string, unknown> = {}) => ({ type: 'paid', order_id: order, ...extra });

describe('absence', () => {
  it('fires at the deadline (by the clock) with {key, after, deadline}', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    const after = created('o1');
    expect(p.onEvent(after, s(0))).toEqual([]);
    expect(p.nextDeadline()).toBe(s(60));
    expect(p.onTime(s(59.999))).toEqual([]);
    const fired = p.onTime(s(60));
    expect(fired).toHaveLength(1);
    const f = fired[0] as Firing;
    expect(f.payload).toEqual({ key: { order_id: 'o1' }, after, deadline: iso(60) });
    expect(f.throttleKeySource).toEqual({ order_id: 'o1' });
    expect(f.cause).toBe('time');
    expect(f.references).toEqual({ absence: { key: { order_id: 'o1' }, afterEventTime: iso(0), deadline: iso(60), withinSeconds: 60 } });
    expect(p.onTime(s(120))).toEqual([]);
    expect(p.nextDeadline()).toBeNull();
    expect(p.stats().groups).toBe(0);
  });

  it('is cancelled by an expect of the same key only', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    p.onEvent(created('o1'), s(0));
    p.onEvent(created('o2'), s(1));
    p.onEvent(paid('o2'), s(30));
    p.onEvent(paid('o3'), s(31));
    expect(p.onTime(s(61)).map((f) => f.payload.key)).toEqual([{ order_id: 'o1' }]);
    expect(p.onTime(s(200))).toEqual([]);
  });

  it('each after starts its own timer; an expect cancels every pending one of its key', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    p.onEvent(created('o1', { n: 1 }), s(0));
    p.onEvent(created('o1', { n: 2 }), s(10));
    expect(p.stats().groups).toBe(2);
    expect(p.onTime(s(60)).map((f) => (f.payload.after as { n: number }).n)).toEqual([1]);
    p.onEvent(created('o1', { n: 3 }), s(62));
    p.onEvent(paid('o1'), s(65));
    expect(p.stats().groups).toBe(0);
    expect(p.onTime(s(300))).toEqual([]);
  });

  it('runs on event time: a newer event time fires what its clock passed (cause event)', () => {
    const p = createStreamProcessor(spec({ timeField: 'ts' }), { maxGroups: 100 });
    p.onEvent(created('o1', { ts: iso(0) }), 0);
    p.onEvent(paid('o1', { ts: iso(59) }), 0); // cancels
    p.onEvent(created('o2', { ts: iso(10) }), 0);
    const fired = p.onEvent(created('o3', { ts: iso(75) }), 0);
    expect(fired.map((f) => [f.payload.key, f.payload.deadline, f.cause])).toEqual([[{ order_id: 'o2' }, iso(70), 'event']]);
    // An after whose deadline has already passed is dropped and counted late.
    p.onEvent(created('o4', { ts: iso(5) }), 0);
    expect(p.stats().dropped.late).toBe(1);
    expect(p.nextDeadline()).toBe(60_000); // o3 due at 135 s, clock at 75 s read at wall 0
  });

  it('an expect at or after the deadline is too late', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    p.onEvent(created('o1'), s(0));
    const fired = p.onEvent(paid('o1'), s(60));
    expect(fired.map((f) => [f.payload.key, f.cause])).toEqual([[{ order_id: 'o1' }, 'time']]);
  });

  it('bounds pending timers by maxGroups, evicting the oldest and counting it', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 2 });
    p.onEvent(created('o1'), s(0));
    p.onEvent(created('o2'), s(1));
    p.onEvent(created('o3'), s(2));
    expect(p.stats()).toEqual({ dropped: { late: 0, evicted: 1 }, groups: 2 });
    expect(p.onTime(s(100)).map((f) => f.payload.key)).toEqual([{ order_id: 'o2' }, { order_id: 'o3' }]);
  });
});

import { describe, expect, it } from 'vitest';
import { createStreamProcessor, type Firing } from '../../src/engine/stream/index.js';
import type { SequenceSpec } from '../../src/engine/rules/spec/types.js';

const T0 = Date.UTC(2024, 0, 1);
const s = (seconds: number): number => T0 + seconds * 1000;
const type = (value: string) => ({ field: 'type', op: '==' as const, value });

const spec = (over: Partial<SequenceSpec> = {}): SequenceSpec => ({
  sequence: [type('login'), type('purchase')],
  within: 60,
  by: ['user'],
  ...over,
});

let n = 0;
const ev = (t: string, user = 'u1', extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: t, user, n: ++n, ...extra });

/** Feeds [event, second] pairs with arrival time as event time. */
function feed(p: ReturnType<typeof createStreamProcessor>, items: Array<[Record<string, unknown>, number]>): Firing[] {
  const out: Firing[] = [];
  for (const [e, sec] of items) out.push(...p.onEvent(e, s(sec)));
  return out;
}

describe('sequence', () => {
  it('fires when the steps arrive in order for one key, with {key, events}', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    const login = ev('login');
    const purchase = ev('purchase');
    expect(feed(p, [[login, 0]])).toEqual([]);
    const fired = feed(p, [[purchase, 30]]);
    expect(fired).toHaveLength(1);
    const f = fired[0] as Firing;
    expect(f.payload).toEqual({ key: { user: 'u1' }, events: [login, purchase] });
    expect(f.throttleKeySource).toEqual({ user: 'u1' });
    expect(f.cause).toBe('event');
    expect(f.references).toEqual({
      sequence: {
        key: { user: 'u1' },
        steps: 2,
        firstEventTime: new Date(s(0)).toISOString(),
        lastEventTime: new Date(s(30)).toISOString(),
        withinSeconds: 60,
      },
    });
    expect(p.stats().groups).toBe(0); // consumed: nothing held
  });

  it('does not fire on the wrong order', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    expect(
      feed(p, [
        [ev('purchase'), 0],
        [ev('login'), 1],
      ]),
    ).toEqual([]);
    expect(feed(p, [[ev('purchase'), 2]])).toHaveLength(1); // the login then the later purchase
  });

  it('skips events between the steps (skip till next match), interleaved keys too', () => {
    const p = createStreamProcessor(spec({ sequence: [type('login'), type('cart'), type('purchase')] }), { maxGroups: 100 });
    const a = [ev('login', 'u1'), ev('cart', 'u1'), ev('purchase', 'u1')];
    const b = [ev('login', 'u2'), ev('cart', 'u2'), ev('purchase', 'u2')];
    const fired = feed(p, [
      [a[0]!, 0],
      [b[0]!, 1],
      [ev('browse', 'u1'), 2],
      [ev('purchase', 'u1'), 3], // not the expected step: skipped
      [a[1]!, 4],
      [b[1]!, 5],
      [ev('login', 'u3'), 6],
      [b[2]!, 7],
      [a[2]!, 8],
    ]);
    expect(fired.map((f) => f.payload)).toEqual([
      { key: { user: 'u2' }, events: b },
      { key: { user: 'u1' }, events: a },
    ]);
  });

  it('keeps keys apart', () => {
    const p = createStreamProcessor(spec({ by: ['user', 'shop'] }), { maxGroups: 100 });
    expect(
      feed(p, [
        [ev('login', 'u1', { shop: 1 }), 0],
        [ev('purchase', 'u2', { shop: 1 }), 1],
        [ev('purchase', 'u1', { shop: 2 }), 2],
      ]),
    ).toEqual([]);
    const fired = feed(p, [[ev('purchase', 'u1', { shop: 1 }), 3]]);
    expect(fired.map((f) => f.payload.key)).toEqual([{ user: 'u1', shop: 1 }]);
  });

  it('expires a partial match after `within` seconds of the first; the next first step starts anew', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    expect(
      feed(p, [
        [ev('login'), 0],
        [ev('purchase'), 61],
      ]),
    ).toEqual([]);
    expect(feed(p, [[ev('purchase'), 62]])).toEqual([]);
    const login = ev('login');
    const purchase = ev('purchase');
    expect(
      feed(p, [
        [login, 70],
        [purchase, 130],
      ]).map((f) => f.payload.events),
    ).toEqual([[login, purchase]]); // exactly 60 s: within
  });

  it('uses event time from timeField for `within`', () => {
    const p = createStreamProcessor(spec({ timeField: 'at' }), { maxGroups: 100 });
    // All arrive at once; event times say 90 s apart.
    expect(
      feed(p, [
        [ev('login', 'u1', { at: new Date(s(0)).toISOString() }), 0],
        [ev('purchase', 'u1', { at: s(90) }), 0],
      ]),
    ).toEqual([]);
    expect(
      feed(p, [
        [ev('login', 'u1', { at: s(100) }), 0],
        [ev('purchase', 'u1', { at: s(110) }), 0],
      ]),
    ).toHaveLength(1);
  });

  it('a match consumes its events; the earliest unconsumed first step starts the next match', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    const l1 = ev('login');
    const l2 = ev('login');
    const p1 = ev('purchase');
    const p2 = ev('purchase');
    const fired = feed(p, [
      [l1, 0],
      [l2, 1],
      [p1, 2],
      [p2, 3],
      [ev('purchase'), 4],
    ]);
    expect(fired.map((f) => f.payload.events)).toEqual([
      [l1, p1],
      [l2, p2],
    ]);
  });

  it('an event advances at most one step', () => {
    const p = createStreamProcessor(spec({ sequence: [type('x'), type('x'), type('x')] }), { maxGroups: 100 });
    expect(
      feed(p, [
        [ev('x'), 0],
        [ev('x'), 1],
      ]),
    ).toEqual([]);
    expect(feed(p, [[ev('x'), 2]]).map((f) => (f.payload.events as unknown[]).length)).toEqual([3]);
    expect(
      feed(p, [
        [ev('x'), 3],
        [ev('x'), 4],
      ]),
    ).toEqual([]);
  });

  it('a waiting first step that expired does not start a match', () => {
    const p = createStreamProcessor(spec({ sequence: [type('a'), type('b'), type('c')], within: 10 }), { maxGroups: 100 });
    feed(p, [
      [ev('a'), 0],
      [ev('a'), 1],
    ]); // second a waits
    const b = ev('b');
    const c = ev('c');
    // The first partial match expires at 10+; the waiting a (t = 1) starts the next one.
    expect(
      feed(p, [
        [b, 10.5],
        [c, 11],
      ]).map((f) => f.payload.events),
    ).toHaveLength(1);
    feed(p, [
      [ev('a'), 20],
      [ev('a'), 21],
    ]);
    expect(
      feed(p, [
        [ev('b'), 35],
        [ev('c'), 36],
      ]),
    ).toEqual([]); // both a's expired
  });

  it('bounds keys by maxGroups, evicting the oldest and counting it', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 2 });
    feed(p, [
      [ev('login', 'u1'), 0],
      [ev('login', 'u2'), 1],
      [ev('login', 'u3'), 2],
    ]);
    expect(p.stats()).toEqual({ dropped: { late: 0, evicted: 1 }, groups: 2 });
    expect(feed(p, [[ev('purchase', 'u1'), 3]])).toEqual([]);
    expect(feed(p, [[ev('purchase', 'u3'), 4]])).toHaveLength(1);
    expect(p.nextDeadline()).toBeNull();
  });

  it('forgets expired partial matches as time passes', () => {
    const p = createStreamProcessor(spec(), { maxGroups: 100 });
    feed(p, [
      [ev('login', 'u1'), 0],
      [ev('login', 'u2'), 1],
    ]);
    expect(p.stats().groups).toBe(2);
    p.onTime(s(200));
    expect(p.stats().groups).toBe(0);
  });
});

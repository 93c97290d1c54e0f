import { describe, expect, it } from 'vitest';
import { MISSING } from '../../src/engine/rules/conditions/index.js';
import { EventReads, FieldSlots } from '../../src/engine/events/matcher/fieldReads.js';

describe('FieldSlots', () => {
  it('gives one slot per field, counts references and reuses freed slots', () => {
    const slots = new FieldSlots();
    const a = slots.acquire('a');
    const b = slots.acquire('x.y');
    expect(slots.acquire('a')).toBe(a);
    expect(b).not.toBe(a);
    expect(slots.inUse).toBe(2);

    slots.release(a);
    expect(slots.inUse).toBe(2); // one reference to `a` left
    slots.release(a);
    expect(slots.inUse).toBe(1);
    const c = slots.acquire('c');
    expect(c).toBe(a); // the freed slot, now for `c`
    expect(slots.fields[c]).toBe('c');
    expect(slots.capacity).toBe(2);
  });
});

describe('EventReads', () => {
  it('reads like the conditions: dotted paths, metrics fallback, missing, numeric reading', () => {
    const slots = new FieldSlots();
    const cpu = slots.acquire('cpu');
    const deep = slots.acquire('host.items.1');
    const name = slots.acquire('name');
    const reads = new EventReads(slots);

    reads.begin({ metrics: { cpu: ' 7 ' }, host: { items: ['a', 'b'] }, name: 'web' });
    expect(reads.load(cpu)).toBe(' 7 ');
    expect(reads.nums[cpu]).toBe(7);
    expect(reads.load(deep)).toBe('b');
    expect(reads.nums[deep]).toBeNaN();
    expect(reads.load(name)).toBe('web');

    reads.begin({ cpu: 3 });
    expect(reads.load(cpu)).toBe(3); // not the previous event's value
    expect(reads.load(deep)).toBe(MISSING);
    expect(reads.nums[deep]).toBeNaN();

    reads.begin(null);
    expect(reads.load(cpu)).toBe(MISSING);
  });

  it('makes room for slots added after it was created', () => {
    const slots = new FieldSlots();
    const reads = new EventReads(slots);
    reads.begin({ a: 1 });
    const a = slots.acquire('a');
    const b = slots.acquire('b');
    reads.begin({ a: 1, b: '2' });
    expect(reads.load(a)).toBe(1);
    expect(reads.nums[b]).toBeNaN(); // not loaded yet
    expect(reads.load(b)).toBe('2');
    expect(reads.nums[b]).toBe(2);
  });

  it('caches a read within one event only', () => {
    const slots = new FieldSlots();
    const v = slots.acquire('v');
    const reads = new EventReads(slots);
    let count = 0;
    const event = {
      get v() {
        count++;
        return count;
      },
    };
    reads.begin(event);
    expect([reads.load(v), reads.load(v)]).toEqual([1, 1]);
    reads.begin(event);
    expect(reads.load(v)).toBe(2);
    expect(count).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { WriteBatcher } from '../../src/engine/store/batcher.js';

/** A write whose statements are recorded and held until released. */
function heldWriter(fail: (items: string[]) => boolean = () => false) {
  const statements: string[][] = [];
  const releases: Array<() => void> = [];
  const write = (items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      statements.push(items);
      releases.push(() => (fail(items) ? reject(new Error(`bad ${items.join(',')}`)) : resolve(items.map((i) => `ok:${i}`))));
    });
  const releaseAll = async () => {
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { statements, write, releaseAll };
}

describe('WriteBatcher', () => {
  it('sends a write at once when nothing is in flight, and batches what arrives meanwhile', async () => {
    const w = heldWriter();
    const batcher = new WriteBatcher(w.write, 1);
    const a = batcher.submit('a');
    const b = batcher.submit('b');
    const c = batcher.submitAll(['c1', 'c2']);
    expect(w.statements).toEqual([['a']]);
    await w.releaseAll();
    expect(await a).toBe('ok:a');
    expect(await b).toBe('ok:b');
    expect(await c).toEqual(['ok:c1', 'ok:c2']);
    expect(w.statements).toEqual([['a'], ['b', 'c1', 'c2']]);
  });

  it('keeps the items of one submission in one statement, even past the batch size', async () => {
    const w = heldWriter();
    const batcher = new WriteBatcher(w.write, 1, 3);
    void batcher.submit('first');
    const x = batcher.submit('x');
    const group = batcher.submitAll(['g1', 'g2', 'g3']);
    const big = batcher.submitAll(['b1', 'b2', 'b3', 'b4']);
    await w.releaseAll();
    expect(await group).toEqual(['ok:g1', 'ok:g2', 'ok:g3']);
    expect(await big).toHaveLength(4);
    expect(await x).toBe('ok:x');
    expect(w.statements).toEqual([['first'], ['x'], ['g1', 'g2', 'g3'], ['b1', 'b2', 'b3', 'b4']]);
  });

  it('retries a failed batch submission by submission, so a bad row fails only its own', async () => {
    const w = heldWriter((items) => items.includes('bad'));
    const batcher = new WriteBatcher(w.write, 1);
    void batcher.submit('first');
    const good = batcher.submitAll(['g1', 'g2']);
    const bad = batcher.submitAll(['bad', 'g3']);
    const results = Promise.allSettled([good, bad]);
    await w.releaseAll();
    const [g, b] = await results;
    expect(g).toEqual({ status: 'fulfilled', value: ['ok:g1', 'ok:g2'] });
    expect(b.status).toBe('rejected');
    expect(w.statements).toEqual([['first'], ['g1', 'g2', 'bad', 'g3'], ['g1', 'g2'], ['bad', 'g3']]);
  });

  it('frees the slot of a lone write that failed, so the writes after it still go out', async () => {
    const w = heldWriter((items) => items.includes('bad'));
    const batcher = new WriteBatcher(w.write, 1);
    const bad = batcher.submit('bad');
    const next = batcher.submit('next');
    expect(w.statements).toEqual([['bad']]);
    const settled = Promise.allSettled([bad, next]);
    await w.releaseAll();
    const [b, n] = await settled;
    expect(b.status).toBe('rejected');
    expect(n).toEqual({ status: 'fulfilled', value: 'ok:next' });
    const later = batcher.submit('later');
    expect(w.statements).toEqual([['bad'], ['next'], ['later']]);
    await w.releaseAll();
    expect(await later).toBe('ok:later');
  });
});

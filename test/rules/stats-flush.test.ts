import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RuleStatsCounter } from '../../src/engine/rules/stats.js';
import type { RuleCounts, RuleStatsStore } from '../../src/engine/store/ruleStatsStore.js';
import { ManualClock } from '../support/clock.js';

/** A store whose writes finish when the test says so. */
function heldStore() {
  const writes: RuleCounts[][] = [];
  const finish: (() => void)[] = [];
  const store = {
    add(counts: readonly RuleCounts[]) {
      writes.push([...counts]);
      return new Promise<void>((resolve) => finish.push(resolve));
    },
    read: async () => [],
  } as unknown as RuleStatsStore;
  return { store, writes, finishWrite: () => finish.shift()?.() };
}

const logger = createLogger({ logLevel: 'silent', logPretty: false });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Rule.stats flush timer', () => {
  it('flushes on the injected clock, one interval after the previous flush ends, never overlapping', async () => {
    const clock = new ManualClock();
    const { store, writes, finishWrite } = heldStore();
    const counter = new RuleStatsCounter(store, logger, clock);
    counter.start(2000);

    counter.add('r1', 'matched');
    clock.advance(1999);
    await settle();
    expect(writes).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(writes).toEqual([[{ ruleId: 'r1', matched: 1, ran: 0, held: 0, failed: 0 }]]);

    // While that write is in flight, no other flush starts however far the clock moves.
    counter.add('r1', 'ran');
    clock.advance(10_000);
    await settle();
    expect(writes).toHaveLength(1);

    // The next one comes an interval after the first ended.
    finishWrite();
    await settle();
    clock.advance(1999);
    await settle();
    expect(writes).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(writes[1]).toEqual([{ ruleId: 'r1', matched: 0, ran: 1, held: 0, failed: 0 }]);
    finishWrite();

    // stop() writes what is left and arms nothing more.
    counter.add('r1', 'held');
    const stopped = counter.stop();
    await settle();
    finishWrite();
    await stopped;
    expect(writes[2]).toEqual([{ ruleId: 'r1', matched: 0, ran: 0, held: 1, failed: 0 }]);
    counter.add('r1', 'failed');
    clock.advance(60_000);
    await settle();
    expect(writes).toHaveLength(3);
  });
});

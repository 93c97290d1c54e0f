import type { Execution } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { EventBus } from '../bus/eventBus.js';
import type { RuleStatsCounter } from '../rules/stats.js';
import type { InstanceStore, InterruptMessages } from '../store/instanceStore.js';
import type { InFlightScope } from '../store/deliveryStore.js';
import type { EngineObserver } from '../observer.js';
import { runsFields } from '../runs/runFields.js';

export const INTERRUPTED_MESSAGE = 'the process running it stopped';

const INTERRUPTED: InterruptMessages = {
  error: INTERRUPTED_MESSAGE,
  ruleFinished: (e) => `rule ${e.ruleName ?? e.ruleId} interrupted: ${INTERRUPTED_MESSAGE}`,
  cascadeFinished: 'cascade interrupted',
};

export interface InstanceOptions {
  store: InstanceStore;
  bus: EventBus;
  logger: Logger;
  instanceId: string;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  /** One process owns the database (embedded): every RUNNING row at start is a leftover. */
  soleInstance: boolean;
  stats: RuleStatsCounter;
  observer: EngineObserver;
  /** Periodic work of this instance, run after each heartbeat (queue promotion). */
  onTick?: () => Promise<void>;
  /** Counts the webhook attempts a stopped process cut off as failed (the delivery worker). */
  attempts?: { interrupt(scope: InFlightScope): Promise<void> };
}

/**
 * This instance's heartbeat, and the sweep that finishes the RUNNING rows of instances whose
 * heartbeat went stale: FAILED with INTERRUPTED, lock freed, and the RULE_FINISHED and
 * CASCADE_FINISHED events they lacked, so late subscribers never wait forever.
 */
export class InstanceRegistry {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly options: InstanceOptions) {}

  async start(): Promise<void> {
    const { store, instanceId } = this.options;
    await store.register(instanceId);
    await this.countPeers();
    await this.options.bus.announce?.();
    if (this.options.soleInstance) {
      await this.interrupt(await store.runningOfOthers(instanceId));
      await this.options.attempts?.interrupt({ otherThan: instanceId });
    }
    await this.sweep();
    this.timer = setInterval(() => void this.tick(), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  private async tick() {
    const { store, instanceId, logger } = this.options;
    try {
      await store.heartbeat(instanceId);
      await this.countPeers();
      await this.sweep();
      await this.options.onTick?.();
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat or sweep failed');
    }
  }

  /** Tells the bus whether other live instances need this one's messages. */
  private async countPeers() {
    const { store, instanceId, staleAfterMs, bus } = this.options;
    if (!bus.setPeerCount) return;
    bus.setPeerCount(await store.countLivePeers(instanceId, staleAfterMs));
  }

  /** Finishes every RUNNING row whose instance is gone or silent. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const { store, staleAfterMs } = this.options;
        await this.interrupt(await store.runningOfStaleInstances(staleAfterMs));
        await this.options.attempts?.interrupt({ staleAfterMs });
        await store.forgetSilent(this.options.instanceId, staleAfterMs * 10);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** On a clean stop: marks this instance's own leftovers and leaves the registry. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const { store, instanceId } = this.options;
    await this.interrupt(await store.runningOf(instanceId));
    await this.options.attempts?.interrupt({ of: instanceId });
    await store.remove(instanceId);
  }

  /** Finishes the RUNNING rows given (by cascade, deepest first in each) as interrupted. */
  private async interrupt(running: readonly Execution[]): Promise<void> {
    const { store, bus, logger } = this.options;
    const byCascade = new Map<string, Execution[]>();
    for (const execution of running) {
      const group = byCascade.get(execution.cascadeId);
      if (group) group.push(execution);
      else byCascade.set(execution.cascadeId, [execution]);
    }
    for (const [cascadeId, executions] of byCascade) {
      const { finished, events } = await store.interruptCascade(cascadeId, executions, INTERRUPTED);
      for (const execution of finished) {
        bus.publish('execution', execution);
        this.options.observer.executionFinished(execution);
        this.options.stats.add(execution.ruleId, 'ran');
        this.options.stats.add(execution.ruleId, 'failed');
      }
      for (const event of events) bus.publish('cascade', event);
      if (finished.length)
        logger.warn(
          { ...runsFields(finished), ruleIds: [...new Set(finished.map((e) => e.ruleId))] },
          'interrupted runs of a stopped instance were finished as FAILED',
        );
    }
  }
}

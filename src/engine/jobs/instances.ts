import { hostname } from 'node:os';
import type { CascadeEvent, Execution } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { EventBus } from '../bus/eventBus.js';
import type { RuleStatsCounter } from '../rules/stats.js';
import { INSERT_EVENT_RUN, eventsOfRun, storedEvent, toExecution, type EventRunRow } from '../store/rows.js';
import type { Sql } from '../store/sqlClient.js';

export const INTERRUPTED_MESSAGE = 'the process running it stopped';

/** The next seq of a cascade, as `s.n` (one parameter: the cascade's id); runs never overlap. */
const NEXT_SEQ = '(SELECT coalesce(max(last_seq), 0) + 1 AS n FROM cascade_event_runs WHERE cascade_id = ?) s';

/** The events of a run of one FAILED event, as a run stores them (JSON). */
const failedEventRun = (kind: 'RULE_FINISHED' | 'CASCADE_FINISHED', at: Date, message: string) =>
  JSON.stringify([storedEvent({ at, kind, status: 'FAILED', message })]);

export interface InstanceOptions {
  sql: Sql;
  bus: EventBus;
  logger: Logger;
  instanceId: string;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  /** One process owns the database (embedded): every RUNNING row at start is a leftover. */
  soleInstance: boolean;
  stats: RuleStatsCounter;
  /** Periodic work of this instance, run after each heartbeat (queue promotion). */
  onTick?: () => Promise<void>;
}

/** RUNNING rows of instances whose heartbeat went stale (or that have none). */
const OF_STALE_INSTANCES = `(instance_id IS NULL OR NOT EXISTS (
  SELECT 1 FROM instances i WHERE i.id = executions.instance_id AND i.heartbeat_at >= now() - (? * interval '1 millisecond')
))`;

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
    const { sql, instanceId } = this.options;
    await sql.query('INSERT INTO instances (id, hostname, pid) VALUES (?, ?, ?)', [instanceId, hostname(), process.pid]);
    await this.countPeers();
    await this.options.bus.announce?.();
    if (this.options.soleInstance) await this.interruptWhere('instance_id IS DISTINCT FROM ?', [instanceId]);
    await this.sweep();
    this.timer = setInterval(() => void this.tick(), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  private async tick() {
    const { sql, instanceId, logger } = this.options;
    try {
      await sql.query('UPDATE instances SET heartbeat_at = now() WHERE id = ?', [instanceId]);
      await this.countPeers();
      await this.sweep();
      await this.options.onTick?.();
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat or sweep failed');
    }
  }

  /** Tells the bus whether other live instances need this one's messages. */
  private async countPeers() {
    const { sql, instanceId, staleAfterMs, bus } = this.options;
    if (!bus.setPeerCount) return;
    const [row] = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM instances WHERE id <> ? AND heartbeat_at >= now() - (? * interval '1 millisecond')`,
      [instanceId, staleAfterMs],
    );
    bus.setPeerCount(row?.n ?? 0);
  }

  /** Finishes every RUNNING row whose instance is gone or silent. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const { sql, staleAfterMs } = this.options;
        await this.interruptWhere(OF_STALE_INSTANCES, [staleAfterMs]);
        await sql.query('DELETE FROM instances WHERE heartbeat_at < now() - (? * interval \'1 millisecond\') AND id <> ?', [staleAfterMs * 10, this.options.instanceId]);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** On a clean stop: marks this instance's own leftovers and leaves the registry. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const { sql, instanceId } = this.options;
    await this.interruptWhere('instance_id = ?', [instanceId]);
    await sql.query('DELETE FROM instances WHERE id = ?', [instanceId]);
  }

  /** Finishes the RUNNING rows that meet `condition` as interrupted, deepest first in each cascade. */
  private async interruptWhere(condition: string, params: unknown[]): Promise<void> {
    const { sql, bus, logger } = this.options;
    const rows = await sql.query(`SELECT * FROM executions WHERE status = 'RUNNING' AND ${condition} ORDER BY cascade_id, depth DESC`, params);
    const byCascade = new Map<string, Execution[]>();
    for (const row of rows) {
      const execution = toExecution(row);
      const group = byCascade.get(execution.cascadeId);
      if (group) group.push(execution);
      else byCascade.set(execution.cascadeId, [execution]);
    }
    for (const [cascadeId, executions] of byCascade) {
      const { finished, events } = await sql.transaction(async (tx) => {
        const done: Execution[] = [];
        const written: CascadeEvent[] = [];
        for (const execution of executions) {
          const [updated] = await tx.query(
            `UPDATE executions SET status = 'FAILED', error_code = 'INTERRUPTED', error_message = ?, finished_at = now(),
               duration_ms = greatest(0, (extract(epoch from (now() - started_at)) * 1000)::int), lock_key = NULL
             WHERE id = ? AND status = 'RUNNING' RETURNING *`,
            [INTERRUPTED_MESSAGE, execution.id],
          );
          if (!updated) continue;
          const final = toExecution(updated);
          done.push(final);
          const [run] = await tx.query<EventRunRow>(
            `${INSERT_EVENT_RUN} SELECT ?, s.n, s.n, ?, ?, ?, ?, ?::jsonb FROM ${NEXT_SEQ} RETURNING *`,
            [
              cascadeId,
              final.id,
              final.ruleId,
              final.ruleName,
              final.depth,
              failedEventRun('RULE_FINISHED', final.finishedAt!, `rule ${final.ruleName ?? final.ruleId} interrupted: ${INTERRUPTED_MESSAGE}`),
              cascadeId,
            ],
          );
          if (run) written.push(...eventsOfRun(run));
        }
        if (done.length > 0) {
          const [run] = await tx.query<EventRunRow>(
            `${INSERT_EVENT_RUN} SELECT ?, s.n, s.n, r.id, r.rule_id, r.rule_name, 0, ?::jsonb
             FROM executions r, ${NEXT_SEQ}
             WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM cascade_events WHERE cascade_id = ? AND kind = 'CASCADE_FINISHED')
             RETURNING *`,
            [cascadeId, failedEventRun('CASCADE_FINISHED', done.at(-1)!.finishedAt!, 'cascade interrupted'), cascadeId, cascadeId, cascadeId],
          );
          if (run) written.push(...eventsOfRun(run));
        }
        return { finished: done, events: written };
      });
      for (const execution of finished) {
        bus.publish('execution', execution);
        this.options.stats.add(execution.ruleId, 'ran');
        this.options.stats.add(execution.ruleId, 'failed');
      }
      for (const event of events) bus.publish('cascade', event);
      if (finished.length) logger.warn({ cascadeId, executions: finished.map((e) => e.id) }, 'interrupted runs of a stopped instance were finished as FAILED');
    }
  }
}

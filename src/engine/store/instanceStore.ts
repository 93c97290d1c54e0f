import { hostname } from 'node:os';
import type { CascadeEvent, Execution } from '../../entities/index.js';
import { INSERT_EVENT_RUN, eventsOfRun, storedEvent, toExecution, type EventRunRow } from './rows.js';
import type { Sql } from './sqlClient.js';

/** The next seq of a cascade, as `s.n` (one parameter: the cascade's id); runs never overlap. */
const NEXT_SEQ = '(SELECT coalesce(max(last_seq), 0) + 1 AS n FROM cascade_event_runs WHERE cascade_id = ?) s';

/** The events of a run of one FAILED event, as a run stores them (JSON). */
const failedEventRun = (kind: 'RULE_FINISHED' | 'CASCADE_FINISHED', at: Date, message: string) =>
  JSON.stringify([storedEvent({ at, kind, status: 'FAILED', message })]);

/** RUNNING rows of instances whose heartbeat went stale (or that have none). */
const OF_STALE_INSTANCES = `(instance_id IS NULL OR NOT EXISTS (
  SELECT 1 FROM instances i WHERE i.id = executions.instance_id AND i.heartbeat_at >= now() - (? * interval '1 millisecond')
))`;

/** The texts an interrupted cascade's rows and events are written with. */
export interface InterruptMessages {
  /** The error message of each interrupted execution. */
  error: string;
  ruleFinished(execution: Execution): string;
  cascadeFinished: string;
}

/** What interrupting a cascade wrote: the executions it finished and the events it added. */
export interface Interrupted {
  finished: Execution[];
  events: CascadeEvent[];
}

/** The `instances` registry and the RUNNING executions of instances that stopped. */
export class InstanceStore {
  constructor(private readonly sql: Sql) {}

  async register(instanceId: string): Promise<void> {
    await this.sql.query('INSERT INTO instances (id, hostname, pid) VALUES (?, ?, ?)', [instanceId, hostname(), process.pid]);
  }

  async heartbeat(instanceId: string): Promise<void> {
    await this.sql.query('UPDATE instances SET heartbeat_at = now() WHERE id = ?', [instanceId]);
  }

  /** Other instances whose heartbeat is at most `staleAfterMs` old. */
  async countLivePeers(instanceId: string, staleAfterMs: number): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM instances WHERE id <> ? AND heartbeat_at >= now() - (? * interval '1 millisecond')`,
      [instanceId, staleAfterMs],
    );
    return row?.n ?? 0;
  }

  /** Forgets the other instances whose heartbeat is older than `olderThanMs`. */
  async forgetSilent(instanceId: string, olderThanMs: number): Promise<void> {
    await this.sql.query("DELETE FROM instances WHERE heartbeat_at < now() - (? * interval '1 millisecond') AND id <> ?", [olderThanMs, instanceId]);
  }

  async remove(instanceId: string): Promise<void> {
    await this.sql.query('DELETE FROM instances WHERE id = ?', [instanceId]);
  }

  /** RUNNING executions of any instance but this one. */
  runningOfOthers(instanceId: string): Promise<Execution[]> {
    return this.runningWhere('instance_id IS DISTINCT FROM ?', [instanceId]);
  }

  /** RUNNING executions of instances whose heartbeat is older than `staleAfterMs` (or that have none). */
  runningOfStaleInstances(staleAfterMs: number): Promise<Execution[]> {
    return this.runningWhere(OF_STALE_INSTANCES, [staleAfterMs]);
  }

  runningOf(instanceId: string): Promise<Execution[]> {
    return this.runningWhere('instance_id = ?', [instanceId]);
  }

  /** RUNNING executions that meet `condition`, by cascade, deepest first in each. */
  private async runningWhere(condition: string, params: unknown[]): Promise<Execution[]> {
    // Rows with a webhook attempt in flight are the delivery worker's to count (DeliveryWorker.interrupt).
    const rows = await this.sql.query(
      `SELECT * FROM executions WHERE status = 'RUNNING' AND attempt_owner IS NULL AND ${condition} ORDER BY cascade_id, depth DESC`,
      params,
    );
    return rows.map(toExecution);
  }

  /**
   * In one transaction: each execution still RUNNING is finished FAILED with INTERRUPTED (lock
   * freed) with its RULE_FINISHED event, then the cascade gets its CASCADE_FINISHED event unless
   * it has one or an execution of it is still going (a webhook RETRYING writes it when it ends).
   */
  interruptCascade(cascadeId: string, executions: readonly Execution[], messages: InterruptMessages): Promise<Interrupted> {
    return this.sql.transaction(async (tx) => {
      // The cascade's lock (its root row), which a webhook attempt's write takes too: one of the
      // two sees the other's execution final, and writes CASCADE_FINISHED.
      await tx.query('SELECT 1 FROM executions WHERE id = ? FOR UPDATE', [cascadeId]);
      const finished: Execution[] = [];
      const events: CascadeEvent[] = [];
      for (const execution of executions) {
        const [updated] = await tx.query(
          `UPDATE executions SET status = 'FAILED', error_code = 'INTERRUPTED', error_message = ?, finished_at = now(),
             duration_ms = greatest(0, (extract(epoch from (now() - started_at)) * 1000)::int), lock_key = NULL
           WHERE id = ? AND status = 'RUNNING' RETURNING *`,
          [messages.error, execution.id],
        );
        if (!updated) continue;
        const final = toExecution(updated);
        finished.push(final);
        const [run] = await tx.query<EventRunRow>(`${INSERT_EVENT_RUN} SELECT ?, s.n, s.n, ?, ?, ?, ?, ?::jsonb FROM ${NEXT_SEQ} RETURNING *`, [
          cascadeId,
          final.id,
          final.ruleId,
          final.ruleName,
          final.depth,
          failedEventRun('RULE_FINISHED', final.finishedAt!, messages.ruleFinished(final)),
          cascadeId,
        ]);
        if (run) events.push(...eventsOfRun(run));
      }
      if (finished.length > 0) {
        const [run] = await tx.query<EventRunRow>(
          `${INSERT_EVENT_RUN} SELECT ?, s.n, s.n, r.id, r.rule_id, r.rule_name, 0, ?::jsonb
           FROM executions r, ${NEXT_SEQ}
           WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM cascade_events WHERE cascade_id = ? AND kind = 'CASCADE_FINISHED')
             AND NOT EXISTS (SELECT 1 FROM executions u WHERE u.cascade_id = ? AND u.finished_at IS NULL)
           RETURNING *`,
          [cascadeId, failedEventRun('CASCADE_FINISHED', finished.at(-1)!.finishedAt!, messages.cascadeFinished), cascadeId, cascadeId, cascadeId, cascadeId],
        );
        if (run) events.push(...eventsOfRun(run));
      }
      return { finished, events };
    });
  }
}

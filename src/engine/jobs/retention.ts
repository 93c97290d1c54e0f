import type { Logger } from '../../logger.js';
import { PeriodicJob } from './periodic.js';
import type { Clock } from '../../shared/clock.js';
import type { DeletedCascades, RetentionStore } from '../store/retentionStore.js';

export interface RetentionOptions {
  store: RetentionStore;
  clock: Clock;
  logger: Logger;
  /** EXECUTION_RETENTION_DAYS; 0 keeps history (expired idempotency keys still go). */
  days: number;
  /** How often the job runs (it also runs at start). */
  intervalMs: number;
  /** Cascades (or direct API runs) deleted per statement. */
  batch: number;
}

/** What one pass deleted, over all its batches. */
export type RetentionResult = DeletedCascades & { auditEntries: number; idempotencyKeys: number };

const DAY_MS = 86_400_000;

/**
 * Deletes execution history (and audit entries) older than EXECUTION_RETENTION_DAYS, and expired
 * idempotency keys: at start, then every EXECUTION_RETENTION_INTERVAL_MS. Work is cut into short statements of at most `batch`
 * cascades, each committed alone (no long transaction), with a pause between them so that
 * triggers (on PGlite, which has a single connection) interleave; nothing a running trigger
 * needs is ever locked (only finished cascades are taken, and only their own rows).
 */
export class RetentionJob extends PeriodicJob<RetentionResult> {
  constructor(private readonly options: RetentionOptions) {
    super('retention run', options.intervalMs, options.logger);
  }

  /** Whether execution history is deleted (expired idempotency keys always are). */
  get enabled() {
    return this.options.days > 0;
  }

  /**
   * One full pass (batches until nothing older than the cutoff is left). A batch in flight at
   * stop() finishes (each is one short statement).
   */
  protected async pass(): Promise<RetentionResult> {
    const { store, clock, logger, days, batch } = this.options;
    const total: RetentionResult = { cascades: 0, executions: 0, apiExecutions: 0, auditEntries: 0, idempotencyKeys: 0 };
    const now = clock.now().toISOString();
    for (;;) {
      const deleted = await store.deleteExpiredIdempotencyKeys(now, batch);
      total.idempotencyKeys += deleted;
      if (deleted < batch || this.stopped) break;
      await pause();
    }
    if (total.idempotencyKeys) logger.debug({ idempotencyKeys: total.idempotencyKeys }, 'expired idempotency keys deleted');
    if (days <= 0) return total;
    const cutoff = new Date(clock.now().getTime() - days * DAY_MS).toISOString();
    for (;;) {
      const deleted = await store.deleteOldCascades(cutoff, batch);
      total.cascades += deleted.cascades;
      total.executions += deleted.executions;
      total.apiExecutions += deleted.apiExecutions;
      if (deleted.cascades < batch || this.stopped) break;
      await pause();
    }
    for (;;) {
      const deleted = await store.deleteOldApiRuns(cutoff, batch);
      total.apiExecutions += deleted;
      if (deleted < batch || this.stopped) break;
      await pause();
    }
    for (;;) {
      const deleted = await store.deleteOldAuditEntries(cutoff, batch);
      total.auditEntries += deleted;
      if (deleted < batch || this.stopped) break;
      await pause();
    }
    if (total.cascades || total.apiExecutions || total.auditEntries) logger.info({ ...total, cutoff }, 'old execution history deleted');
    return total;
  }
}

/** Lets queued queries (triggers) run between two batches. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 10));

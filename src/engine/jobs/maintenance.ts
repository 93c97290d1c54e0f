import type { Logger } from '../../logger.js';
import { PeriodicJob } from './periodic.js';
import type { MaintenanceStore } from '../store/maintenanceStore.js';

export interface TableMaintenanceOptions {
  store: MaintenanceStore;
  logger: Logger;
  /** How often the tables are looked at (also once at start). */
  intervalMs: number;
}

/**
 * VACUUM and ANALYZE of the service's tables where the database runs no autovacuum of its own.
 * PGlite (the embedded database) is one standalone backend without background workers: it
 * reports autovacuum as on but never runs it, so without this job the dead row every finished
 * execution leaves would pile up for good and the planner would never get statistics. The
 * thresholds are autovacuum's defaults: VACUUM (ANALYZE) once a table's dead rows pass 50 plus
 * 20% of its live rows, ANALYZE alone once its changes since the last analysis pass 50 plus 10%.
 */
export class TableMaintenance extends PeriodicJob<string[]> {
  private readonly store: MaintenanceStore;

  constructor(options: TableMaintenanceOptions) {
    super('table maintenance', options.intervalMs, options.logger);
    this.store = options.store;
  }

  /** One pass; answers the tables it vacuumed or analysed. A VACUUM in flight at stop() finishes. */
  protected async pass(): Promise<string[]> {
    const { store, logger } = this;
    const tables = await store.tableStats();
    const done: string[] = [];
    for (const table of tables) {
      if (this.stopped) break;
      if (table.dead > 50 + 0.2 * table.live) await store.vacuumAnalyze(table.relname);
      else if (table.modified > 50 + 0.1 * table.live) await store.analyze(table.relname);
      else continue;
      done.push(table.relname);
    }
    if (done.length > 0) logger.debug({ tables: done }, 'tables vacuumed or analysed');
    return done;
  }
}

import type { Logger } from '../../logger.js';
import { PeriodicJob } from './periodic.js';
import type { Sql } from '../store/sqlClient.js';

export interface TableMaintenanceOptions {
  sql: Sql;
  logger: Logger;
  /** How often the tables are looked at (also once at start). */
  intervalMs: number;
}

interface TableStats {
  relname: string;
  live: number;
  dead: number;
  modified: number;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * VACUUM and ANALYZE of the service's tables where the database runs no autovacuum of its own.
 * PGlite (the embedded database) is one standalone backend without background workers: it
 * reports autovacuum as on but never runs it, so without this job the dead row every finished
 * execution leaves would pile up for good and the planner would never get statistics. The
 * thresholds are autovacuum's defaults: VACUUM (ANALYZE) once a table's dead rows pass 50 plus
 * 20% of its live rows, ANALYZE alone once its changes since the last analysis pass 50 plus 10%.
 */
export class TableMaintenance extends PeriodicJob<string[]> {
  private readonly sql: Sql;

  constructor(options: TableMaintenanceOptions) {
    super('table maintenance', options.intervalMs, options.logger);
    this.sql = options.sql;
  }

  /** One pass; answers the tables it vacuumed or analysed. A VACUUM in flight at stop() finishes. */
  protected async pass(): Promise<string[]> {
    const { sql, logger } = this;
    const tables = await sql.query<TableStats>(
      `SELECT relname, n_live_tup::float8 AS live, n_dead_tup::float8 AS dead, n_mod_since_analyze::float8 AS modified
       FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY n_dead_tup DESC`,
    );
    const done: string[] = [];
    for (const table of tables) {
      if (this.stopped) break;
      if (table.dead > 50 + 0.2 * table.live) await sql.query(`VACUUM (ANALYZE) ${quoteIdent(table.relname)}`);
      else if (table.modified > 50 + 0.1 * table.live) await sql.query(`ANALYZE ${quoteIdent(table.relname)}`);
      else continue;
      done.push(table.relname);
    }
    if (done.length > 0) logger.debug({ tables: done }, 'tables vacuumed or analysed');
    return done;
  }
}

import type { Sql } from './sqlClient.js';

/** A table's row counts, as PostgreSQL's statistics collector has them. */
export interface TableStats {
  relname: string;
  live: number;
  dead: number;
  modified: number;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The statements of table maintenance (see TableMaintenance). */
export class MaintenanceStore {
  constructor(private readonly sql: Sql) {}

  /** The tables of the current schema, most dead rows first. */
  tableStats(): Promise<TableStats[]> {
    return this.sql.query<TableStats>(
      `SELECT relname, n_live_tup::float8 AS live, n_dead_tup::float8 AS dead, n_mod_since_analyze::float8 AS modified
       FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY n_dead_tup DESC`,
    );
  }

  async vacuumAnalyze(table: string): Promise<void> {
    await this.sql.query(`VACUUM (ANALYZE) ${quoteIdent(table)}`);
  }

  async analyze(table: string): Promise<void> {
    await this.sql.query(`ANALYZE ${quoteIdent(table)}`);
  }
}

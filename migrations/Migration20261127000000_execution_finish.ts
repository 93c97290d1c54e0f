import { Migration } from '@mikro-orm/migrations';

/**
 * What the final write of executions needs to find its rows by primary key, whatever the table's
 * size when its plan was made:
 * - `execution_rows(jsonb)`: the rows of a JSON array as `executions` records, declared to
 *   return about one row. Joined on `jsonb_populate_recordset` (which the planner takes for 100
 *   rows), a prepared statement's plan made while the table was small scanned the whole table
 *   for every batch and kept doing so as it grew; with one row the plan probes the primary key.
 *   It is not inlined (volatile), so the estimate holds.
 * - An execution is unfinished (RUNNING or QUEUED) exactly when it has no finished_at: the final
 *   write tests `finished_at IS NULL`, which no index covers, so the planner is not drawn to the
 *   partial index of unfinished rows either; the constraint keeps the two readings the same.
 */
export class Migration20261127000000_execution_finish extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table executions add constraint executions_finished_check
        check ((finished_at is null) = (status in ('RUNNING', 'QUEUED')));`);
    this.addSql(`
      create function execution_rows(rows jsonb) returns setof executions
        language sql volatile rows 1
        as $$ select * from jsonb_populate_recordset(null::executions, rows) $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists execution_rows(jsonb);`);
    this.addSql(`alter table executions drop constraint if exists executions_finished_check;`);
  }
}

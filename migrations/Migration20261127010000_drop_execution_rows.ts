import { Migration } from '@mikro-orm/migrations';

/**
 * The final write of executions names its rows by id (one row sent as bound parameters, a batch
 * as JSON joined by id; see docs/decisions.md, "Writing executions"), so `execution_rows(jsonb)`,
 * through which it read its rows, is no longer used. (A SQL function is parsed and planned again
 * at every call, which cost the database more than the update it served.)
 */
export class Migration20261127010000_drop_execution_rows extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop function if exists execution_rows(jsonb);`);
  }

  override async down(): Promise<void> {
    this.addSql(`
      create function execution_rows(rows jsonb) returns setof executions
        language sql volatile rows 1
        as $$ select * from jsonb_populate_recordset(null::executions, rows) $$;`);
  }
}

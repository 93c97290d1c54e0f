import { Migration } from '@mikro-orm/migrations';

/**
 * An execution is unfinished (RUNNING or QUEUED) exactly when it has no finished_at. The final
 * write finds the rows it may still finish by `finished_at IS NULL`, a column no index covers,
 * so that its plan goes through the primary key instead of the partial index of unfinished rows;
 * this constraint keeps the two readings the same.
 */
export class Migration20261127000000_execution_finished_check extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table executions add constraint executions_finished_check
        check ((finished_at is null) = (status in ('RUNNING', 'QUEUED')));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table executions drop constraint if exists executions_finished_check;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

/** Per-rule counters (summed over instances) and the index the queue of QUEUED runs is read by. */
export class Migration20261126020000_rule_stats_and_queue extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table rule_stats (
        rule_id uuid primary key,
        matched bigint not null default 0,
        ran bigint not null default 0,
        held bigint not null default 0,
        failed bigint not null default 0,
        updated_at timestamptz(3) not null default now()
      );`);
    this.addSql(`create index executions_queued_index on executions (rule_id, started_at, id) where status = 'QUEUED';`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists executions_queued_index;`);
    this.addSql(`drop table if exists rule_stats;`);
  }
}

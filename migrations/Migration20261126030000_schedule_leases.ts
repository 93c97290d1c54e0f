import { Migration } from '@mikro-orm/migrations';

/**
 * One lease row per active SCHEDULE or METRIC rule: the next due run, who holds it (until when),
 * and, for METRIC, whether the rule is armed (edge trigger). A due run is claimed with one
 * conditional UPDATE, so exactly one instance fires it, on PostgreSQL and PGlite alike.
 * Also the index retention reads direct API runs by.
 */
export class Migration20261126030000_schedule_leases extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table schedule_leases (
        rule_id uuid primary key,
        kind text not null,
        timing text not null,
        rule_updated_at timestamptz(3) not null,
        due_at timestamptz(3) not null,
        owner uuid null,
        lease_until timestamptz(3) null,
        taken_over boolean not null default false,
        last_fired_due timestamptz(3) null,
        last_fired_at timestamptz(3) null,
        metric_armed boolean not null default true,
        updated_at timestamptz(3) not null default now()
      );`);
    this.addSql(`create index api_executions_started_index on api_executions (started_at) where execution_id is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists api_executions_started_index;`);
    this.addSql(`drop table if exists schedule_leases;`);
  }
}

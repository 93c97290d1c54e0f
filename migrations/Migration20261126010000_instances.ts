import { Migration } from '@mikro-orm/migrations';

/** Service instances and their heartbeats, so any instance can sweep the runs of a dead one. */
export class Migration20261126010000_instances extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table instances (
        id uuid primary key,
        hostname text not null,
        pid integer not null,
        started_at timestamptz(3) not null default now(),
        heartbeat_at timestamptz(3) not null default now()
      );`);
    this.addSql(`create index instances_heartbeat_index on instances (heartbeat_at);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists instances;`);
  }
}

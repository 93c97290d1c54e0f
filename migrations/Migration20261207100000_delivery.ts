import { Migration } from '@mikro-orm/migrations';

/**
 * Reliable delivery: webhook attempts kept on their execution (due ones claimed from the
 * database by any instance), redeliveries, and the idempotency keys of repeated calls.
 */
export class Migration20261207100000_delivery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table executions
        add column attempts jsonb null,
        add column next_attempt_at timestamptz(3) null,
        add column redelivery_of uuid null,
        add column webhook_id uuid null,
        add column delivery jsonb null,
        add column attempt_owner uuid null;`);
    // Due attempts, read oldest first by every instance's delivery worker.
    this.addSql(`create index executions_retrying_index on executions (next_attempt_at) where status = 'RETRYING';`);
    // Attempts in flight, which the heartbeat sweep looks for among the instances that stopped.
    this.addSql(`create index executions_attempt_owner_index on executions (attempt_owner) where attempt_owner is not null;`);
    this.addSql(`create index executions_redelivery_of_index on executions (redelivery_of) where redelivery_of is not null;`);
    this.addSql(`
      create table idempotency_keys (
        operation text not null,
        principal text not null,
        key text not null,
        request_hash text not null,
        result jsonb null,
        created_at timestamptz(3) not null,
        expires_at timestamptz(3) not null,
        primary key (operation, principal, key)
      );`);
    this.addSql(`create index idempotency_keys_expires_at_index on idempotency_keys (expires_at);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists idempotency_keys;`);
    this.addSql(`drop index if exists executions_redelivery_of_index;`);
    this.addSql(`drop index if exists executions_attempt_owner_index;`);
    this.addSql(`drop index if exists executions_retrying_index;`);
    this.addSql(`
      alter table executions
        drop column attempts, drop column next_attempt_at, drop column redelivery_of,
        drop column webhook_id, drop column delivery, drop column attempt_owner;`);
  }
}

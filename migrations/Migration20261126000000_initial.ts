import { Migration } from '@mikro-orm/migrations';

export class Migration20261126000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table rules (
        id uuid primary key,
        name text not null,
        description text null,
        trigger_type text not null,
        trigger_spec jsonb not null,
        action_spec jsonb not null,
        action_type text not null,
        active boolean not null default true,
        created_by text null,
        created_at timestamptz(3) not null,
        updated_at timestamptz(3) not null,
        constraint rules_name_unique unique (name)
      );`);
    this.addSql(`create index rules_created_at_id_index on rules (created_at desc, id desc);`);

    this.addSql(`
      create table api_definitions (
        id uuid primary key,
        name text not null,
        description text null,
        kind text not null,
        source text null,
        http_spec jsonb null,
        param_schema jsonb null,
        timeout_ms integer not null,
        memory_limit_mb integer not null,
        allow_network boolean not null default false,
        allowed_hosts jsonb not null default '[]',
        active boolean not null default true,
        created_by text null,
        created_at timestamptz(3) not null,
        updated_at timestamptz(3) not null,
        constraint api_definitions_name_unique unique (name)
      );`);
    this.addSql(`create index api_definitions_created_at_id_index on api_definitions (created_at desc, id desc);`);

    this.addSql(`
      create table executions (
        id uuid primary key,
        rule_id uuid not null,
        rule_name text null,
        status text not null,
        condition_met boolean not null,
        executed_by text not null,
        payload jsonb null,
        action_type text null,
        result jsonb null,
        "references" jsonb not null default '{}',
        error_code text null,
        error_message text null,
        skip_reason text null,
        duration_ms integer null,
        started_at timestamptz(3) not null,
        finished_at timestamptz(3) null,
        cascade_id uuid not null,
        parent_id uuid null,
        depth integer not null default 0,
        lock_key uuid null,
        instance_id uuid null
      );`);
    this.addSql(`create index executions_started_at_id_index on executions (started_at desc, id desc);`);
    this.addSql(`create index executions_rule_started_index on executions (rule_id, started_at desc, id desc);`);
    this.addSql(`create index executions_cascade_index on executions (cascade_id, started_at, id);`);
    this.addSql(`create index executions_parent_index on executions (parent_id) where parent_id is not null;`);
    this.addSql(`create index executions_unfinished_index on executions (instance_id, status) where status in ('RUNNING', 'QUEUED');`);
    // One run per rule at a time: the lock is a row, so it holds across instances and on PGlite alike.
    this.addSql(`create unique index executions_lock_key_unique on executions (lock_key) where lock_key is not null;`);

    this.addSql(`
      create table api_executions (
        id uuid primary key,
        api_id uuid not null,
        status text not null,
        params jsonb null,
        input jsonb null,
        output jsonb null,
        error_code text null,
        error_message text null,
        duration_ms integer null,
        executed_by text not null,
        started_at timestamptz(3) not null,
        finished_at timestamptz(3) null,
        execution_id uuid null,
        rule_id uuid null,
        cascade_id uuid null
      );`);
    this.addSql(`create index api_executions_api_started_index on api_executions (api_id, started_at desc, id desc);`);
    this.addSql(`create index api_executions_execution_index on api_executions (execution_id) where execution_id is not null;`);

    this.addSql(`
      create table action_logs (
        execution_id uuid not null,
        seq integer not null,
        cascade_id uuid null,
        rule_id uuid null,
        api_execution_id uuid null,
        at timestamptz(3) not null,
        level text not null,
        message text not null,
        data jsonb null,
        primary key (execution_id, seq)
      );`);
    this.addSql(`create index action_logs_api_execution_index on action_logs (api_execution_id, seq) where api_execution_id is not null;`);

    this.addSql(`
      create table cascade_events (
        cascade_id uuid not null,
        seq integer not null,
        at timestamptz(3) not null,
        kind text not null,
        execution_id uuid not null,
        rule_id uuid not null,
        rule_name text null,
        depth integer not null,
        status text null,
        message text null,
        primary key (cascade_id, seq)
      );`);
  }

  override async down(): Promise<void> {
    for (const table of ['cascade_events', 'action_logs', 'api_executions', 'executions', 'api_definitions', 'rules']) {
      this.addSql(`drop table if exists ${table};`);
    }
  }
}

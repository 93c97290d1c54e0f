import { Migration } from '@mikro-orm/migrations';

/**
 * Cascade events are stored one row per run of consecutive events of one execution
 * (`cascade_event_runs`: the run's first and last seq, its execution's ids, and the events as a
 * JSON array of `{at, kind, status, message}`), instead of one row per event. A webhook run
 * writes two rows instead of six: each event row was a heap insert and a primary-key insert in
 * the statement of its step (see docs/decisions.md, "Writing executions").
 *
 * `cascade_events` becomes a view with the columns the table had, one row per event, so that
 * readers (and people querying the database) see events as before. Existing events move over,
 * one run each.
 */
export class Migration20261127020000_cascade_event_runs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table cascade_event_runs (
        cascade_id uuid not null,
        seq integer not null,
        last_seq integer not null,
        execution_id uuid not null,
        rule_id uuid not null,
        rule_name text null,
        depth integer not null,
        events jsonb not null,
        primary key (cascade_id, seq)
      );`);
    this.addSql(`
      insert into cascade_event_runs (cascade_id, seq, last_seq, execution_id, rule_id, rule_name, depth, events)
      select cascade_id, seq, seq, execution_id, rule_id, rule_name, depth,
             jsonb_build_array(jsonb_build_object(
               'at', to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'kind', kind, 'status', status, 'message', message))
      from cascade_events;`);
    this.addSql(`drop table cascade_events;`);
    this.addSql(`
      create view cascade_events as
      select r.cascade_id, r.seq + e.n::integer - 1 as seq, (e.event->>'at')::timestamptz(3) as at, e.event->>'kind' as kind,
             r.execution_id, r.rule_id, r.rule_name, r.depth, e.event->>'status' as status, e.event->>'message' as message
      from cascade_event_runs r cross join lateral jsonb_array_elements(r.events) with ordinality as e(event, n);`);
  }

  override async down(): Promise<void> {
    this.addSql(`
      create table cascade_events_rows (
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
    this.addSql(`insert into cascade_events_rows select * from cascade_events;`);
    this.addSql(`drop view cascade_events;`);
    this.addSql(`drop table cascade_event_runs;`);
    this.addSql(`alter table cascade_events_rows rename to cascade_events;`);
    this.addSql(`alter table cascade_events rename constraint cascade_events_rows_pkey to cascade_events_pkey;`);
  }
}

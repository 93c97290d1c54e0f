import { Migration } from '@mikro-orm/migrations';

/** API keys (hashes only), encrypted secrets and the audit trail of configuration changes. */
export class Migration20261207000000_access extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table api_keys (
        id uuid primary key,
        name text not null,
        role text not null,
        prefix text not null,
        hash text not null,
        created_by text null,
        created_at timestamptz(3) not null,
        last_used_at timestamptz(3) null,
        expires_at timestamptz(3) null,
        revoked_at timestamptz(3) null,
        constraint api_keys_hash_unique unique (hash)
      );`);
    this.addSql(`create index api_keys_created_at_id_index on api_keys (created_at, id);`);
    // Names are unique among keys that are not revoked (SPEC.md, 'Access').
    this.addSql(`create unique index api_keys_name_active_unique on api_keys (name) where revoked_at is null;`);
    this.addSql(`
      create table secrets (
        name text primary key,
        ciphertext text not null,
        key_id text not null,
        created_at timestamptz(3) not null,
        updated_at timestamptz(3) not null
      );`);
    this.addSql(`
      create table audit_entries (
        id uuid primary key,
        at timestamptz(3) not null,
        actor text not null,
        action text not null,
        target_id text null,
        detail jsonb null
      );`);
    this.addSql(`create index audit_entries_at_id_index on audit_entries (at, id);`);
    this.addSql(`create index audit_entries_actor_index on audit_entries (actor);`);
    this.addSql(`create index audit_entries_target_id_index on audit_entries (target_id);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists audit_entries;`);
    this.addSql(`drop table if exists secrets;`);
    this.addSql(`drop table if exists api_keys;`);
  }
}

import { EntitySchema } from '@mikro-orm/core';

/** One change of configuration (SPEC.md, 'Access'): who, which mutation, on what, with which arguments. */
export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  targetId: string | null;
  /** The arguments, with secret values, key secrets and literal credentials removed. */
  detail: unknown;
}

export const AuditEntrySchema = new EntitySchema<AuditEntry>({
  name: 'AuditEntry',
  tableName: 'audit_entries',
  properties: {
    id: { type: 'uuid', primary: true },
    at: { type: 'Date', columnType: 'timestamptz(3)' },
    actor: { type: 'text' },
    action: { type: 'text' },
    targetId: { type: 'text', nullable: true },
    detail: { type: 'json', nullable: true },
  },
  indexes: [
    { name: 'audit_entries_at_id_index', properties: ['at', 'id'] },
    { name: 'audit_entries_actor_index', properties: ['actor'] },
    { name: 'audit_entries_target_id_index', properties: ['targetId'] },
  ],
});

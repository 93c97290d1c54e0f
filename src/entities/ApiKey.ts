import { EntitySchema } from '@mikro-orm/core';

export type RoleValue = 'ADMIN' | 'EDITOR' | 'VIEWER' | 'PUBLISHER';

/** An API key (SPEC.md, 'Access'). Only the SHA-256 of the key is kept. */
export interface ApiKey {
  id: string;
  name: string;
  role: RoleValue;
  /** The first 12 characters of the key, to recognise it. */
  prefix: string;
  /** SHA-256 of the whole key, hex. */
  hash: string;
  createdBy: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export const ApiKeySchema = new EntitySchema<ApiKey>({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    role: { type: 'text' },
    prefix: { type: 'text' },
    hash: { type: 'text', unique: 'api_keys_hash_unique' },
    createdBy: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz(3)' },
    lastUsedAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    expiresAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
  },
  indexes: [{ name: 'api_keys_created_at_id_index', properties: ['createdAt', 'id'] }],
  uniques: [
    {
      // Names are unique among keys that are not revoked.
      name: 'api_keys_name_active_unique',
      expression: 'create unique index api_keys_name_active_unique on api_keys (name) where revoked_at is null',
    },
  ],
});

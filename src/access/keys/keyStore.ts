import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKeySchema, type ApiKey } from '../../entities/index.js';

/** The reads and writes of api_keys that authentication needs. */
export interface KeyStore {
  findByHash(hash: string): Promise<ApiKey | null>;
  /** Of these ids, those of keys revoked since. */
  revokedAmong(ids: readonly string[]): Promise<string[]>;
  /** Marks the keys used at `at` (lastUsedAt). */
  touch(ids: readonly string[], at: Date): Promise<void>;
}

export function ormKeyStore(fork: () => EntityManager): KeyStore {
  return {
    findByHash: (hash) => fork().findOne(ApiKeySchema, { hash }, { disableIdentityMap: true }),
    async revokedAmong(ids) {
      if (ids.length === 0) return [];
      const rows = await fork().find(ApiKeySchema, { id: { $in: [...ids] }, revokedAt: { $ne: null } }, { fields: ['id'], disableIdentityMap: true });
      return rows.map((row) => row.id);
    },
    async touch(ids, at) {
      if (ids.length === 0) return;
      await fork().nativeUpdate(ApiKeySchema, { id: { $in: [...ids] } }, { lastUsedAt: at });
    },
  };
}

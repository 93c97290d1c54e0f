import { parseTimestamp, type Sql } from './sqlClient.js';

/** A stored secret as the vault reads it: the sealed value and which key sealed it. */
export interface SealedSecret {
  name: string;
  ciphertext: string;
  keyId: string;
}

export interface SecretListing {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The `secrets` table: names in clear, values only as AES-256-GCM envelopes (secrets/cipher.ts). */
export class SecretStore {
  constructor(private readonly sql: Sql) {}

  async list(): Promise<SecretListing[]> {
    const rows = await this.sql.query<{ name: string; created_at: unknown; updated_at: unknown }>(
      'SELECT name, created_at, updated_at FROM secrets ORDER BY name COLLATE "C"',
    );
    return rows.map((row) => ({ name: row.name, createdAt: parseTimestamp(row.created_at), updatedAt: parseTimestamp(row.updated_at) }));
  }

  /** The named secrets that exist. Names are checked by the caller (letters, digits and _ only). */
  async sealed(names: readonly string[]): Promise<SealedSecret[]> {
    if (names.length === 0) return [];
    const rows = await this.sql.query<{ name: string; ciphertext: string; key_id: string }>(
      'SELECT name, ciphertext, key_id FROM secrets WHERE name = ANY(?::text[])',
      [`{${names.join(',')}}`],
    );
    return rows.map((row) => ({ name: row.name, ciphertext: row.ciphertext, keyId: row.key_id }));
  }

  /** Every secret not sealed by the key `keyId` (to be rewritten under it). */
  async sealedByOtherKeys(keyId: string): Promise<SealedSecret[]> {
    const rows = await this.sql.query<{ name: string; ciphertext: string; key_id: string }>(
      'SELECT name, ciphertext, key_id FROM secrets WHERE key_id <> ? ORDER BY name',
      [keyId],
    );
    return rows.map((row) => ({ name: row.name, ciphertext: row.ciphertext, keyId: row.key_id }));
  }

  /** Creates or replaces; answers the row as stored. */
  async put(secret: SealedSecret, now: Date): Promise<SecretListing> {
    const [row] = await this.sql.query<{ name: string; created_at: unknown; updated_at: unknown }>(
      `INSERT INTO secrets (name, ciphertext, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id,
         updated_at = GREATEST(excluded.updated_at, secrets.updated_at + interval '1 millisecond')
       RETURNING name, created_at, updated_at`,
      [secret.name, secret.ciphertext, secret.keyId, now, now],
    );
    return { name: row!.name, createdAt: parseTimestamp(row!.created_at), updatedAt: parseTimestamp(row!.updated_at) };
  }

  /** Rewrites a value under another key, unless it changed since it was read (another instance rotated it, or it was set anew). */
  async reseal(name: string, from: SealedSecret, to: { ciphertext: string; keyId: string }): Promise<boolean> {
    const rows = await this.sql.query('UPDATE secrets SET ciphertext = ?, key_id = ? WHERE name = ? AND ciphertext = ? RETURNING name', [
      to.ciphertext,
      to.keyId,
      name,
      from.ciphertext,
    ]);
    return rows.length > 0;
  }

  async delete(name: string): Promise<boolean> {
    const rows = await this.sql.query('DELETE FROM secrets WHERE name = ? RETURNING name', [name]);
    return rows.length > 0;
  }
}

import type { Sql } from '../engine/store/sqlClient.js';
import { parseTimestamp } from '../engine/store/sqlClient.js';
import { storableJsonText } from '../shared/storable.js';

/** Which call a row of idempotency_keys stands for. */
export interface IdempotencySlot {
  operation: string;
  principal: string;
  key: string;
}

/** A row as it is now: the hash of the first call's arguments and, once known, its answer. */
export interface IdempotencyRow {
  requestHash: string;
  /** Null while the first call is still running. */
  result: unknown;
  createdAt: Date;
  expiresAt: Date;
}

// A free slot is taken; so is one whose row has expired (replaced as a new claim). A row still
// valid is left alone and nothing comes back. One statement, so racing claims give one winner.
const CLAIM = `
INSERT INTO idempotency_keys (operation, principal, key, request_hash, result, created_at, expires_at)
VALUES (?, ?, ?, ?, NULL, ?::timestamptz, ?::timestamptz)
ON CONFLICT (operation, principal, key) DO UPDATE
  SET request_hash = excluded.request_hash, result = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE idempotency_keys.expires_at < excluded.created_at
RETURNING created_at`;

/** The rows of idempotency_keys (SPEC.md, 'Idempotency'). */
export class IdempotencyStore {
  constructor(private readonly sql: Sql) {}

  /** Takes the slot for a call made at `now`; answers whether this call won it. */
  async claim(slot: IdempotencySlot, requestHash: string, now: Date, expiresAt: Date): Promise<boolean> {
    const rows = await this.sql.query(CLAIM, [slot.operation, slot.principal, slot.key, requestHash, now.toISOString(), expiresAt.toISOString()]);
    return rows.length > 0;
  }

  async read(slot: IdempotencySlot): Promise<IdempotencyRow | null> {
    const [row] = await this.sql.query<{ request_hash: string; result: unknown; created_at: unknown; expires_at: unknown }>(
      'SELECT request_hash, result, created_at, expires_at FROM idempotency_keys WHERE operation = ? AND principal = ? AND key = ?',
      [slot.operation, slot.principal, slot.key],
    );
    if (!row) return null;
    const result = typeof row.result === 'string' ? (JSON.parse(row.result) as unknown) : row.result;
    return { requestHash: row.request_hash, result, createdAt: parseTimestamp(row.created_at), expiresAt: parseTimestamp(row.expires_at) };
  }

  /** Stores the answer of the claim made at `claimedAt` (a replaced claim is not overwritten). */
  async remember(slot: IdempotencySlot, claimedAt: Date, result: unknown): Promise<void> {
    await this.sql.query('UPDATE idempotency_keys SET result = ?::jsonb WHERE operation = ? AND principal = ? AND key = ? AND created_at = ?::timestamptz', [
      storableJsonText(result),
      slot.operation,
      slot.principal,
      slot.key,
      claimedAt.toISOString(),
    ]);
  }

  /** Gives up the claim made at `claimedAt`, while it holds no answer: the call ran nothing. */
  async release(slot: IdempotencySlot, claimedAt: Date): Promise<void> {
    await this.sql.query('DELETE FROM idempotency_keys WHERE operation = ? AND principal = ? AND key = ? AND created_at = ?::timestamptz AND result IS NULL', [
      slot.operation,
      slot.principal,
      slot.key,
      claimedAt.toISOString(),
    ]);
  }
}

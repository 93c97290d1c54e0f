import { EntitySchema } from '@mikro-orm/core';

/**
 * A call made with an idempotency key (SPEC.md, 'Idempotency'): which operation, by whom, the
 * hash of its arguments and, once it ran, what it answered. A row without a result is a call
 * still running; racing calls with the same key wait for it.
 */
export interface IdempotencyKey {
  operation: string;
  /** The API key's id, or `open` in OPEN mode. */
  principal: string;
  key: string;
  requestHash: string;
  result: unknown;
  createdAt: Date;
  expiresAt: Date;
}

export const IdempotencyKeySchema = new EntitySchema<IdempotencyKey>({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    operation: { type: 'text', primary: true },
    principal: { type: 'text', primary: true },
    key: { type: 'text', primary: true },
    requestHash: { type: 'text' },
    result: { type: 'json', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz(3)' },
    expiresAt: { type: 'Date', columnType: 'timestamptz(3)' },
  },
  indexes: [{ name: 'idempotency_keys_expires_at_index', properties: ['expiresAt'] }],
});

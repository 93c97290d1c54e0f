import { EntitySchema } from '@mikro-orm/core';

/** A named secret (SPEC.md, 'Secrets'): its value only ever stored encrypted. */
export interface Secret {
  name: string;
  /** AES-256-GCM envelope of the value (engine/secrets/cipher.ts); never the value in clear. */
  ciphertext: string;
  /** Which SECRETS_KEY sealed it: the first 16 hex digits of the key's SHA-256. */
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

export const SecretSchema = new EntitySchema<Secret>({
  name: 'Secret',
  tableName: 'secrets',
  properties: {
    name: { type: 'text', primary: true },
    ciphertext: { type: 'text' },
    keyId: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz(3)' },
    updatedAt: { type: 'Date', columnType: 'timestamptz(3)' },
  },
});

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * The envelope of a stored secret: AES-256-GCM with a fresh 96-bit nonce per value and the
 * secret's name as additional data, so a value cannot be moved to another name unnoticed.
 * Written as `v1.<nonce>.<tag>.<ciphertext>` (base64url); the key that sealed it is named
 * beside it by its key id.
 */
const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Thrown when an envelope does not open with the key: tampered, truncated, or another key. */
export class SealedValueError extends Error {
  constructor(detail: string) {
    super(`the sealed value cannot be opened: ${detail}`);
    this.name = 'SealedValueError';
  }
}

/** The first 16 hex digits of the key's SHA-256: names a key without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function seal(key: Buffer, plaintext: string, associated: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, nonce.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

export function open(key: Buffer, envelope: string, associated: string): string {
  const parts = envelope.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new SealedValueError('not a v1 envelope');
  const nonce = Buffer.from(parts[1]!, 'base64url');
  const tag = Buffer.from(parts[2]!, 'base64url');
  const ciphertext = Buffer.from(parts[3]!, 'base64url');
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw new SealedValueError('malformed nonce or tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associated, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedValueError('authentication failed');
  }
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What every minted key starts with, so scanners and people can tell one at a glance. */
export const KEY_PREFIX = 'cep_';
/** Characters of a key that `ApiKey.prefix` keeps, to recognise it. */
export const SHOWN_PREFIX_LENGTH = 12;

/** A new key: `cep_` and 43 base64url characters of 32 random bytes. */
export function mintKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What is stored of a key: its SHA-256, hex. A key has 256 random bits, so no slow hash is needed. */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const sameHash = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const KEY_SHAPE = /^[\x21-\x7e]{32,512}$/;

export type BearerReading = { kind: 'missing' } | { kind: 'malformed'; reason: string } | { kind: 'key'; key: string };

/**
 * Reads `Authorization: Bearer KEY`. A key is 32 to 512 visible ASCII characters (minted keys
 * and ADMIN_KEY both); anything else is refused for its shape before any lookup.
 */
export function readBearer(header: string | null | undefined): BearerReading {
  if (header == null || header.trim() === '') return { kind: 'missing' };
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) return { kind: 'malformed', reason: 'the Authorization header must be "Bearer " followed by the key' };
  const key = match[1]!;
  if (!KEY_SHAPE.test(key)) return { kind: 'malformed', reason: 'an API key is 32 to 512 visible ASCII characters' };
  return { kind: 'key', key };
}

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SealedValueError, keyIdOf, open, seal } from '../../src/engine/secrets/cipher.js';

/** The envelope of stored secrets (SPEC.md, 'Secrets'): AES-256-GCM, bound to the secret's name. */
describe('secrets cipher', () => {
  const key = randomBytes(32);
  const value = 'sk_live_0123456789abcdef ✓';

  it('opens what it sealed, and never holds the value in clear', () => {
    const envelope = seal(key, value, 'STRIPE');
    expect(envelope).not.toContain(value);
    expect(envelope.startsWith('v1.')).toBe(true);
    expect(open(key, envelope, 'STRIPE')).toBe(value);
  });

  it('seals the same value differently each time (a fresh nonce)', () => {
    expect(seal(key, value, 'A')).not.toBe(seal(key, value, 'A'));
  });

  it('refuses a tampered ciphertext, tag or nonce', () => {
    const envelope = seal(key, value, 'STRIPE');
    const parts = envelope.split('.');
    for (const index of [1, 2, 3]) {
      const bytes = Buffer.from(parts[index]!, 'base64url');
      bytes[0] = bytes[0]! ^ 0x01;
      const tampered = parts.map((p, i) => (i === index ? bytes.toString('base64url') : p)).join('.');
      expect(() => open(key, tampered, 'STRIPE')).toThrow(SealedValueError);
    }
    expect(() => open(key, 'v1.abc', 'STRIPE')).toThrow(SealedValueError);
  });

  it('refuses another key, and the value moved to another name', () => {
    const envelope = seal(key, value, 'STRIPE');
    expect(() => open(randomBytes(32), envelope, 'STRIPE')).toThrow(SealedValueError);
    expect(() => open(key, envelope, 'OTHER')).toThrow(SealedValueError);
  });

  it('names a key by the first 16 hex digits of its SHA-256', () => {
    const zero = Buffer.alloc(32);
    expect(keyIdOf(zero)).toBe('66687aadf862bd77');
    expect(keyIdOf(key)).toMatch(/^[0-9a-f]{16}$/);
  });
});

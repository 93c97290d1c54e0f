import type { Logger } from '../../logger.js';
import type { Clock } from '../../shared/clock.js';
import type { SealedSecret, SecretListing, SecretStore } from '../store/secretStore.js';
import { open, seal } from './cipher.js';
import type { Keyring, SecretsKey } from './keyring.js';
import type { Redactor } from './redactor.js';

export type { SecretListing } from '../store/secretStore.js';

/** setSecret without a key to seal with (PostgreSQL without SECRETS_KEY). */
export class SecretsKeyMissingError extends Error {
  constructor() {
    super('secrets cannot be stored: SECRETS_KEY is not set (32 bytes as 64 hex digits or base64, e.g. openssl rand -hex 32)');
    this.name = 'SecretsKeyMissingError';
  }
}

/** The secrets one send needs, or the first that cannot be had, with why. */
export type SecretLookup = { ok: true; values: Record<string, string> } | { ok: false; name: string; message: string };

/** How the engine reads secrets when it sends a request. */
export interface SecretReader {
  /** Reads the named secrets and tells the run's redactor to hide their values. */
  lookup(names: readonly string[], redactor: Redactor): Promise<SecretLookup>;
}

/**
 * Secrets at rest: sealed with the current key (AES-256-GCM, secrets/cipher.ts) when set, opened
 * with whichever key sealed them (current or previous) when read.
 */
export class SecretVault implements SecretReader {
  constructor(
    private readonly store: SecretStore,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  list(): Promise<SecretListing[]> {
    return this.store.list();
  }

  /** Creates or replaces; SecretsKeyMissingError when there is no key to seal with. */
  async set(name: string, value: string): Promise<SecretListing> {
    const key = this.keyring.current;
    if (!key) throw new SecretsKeyMissingError();
    return this.store.put({ name, ciphertext: seal(key.key, value, name), keyId: key.id }, this.clock.now());
  }

  delete(name: string): Promise<boolean> {
    return this.store.delete(name);
  }

  private keyFor(keyId: string): SecretsKey | null {
    const { current, previous } = this.keyring;
    if (current?.id === keyId) return current;
    if (previous?.id === keyId) return previous;
    return null;
  }

  /** The value in clear, or why it cannot be read. */
  private unseal(sealed: SealedSecret): { ok: true; value: string } | { ok: false; message: string } {
    const key = this.keyFor(sealed.keyId);
    if (!key) {
      const why = this.keyring.current ? 'it was stored under another key than SECRETS_KEY (or SECRETS_KEY_PREVIOUS)' : 'SECRETS_KEY is not set';
      return { ok: false, message: `secret ${sealed.name} cannot be read: ${why}` };
    }
    try {
      return { ok: true, value: open(key.key, sealed.ciphertext, sealed.name) };
    } catch {
      return { ok: false, message: `secret ${sealed.name} cannot be read: its stored value does not open with its key` };
    }
  }

  async lookup(names: readonly string[], redactor: Redactor): Promise<SecretLookup> {
    if (names.length === 0) return { ok: true, values: {} };
    const stored = new Map((await this.store.sealed(names)).map((s) => [s.name, s]));
    const values: Record<string, string> = {};
    for (const name of names) {
      const sealed = stored.get(name);
      if (!sealed) return { ok: false, name, message: `secret ${name} does not exist (set it with setSecret)` };
      const opened = this.unseal(sealed);
      if (!opened.ok) return { ok: false, name, message: opened.message };
      redactor.add(opened.value);
      values[name] = opened.value;
    }
    return { ok: true, values };
  }

  /**
   * Rotation, at start: every value not under the current key is opened with the previous one
   * and sealed again under the current one. Values that open with neither are left as they are
   * (named in the log; sends that use them fail until they are set again).
   */
  async rotate(): Promise<{ resealed: number; unreadable: string[] }> {
    const current = this.keyring.current;
    if (!current) return { resealed: 0, unreadable: [] };
    let resealed = 0;
    const unreadable: string[] = [];
    for (const sealed of await this.store.sealedByOtherKeys(current.id)) {
      const opened = this.unseal(sealed);
      if (!opened.ok) {
        unreadable.push(sealed.name);
        continue;
      }
      if (await this.store.reseal(sealed.name, sealed, { ciphertext: seal(current.key, opened.value, sealed.name), keyId: current.id })) resealed++;
    }
    if (resealed > 0 || this.keyring.previous) this.logger.info({ resealed, keyId: current.id }, 'secrets rewritten under the current SECRETS_KEY');
    if (unreadable.length > 0) {
      this.logger.warn({ secrets: unreadable }, 'some secrets are under a key that is neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS; set them again');
    }
    return { resealed, unreadable };
  }
}

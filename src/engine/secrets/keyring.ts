import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open as openFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { keyIdOf } from './cipher.js';

/** The file, inside the embedded database's directory, that holds its generated key (hex). */
export const EMBEDDED_KEY_FILE = 'secrets.key';

export interface SecretsKey {
  id: string;
  key: Buffer;
}

/** The keys of stored secrets: the one new values are sealed with, and the one being rotated out. */
export interface Keyring {
  /** Null on PostgreSQL without SECRETS_KEY: nothing can be sealed or opened. */
  current: SecretsKey | null;
  previous: SecretsKey | null;
  /** Where the current key came from. */
  source: 'SECRETS_KEY' | 'file' | 'none';
}

const named = (key: Buffer): SecretsKey => ({ id: keyIdOf(key), key });

/**
 * The embedded database's own key: read from its directory, or made once (32 random bytes,
 * file mode 0600) when there is none, so that a copy of the directory carries it.
 */
async function embeddedKey(dataDir: string): Promise<Buffer> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, EMBEDDED_KEY_FILE);
  await mkdir(dir, { recursive: true });
  try {
    const handle = await openFile(file, 'wx', 0o600);
    try {
      await handle.writeFile(`${randomBytes(32).toString('hex')}\n`);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  await chmod(file, 0o600).catch(() => undefined);
  const text = (await readFile(file, 'utf8')).trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`the secrets key file ${file} does not hold 64 hex digits`);
  return Buffer.from(text, 'hex');
}

export async function loadKeyring(options: { secretsKey?: Buffer; secretsKeyPrevious?: Buffer; embeddedDataDir: string | null }): Promise<Keyring> {
  const previous = options.secretsKeyPrevious ? named(options.secretsKeyPrevious) : null;
  if (options.secretsKey) return { current: named(options.secretsKey), previous, source: 'SECRETS_KEY' };
  if (options.embeddedDataDir !== null) return { current: named(await embeddedKey(options.embeddedDataDir)), previous, source: 'file' };
  return { current: null, previous, source: 'none' };
}

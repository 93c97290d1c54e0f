import { badTextReason, SECRET_NAME, SecretsKeyMissingError, type Engine, type SecretListing } from '../engine/index.js';
import { AppError, badInput } from '../errors.js';

export const MIN_SECRET_LENGTH = 8;
export const MAX_SECRET_LENGTH = 65_536;

/** Refusals name the argument and why, never the value. */
function checkSecretName(name: string): string {
  if (!SECRET_NAME.test(name)) {
    throw badInput('name: expected a letter or _ followed by at most 63 letters, digits or _ (^[A-Za-z_][A-Za-z0-9_]{0,63}$)', { field: 'name' });
  }
  return name;
}

function checkSecretValue(value: string): string {
  const length = [...value].length;
  if (length < MIN_SECRET_LENGTH || length > MAX_SECRET_LENGTH) {
    throw badInput(`value: expected ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH.toLocaleString('en')} characters, got ${length}`, { field: 'value' });
  }
  const reason = badTextReason(value);
  if (reason !== null) throw badInput(`value: ${reason}`, { field: 'value' });
  return value;
}

/** Named secrets (SPEC.md, 'Secrets'): values go in, only names and times come out. */
export class SecretService {
  constructor(private readonly engine: Engine) {}

  list(): Promise<SecretListing[]> {
    return this.engine.secrets();
  }

  async set(name: string, value: string): Promise<SecretListing> {
    checkSecretName(name);
    checkSecretValue(value);
    try {
      return await this.engine.setSecret(name, value);
    } catch (error) {
      if (error instanceof SecretsKeyMissingError) throw new AppError('FAILED_PRECONDITION', error.message, { setting: 'SECRETS_KEY' });
      throw error;
    }
  }

  /** False when there was no such secret (a name that cannot be a secret's included). */
  async delete(name: string): Promise<boolean> {
    if (!SECRET_NAME.test(name)) return false;
    return this.engine.deleteSecret(name);
  }
}

import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ROLES, type Role } from '../access/principal.js';
import { hashKey, mintKey, SHOWN_PREFIX_LENGTH } from '../access/keys/keyText.js';
import { ApiKeySchema, type ApiKey } from '../entities/index.js';
import { badInput, notFound } from '../errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { isUuid, newId } from '../shared/ids.js';
import { checkName } from './names.js';

export interface CreateApiKeyInput {
  name: string;
  role: Role | string;
  expiresAt?: Date | null;
}

/**
 * Names a key may not take: the ADMIN_KEY's and OPEN mode's, and the words `executedBy` uses for
 * runs nobody keyed (SPEC.md, 'Access'), so attribution is never ambiguous.
 */
export const RESERVED_KEY_NAMES: readonly string[] = ['admin', 'local', 'manual', 'api', 'event', 'scheduler', 'metric-poll', 'cascade', 'rule', 'redeliver'];

/** Keys: minted here, shown once, kept as a hash, revoked for good. */
export class ApiKeyService {
  constructor(
    private readonly fork: () => EntityManager,
    private readonly clock: Clock = systemClock,
    /** Told of each key this instance revokes, so it is refused at once here. */
    private readonly onRevoked: (id: string) => void = () => undefined,
  ) {}

  /** Newest first; revoked and expired keys included. */
  list(): Promise<ApiKey[]> {
    return this.fork().find(ApiKeySchema, {}, { orderBy: { createdAt: 'desc', id: 'desc' }, disableIdentityMap: true });
  }

  async create(input: CreateApiKeyInput, createdBy: string | null): Promise<{ apiKey: ApiKey; secret: string }> {
    const name = checkName(input.name);
    if (RESERVED_KEY_NAMES.includes(name.toLowerCase()))
      throw badInput(`input.name: "${name}" is reserved (${RESERVED_KEY_NAMES.join(', ')}); choose another name`, { field: 'input.name' });
    if (!ROLES.includes(input.role as Role)) throw badInput(`input.role: expected one of ${ROLES.join(', ')}, got "${input.role}"`, { field: 'input.role' });
    const now = this.clock.now();
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt && !(expiresAt.getTime() > now.getTime())) throw badInput('input.expiresAt: must be in the future', { field: 'input.expiresAt' });
    const secret = mintKey();
    const apiKey: ApiKey = {
      id: newId(),
      name,
      role: input.role as Role,
      prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
      hash: hashKey(secret),
      createdBy,
      createdAt: now,
      lastUsedAt: null,
      expiresAt,
      revokedAt: null,
    };
    try {
      await this.fork().insert(ApiKeySchema, apiKey);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException)
        throw badInput(`input.name: a key named "${name}" already exists (names are unique among keys that are not revoked)`, { field: 'input.name' });
      throw error;
    }
    return { apiKey, secret };
  }

  /** Revokes the key; a revoked key is returned unchanged; an unknown id is NOT_FOUND. */
  async revoke(id: string): Promise<ApiKey> {
    const em = this.fork();
    const found = isUuid(id) ? await em.findOne(ApiKeySchema, { id }, { disableIdentityMap: true }) : null;
    if (!found) throw notFound(`No API key with id ${JSON.stringify(id)}`);
    if (found.revokedAt) return found;
    const revokedAt = this.clock.now();
    const updated = await em.nativeUpdate(ApiKeySchema, { id, revokedAt: null }, { revokedAt });
    this.onRevoked(id);
    if (updated === 0) return (await em.findOne(ApiKeySchema, { id }, { disableIdentityMap: true }))!;
    return { ...found, revokedAt };
  }
}

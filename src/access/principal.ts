import type { RoleValue } from '../entities/index.js';

export type Role = RoleValue;
export type AuthMode = 'OPEN' | 'KEYS';

export const ROLES: readonly Role[] = ['ADMIN', 'EDITOR', 'VIEWER', 'PUBLISHER'];

/** Who a request acts as: a key's name and role, or ADMIN `local` in OPEN mode. */
export interface Principal {
  name: string;
  role: Role;
  /** The stored key's id; null for the ADMIN_KEY and for OPEN mode. */
  keyId: string | null;
  /** When the key stops being accepted; null: never. */
  expiresAt: Date | null;
  authMode: AuthMode;
}

/** Every request of OPEN mode. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({ name: 'local', role: 'ADMIN', keyId: null, expiresAt: null, authMode: 'OPEN' });

/**
 * What each role may do (SPEC.md, 'Access'), as the scopes fields state:
 * - admin: keys and the audit log;
 * - editor: configuration, secrets and runs;
 * - read: every read query and subscription;
 * - publish: publishEvent(s) and POST /events;
 * - anyone: viewer, and what a publisher reads of its publish results.
 */
export type Scope = 'admin' | 'editor' | 'read' | 'publish' | 'anyone';

const SCOPES: Record<Role, ReadonlySet<Scope>> = {
  ADMIN: new Set(['admin', 'editor', 'read', 'publish', 'anyone']),
  EDITOR: new Set(['editor', 'read', 'publish', 'anyone']),
  VIEWER: new Set(['read', 'anyone']),
  PUBLISHER: new Set(['publish', 'anyone']),
};

export const hasScope = (role: Role, scope: Scope): boolean => SCOPES[role].has(scope);

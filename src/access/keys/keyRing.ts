import type { Logger } from '../../logger.js';
import type { Clock, Timer } from '../../shared/clock.js';
import { OPEN_PRINCIPAL, type AuthMode, type Principal } from '../principal.js';
import type { KeyStore } from './keyStore.js';
import { hashKey, sameHash } from './keyText.js';

export interface KeyRingOptions {
  mode: AuthMode;
  adminKey: string | undefined;
  store: KeyStore;
  clock: Clock;
  logger: Logger;
  /** How often revocations by other instances are looked for (SPEC.md: within 5 s). */
  pollMs?: number;
  /** How often lastUsedAt is written (SPEC.md: may lag by up to a minute). */
  touchMs?: number;
}

interface CachedKey {
  principal: Principal;
  lastUsed: number;
}

/** Keys not used for this long leave the cache (and are looked up again on their next use). */
const IDLE_MS = 10 * 60_000;
/** Keys looked up and not found are not looked up again for this long, so guessing costs no query. */
const UNKNOWN_MS = 1_000;
const MAX_CACHED = 10_000;
/** Longer than any lookup takes. */
const JUST_REVOKED_MS = 60_000;

/**
 * Who a key is (SPEC.md, 'Access'): a hash and a cache lookup per request. A key is read from
 * the database once, then served from memory; every `pollMs` the cached keys are checked for
 * revocation by any instance, and keys that were revoked or have expired end the connections
 * and streams that were opened with them.
 */
export class KeyRing {
  private readonly cache = new Map<string, CachedKey>();
  private readonly unknown = new Map<string, number>();
  private readonly adminHash: string | null;
  private readonly used = new Set<string>();
  private readonly open = new Map<string, Set<() => void>>();
  /** Keys revoked here lately (id -> when), so a lookup that was under way then does not cache them again. */
  private readonly justRevoked = new Map<string, number>();
  private pollTimer: Timer | null = null;
  private touchTimer: Timer | null = null;
  private stopped = false;

  constructor(private readonly options: KeyRingOptions) {
    this.adminHash = options.adminKey === undefined ? null : hashKey(options.adminKey);
  }

  get mode(): AuthMode {
    return this.options.mode;
  }

  start(): void {
    if (this.options.mode === 'OPEN') return;
    this.every(
      this.options.pollMs ?? 1_000,
      () => this.poll(),
      'checking API keys for revocation failed',
      (timer) => (this.pollTimer = timer),
    );
    this.every(
      this.options.touchMs ?? 30_000,
      () => this.flushTouches(),
      'writing lastUsedAt of API keys failed',
      (timer) => (this.touchTimer = timer),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pollTimer?.cancel();
    this.touchTimer?.cancel();
    await this.flushTouches();
  }

  /**
   * The principal a key acts as, or null for an unknown, expired or revoked key: at once from
   * memory, or once the database has been asked about a key not seen before.
   */
  authenticate(key: string): Principal | null | Promise<Principal | null> {
    if (this.options.mode === 'OPEN') return OPEN_PRINCIPAL;
    const hash = hashKey(key);
    if (this.adminHash !== null && sameHash(hash, this.adminHash)) return ADMIN_KEY_PRINCIPAL;
    const now = this.options.clock.now().getTime();
    const cached = this.cache.get(hash);
    if (cached) return this.use(cached, now);
    const unknownUntil = this.unknown.get(hash);
    if (unknownUntil !== undefined && unknownUntil > now) return null;
    return this.lookUp(hash, now);
  }

  private async lookUp(hash: string, now: number): Promise<Principal | null> {
    const row = await this.options.store.findByHash(hash);
    if (!row || row.revokedAt || this.justRevoked.has(row.id)) {
      if (this.unknown.size >= MAX_CACHED) this.unknown.clear();
      this.unknown.set(hash, now + UNKNOWN_MS);
      return null;
    }
    this.unknown.delete(hash);
    if (this.cache.size >= MAX_CACHED) this.makeRoom(now);
    const cached: CachedKey = {
      principal: Object.freeze({ name: row.name, role: row.role, keyId: row.id, expiresAt: row.expiresAt, authMode: 'KEYS' as const }),
      lastUsed: now,
    };
    this.cache.set(hash, cached);
    return this.use(cached, now);
  }

  private use(cached: CachedKey, now: number): Principal | null {
    const { principal } = cached;
    if (principal.expiresAt && principal.expiresAt.getTime() <= now) return null;
    cached.lastUsed = now;
    this.used.add(principal.keyId!);
    return principal;
  }

  /**
   * Runs `end` when the principal's key is revoked or expires while the connection or stream
   * lives; the returned function forgets it (call it when the connection closes).
   */
  track(principal: Principal, end: () => void): () => void {
    const keyId = principal.keyId;
    if (keyId === null) return () => undefined;
    let ends = this.open.get(keyId);
    if (!ends) {
      ends = new Set();
      this.open.set(keyId, ends);
    }
    ends.add(end);
    return () => {
      const current = this.open.get(keyId);
      current?.delete(end);
      if (current?.size === 0) this.open.delete(keyId);
    };
  }

  /** A key this instance revoked: refused from now on here; other instances follow within pollMs. */
  revoked(keyId: string): void {
    this.justRevoked.set(keyId, this.options.clock.now().getTime());
    for (const [hash, cached] of this.cache) if (cached.principal.keyId === keyId) this.cache.delete(hash);
    this.endConnections(keyId);
  }

  private endConnections(keyId: string): void {
    const ends = this.open.get(keyId);
    if (!ends) return;
    this.open.delete(keyId);
    for (const end of ends) {
      try {
        end();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'ending a connection of a revoked key failed');
      }
    }
  }

  private evictIdle(now: number): void {
    for (const [hash, cached] of this.cache) {
      if (now - cached.lastUsed > IDLE_MS && !this.open.has(cached.principal.keyId!)) this.cache.delete(hash);
    }
    for (const [hash, until] of this.unknown) if (until <= now) this.unknown.delete(hash);
    for (const [keyId, at] of this.justRevoked) if (now - at > JUST_REVOKED_MS) this.justRevoked.delete(keyId);
  }

  /** A full cache: idle keys go first, then the least recently read, down to nine tenths. */
  private makeRoom(now: number): void {
    this.evictIdle(now);
    if (this.cache.size < MAX_CACHED) return;
    const byUse = [...this.cache].filter(([, cached]) => !this.open.has(cached.principal.keyId!)).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [hash] of byUse.slice(0, this.cache.size - Math.floor(MAX_CACHED * 0.9))) this.cache.delete(hash);
  }

  private async poll(): Promise<void> {
    const now = this.options.clock.now().getTime();
    this.evictIdle(now);
    const ids = new Set<string>();
    for (const cached of this.cache.values()) ids.add(cached.principal.keyId!);
    for (const keyId of this.open.keys()) ids.add(keyId);
    const revoked = await this.options.store.revokedAmong([...ids]);
    for (const keyId of revoked) this.revoked(keyId);
    for (const cached of this.cache.values()) {
      const { expiresAt, keyId } = cached.principal;
      if (expiresAt && expiresAt.getTime() <= now && this.open.has(keyId!)) this.endConnections(keyId!);
    }
  }

  /** Runs `work` every `ms` (the next wait starts once it settles) until stop(); a failure is logged as `failure`. */
  private every(ms: number, work: () => Promise<void>, failure: string, setTimer: (timer: Timer) => void): void {
    const schedule = () => {
      if (this.stopped) return;
      setTimer(
        this.options.clock.setTimer(() => {
          work()
            .catch((error: unknown) => this.options.logger.warn({ err: error }, failure))
            .finally(schedule);
        }, ms),
      );
    };
    schedule();
  }

  private async flushTouches(): Promise<void> {
    if (this.used.size === 0) return;
    const ids = [...this.used];
    this.used.clear();
    await this.options.store.touch(ids, this.options.clock.now());
  }
}

/** The ADMIN_KEY: role ADMIN, name `admin`, not stored, never revoked. */
export const ADMIN_KEY_PRINCIPAL: Principal = Object.freeze({ name: 'admin', role: 'ADMIN', keyId: null, expiresAt: null, authMode: 'KEYS' });

/**
 * Compiled-rule cache: one entry per rule id, keyed by (ruleId, updatedAt ms).
 *
 * - Same id and same updatedAt: the cached value is returned.
 * - Newer updatedAt: `build()` runs and its result replaces the entry.
 * - Older updatedAt (a stale read racing an update): `build()` runs and its
 *   result is returned but NOT cached, so the newer entry survives.
 * - If `build()` throws, nothing is cached and the error propagates.
 */
export class CompiledRuleCache<T> {
  readonly #entries = new Map<string, { updatedAt: number; value: T }>();

  get(ruleId: string, updatedAt: number | Date, build: () => T): T {
    const ms = typeof updatedAt === 'number' ? updatedAt : updatedAt.getTime();
    const entry = this.#entries.get(ruleId);
    if (entry !== undefined && entry.updatedAt === ms) return entry.value;
    const value = build();
    if (entry === undefined || !(ms < entry.updatedAt)) this.#entries.set(ruleId, { updatedAt: ms, value });
    return value;
  }

  has(ruleId: string, updatedAt?: number | Date): boolean {
    const entry = this.#entries.get(ruleId);
    if (entry === undefined) return false;
    if (updatedAt === undefined) return true;
    return entry.updatedAt === (typeof updatedAt === 'number' ? updatedAt : updatedAt.getTime());
  }

  delete(ruleId: string): boolean {
    return this.#entries.delete(ruleId);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

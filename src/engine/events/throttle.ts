import type { Clock } from '../../shared/clock.js';
import { readPath } from '../rules/conditions/index.js';
import type { ThrottleSpec } from '../rules/spec/index.js';

/** Entries kept before expired ones are swept out. */
const SWEEP_AT = 10_000;

export interface ThrottleToken {
  key: string;
  until: number;
  previous: number | undefined;
}

/**
 * Event-driven throttling: once a run for a key starts, further matches for that key are held
 * until the cooldown ends. The key is read from the event (or a stream firing's group / key) at
 * the throttle's `key` paths; without paths the whole rule is one key. Kept in memory per
 * instance, like stream state.
 */
export class Throttle {
  private readonly until = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  private keyOf(ruleId: string, spec: ThrottleSpec, source: unknown): string {
    const parts = (spec.key ?? []).map((path) => readPath(source, path).value ?? null);
    return `${ruleId}\u0000${JSON.stringify(parts)}`;
  }

  /**
   * Null when the match must be held. Otherwise the cooldown is reserved at once (so a second
   * match of the same key in flight is held) and the token lets the caller give it back when the
   * run did not start after all (the rule was busy).
   */
  acquire(ruleId: string, spec: ThrottleSpec, source: unknown): ThrottleToken | null {
    const now = this.clock.now().getTime();
    const key = this.keyOf(ruleId, spec, source);
    const previous = this.until.get(key);
    if (previous !== undefined && previous > now) return null;
    if (this.until.size >= SWEEP_AT) this.sweep(now);
    const until = now + spec.cooldownSeconds * 1000;
    this.until.set(key, until);
    return { key, until, previous };
  }

  /** The run did not start: the match does not open a cooldown. */
  release(token: ThrottleToken) {
    if (this.until.get(token.key) !== token.until) return;
    if (token.previous === undefined) this.until.delete(token.key);
    else this.until.set(token.key, token.previous);
  }

  private sweep(now: number) {
    for (const [key, until] of this.until) if (until <= now) this.until.delete(key);
  }
}

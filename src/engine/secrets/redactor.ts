import { REDACTED } from '../../shared/credentials.js';

export { REDACTED } from '../../shared/credentials.js';

/** Shorter values are not looked for: replacing every "ab" in an answer would hide more than it protects. */
const MIN_LENGTH = 4;

/** The forms a value takes once it is put into a URL, a query string or JSON text. */
function variantsOf(value: string): string[] {
  const forms = [value, encodeURIComponent(value), encodeURI(value), new URLSearchParams({ v: value }).toString().slice(2), JSON.stringify(value).slice(1, -1)];
  try {
    // A whole URL kept as a secret comes back normalised (lower-case host, a trailing slash).
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) forms.push(new URL(value).href);
  } catch {
    // Not a URL after all.
  }
  return forms;
}

/**
 * Hides the values one run used (the secrets it read and the literal credentials of its spec)
 * in everything the run writes: results, references, errors, log lines, events. One per run,
 * filled as the run reads its secrets, applied where its outputs are made.
 */
export class Redactor {
  private needles: string[] = [];

  /** Looks for the value from now on, in its common encodings too. */
  add(value: string): void {
    const known = new Set(this.needles);
    for (const form of variantsOf(value)) if (form.length >= MIN_LENGTH) known.add(form);
    // Longest first, so a value that contains another is hidden whole.
    this.needles = [...known].sort((a, b) => b.length - a.length);
  }

  addAll(values: Iterable<string>): void {
    for (const value of values) this.add(value);
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out;
  }

  /** A copy with every string (and object key) redacted; the same value when there is nothing to hide. */
  apply<T>(value: T): T;
  apply(value: unknown): unknown {
    if (this.needles.length === 0) return value;
    return this.walk(value);
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (value instanceof Date || value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.text(key), this.walk(item)]));
  }
}

import { checkText } from './text.js';
import { fail } from './util.js';

/** Largest trigger spec or action spec accepted, as serialized JSON (SPEC.md "Limits"). */
export const MAX_SPEC_BYTES = 256 * 1024;
/** Most conditions in one trigger spec, leaves and groups counted (SPEC.md "Limits"). */
export const MAX_CONDITIONS = 1000;

/**
 * What every spec passes before its shape is read: at most MAX_SPEC_BYTES as JSON, and text
 * without U+0000 or lone surrogates.
 */
export function checkSpecInput(spec: unknown, path: string): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(spec);
  } catch {
    // Only nesting deeper than the stack allows gets here (request bodies hold no cycles).
    fail(path, 'nested too deeply');
  }
  const bytes = json === undefined ? 0 : Buffer.byteLength(json);
  if (bytes > MAX_SPEC_BYTES) {
    fail(path, `the spec is ${bytes} bytes as JSON; at most ${MAX_SPEC_BYTES} (256 KiB) are allowed`);
  }
  checkText(spec, path);
}

/**
 * Counts the conditions of one trigger spec as they are validated (document order, a group
 * before its members) and refuses the one past MAX_CONDITIONS at its own path.
 */
export class ConditionBudget {
  private used = 0;

  take(path: string): void {
    this.used++;
    if (this.used > MAX_CONDITIONS) {
      fail(path, `a trigger spec holds at most ${MAX_CONDITIONS} conditions (leaves and groups counted); this is condition ${this.used}`);
    }
  }
}

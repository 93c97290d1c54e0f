import { badTextReason } from '../engine/index.js';
import { badInput } from '../errors.js';

export const MAX_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 10_000;

/** Names are case-sensitive and unique per kind; surrounding white space is not part of a name. */
export function checkName(name: unknown, path = 'input.name'): string {
  if (typeof name !== 'string' || name.trim() === '') throw badInput(`${path}: a name is required`, { field: path });
  if (name !== name.trim()) throw badInput(`${path}: a name cannot start or end with white space`, { field: path });
  if (name.length > MAX_NAME_LENGTH) throw badInput(`${path}: at most ${MAX_NAME_LENGTH} characters`, { field: path });
  return checkWellFormed(name, path);
}

export function checkDescription(description: string | null | undefined, path = 'input.description'): string | null {
  if (description == null) return null;
  if (description.length > MAX_DESCRIPTION_LENGTH) throw badInput(`${path}: at most ${MAX_DESCRIPTION_LENGTH} characters`, { field: path });
  return checkWellFormed(description, path);
}

/** Free text kept with a rule or definition: refused when it holds U+0000 or a lone surrogate. */
export function checkWellFormed<T extends string | null | undefined>(text: T, path: string): T {
  const reason = text == null ? null : badTextReason(text);
  if (reason !== null) throw badInput(`${path}: ${reason}`, { field: path });
  return text;
}

export function duplicateName(kind: string, name: string) {
  return badInput(`input.name: a ${kind} named "${name}" already exists`, { field: 'input.name' });
}

export const MAX_EXECUTED_BY = 100;

/** Who started a run: `value`, or `fallback` when none is given; 1 to MAX_EXECUTED_BY characters. */
export function checkExecutedBy(value: string | null | undefined, fallback: string): string {
  const by = value ?? fallback;
  if (by.trim() === '' || by.length > MAX_EXECUTED_BY) throw badInput(`executedBy: 1 to ${MAX_EXECUTED_BY} characters`, { field: 'executedBy' });
  return by;
}

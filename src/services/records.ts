import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { notFound } from '../errors.js';
import { duplicateName } from './names.js';
import { isUuid } from './pagination.js';

// Rules and API definitions are named records: `kind` is how refusals name them ("rule",
// "API definition").

/** The record with this id, or NOT_FOUND (an id that is not a UUID finds nothing). */
export async function findOrRefuse<T>(kind: string, id: string, find: () => Promise<T | null | undefined>): Promise<T> {
  const found = isUuid(id) ? await find() : null;
  if (!found) throw notFound(`No ${kind} with id ${JSON.stringify(id)}`);
  return found;
}

/** Runs a write that the unique name may refuse, as the BAD_USER_INPUT that names the duplicate. */
export async function writeNamed(kind: string, name: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw duplicateName(kind, name);
    throw error;
  }
}

/** Deletes the record with this id (`remove` answers how many went), or refuses with NOT_FOUND. */
export async function deleteOrRefuse(kind: string, id: string, remove: () => Promise<number>): Promise<string> {
  const deleted = isUuid(id) ? await remove() : 0;
  if (!deleted) throw notFound(`No ${kind} with id ${JSON.stringify(id)}`);
  return id;
}

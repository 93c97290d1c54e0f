import { v7 } from 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every id of the API is a UUID; anything else names nothing. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/**
 * The id of a new stored row (rule, API definition, execution, API run): a UUIDv7 (RFC 9562),
 * whose first 48 bits are the time in milliseconds, increasing within a process. Rows written
 * one after another then land side by side in every index keyed by them (the primary keys, an
 * execution's cascade, its log lines and event runs), instead of on a random page of each:
 * after a checkpoint, a random key's insert writes each index page it touches whole to the
 * WAL (docs/decisions.md, "Ids").
 */
export const newId = (): string => v7();

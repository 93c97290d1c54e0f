/**
 * A JSON column's value on its way through MikroORM's insert and update. The ORM walks plain
 * objects of the data it is given (to turn entities into keys, and to check parameters), and some
 * keys of user JSON derail it: `{"constructor": false}` makes it throw, `{"__entity": true}` is
 * taken for an entity. Wrapped, the value is opaque to that walk and is written as its JSON
 * (`toJSON`), unchanged.
 */
class JsonValue {
  constructor(private readonly value: unknown) {}

  toJSON(): unknown {
    return this.value;
  }
}

const isPlain = (value: unknown): boolean =>
  Array.isArray(value) || (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype);

/** The row with each object or array value (its JSON columns) wrapped for MikroORM's insert or nativeUpdate. */
export function withOpaqueJson<T extends object>(row: T): T {
  const copy = { ...row } as Record<string, unknown>;
  for (const [key, value] of Object.entries(copy)) if (isPlain(value)) copy[key] = new JsonValue(value);
  return copy as T;
}

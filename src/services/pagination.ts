import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../errors.js';
import { isUuid } from '../shared/ids.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Position of a row in a newest-first list: (createdAt desc, id desc). */
export interface CursorKey {
  at: Date;
  id: string;
}

export interface Page {
  limit: number;
  after: CursorKey | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

export { isUuid };

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.at.toISOString()}|${key.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  const [iso, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || !iso || !isUuid(id)) return null;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime()) || at.toISOString() !== iso) return null;
  return { at, id: id.toLowerCase() };
}

/** Checks `first` (0..100, default 20) and `after`; either out of bounds is BAD_USER_INPUT. */
export function parsePage(args: PageArgs): Page {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 0 and ${MAX_PAGE_SIZE}, got ${first}`, { field: 'first' });
  }
  let after: CursorKey | null = null;
  if (args.after != null) {
    after = decodeCursor(args.after);
    if (!after) throw badInput(`after is not a valid cursor: "${args.after.slice(0, 100)}"`, { field: 'after' });
  }
  return { limit: first, after };
}

/**
 * Builds a connection from up to `limit + 1` rows read after the cursor (the extra row only says
 * whether a next page exists).
 */
export function toConnection<T>(rows: T[], page: Page, totalCount: number, keyOf: (row: T) => CursorKey): Connection<T> {
  if (page.limit === 0) {
    return {
      edges: [],
      pageInfo: { hasNextPage: totalCount > 0, hasPreviousPage: page.after !== null, startCursor: null, endCursor: null },
      totalCount,
    };
  }
  const nodes = rows.slice(0, page.limit);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(keyOf(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > page.limit,
      hasPreviousPage: page.after !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  };
}

/**
 * One page of a newest-first list of `entity` rows matching `where`, ordered by (`dateField`
 * desc, id desc), with the total of the filtered list: one read of the page and one count.
 */
export async function newestFirstPage<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  page: Page,
  dateField: keyof T & string,
): Promise<Connection<T>> {
  const [rows, total] = await Promise.all([
    page.limit === 0
      ? Promise.resolve([])
      : em.find(entity, { ...where, ...afterCursorFilter(page.after, dateField) } as object, {
          orderBy: [{ [dateField]: 'desc' }, { id: 'desc' }] as never,
          limit: page.limit + 1,
          disableIdentityMap: true,
        }),
    em.count(entity, where as object),
  ]);
  return toConnection(rows as T[], page, total, (row) => ({ at: row[dateField] as Date, id: row.id }));
}

/** MikroORM filter for rows strictly after the cursor in (createdAt desc, id desc) order. */
export function afterCursorFilter(after: CursorKey | null, dateField: string): Record<string, unknown> {
  if (!after) return {};
  return { $or: [{ [dateField]: { $lt: after.at } }, { [dateField]: after.at, id: { $lt: after.id } }] };
}

import { afterEach, describe, expect, it, vi } from 'vitest';
import { isUuid, newId } from '../../src/shared/ids.js';

/** Ids of stored rows (docs/decisions.md, "Ids"). */

const msOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('newId', () => {
  afterEach(() => vi.restoreAllMocks());

  it('makes UUIDv7 ids (RFC 9562 version and variant) that carry the time they were made', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(msOf(id)).toBeGreaterThanOrEqual(before);
    expect(msOf(id)).toBeLessThanOrEqual(after);
  });

  it('makes ids that increase within a process, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, newId);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('counts up to 4,096 ids in one millisecond, then borrows the next one; a clock that goes back does not reorder them', () => {
    const now = Date.now() + 60_000;
    vi.spyOn(Date, 'now').mockReturnValue(now);
    const ids = Array.from({ length: 4097 }, newId);
    expect(ids.slice(0, 4096).every((id) => msOf(id) === now)).toBe(true);
    expect(msOf(ids[4096]!)).toBe(now + 1);
    vi.spyOn(Date, 'now').mockReturnValue(now - 5_000);
    const later = newId();
    expect(later > ids[4096]!).toBe(true);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });
});

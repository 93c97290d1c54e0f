import { describe, expect, it } from 'vitest';
import { MAX_REFERENCES_BYTES, boundedReferences } from '../../src/engine/runs/references.js';
import { storeErrorFields } from '../../src/engine/store/storeError.js';
import { storableJson, storableJsonText, storableText } from '../../src/shared/storable.js';

const NUL = '\u0000';
const FFFD = '\uFFFD';

describe('storable text', () => {
  it('replaces U+0000 and lone surrogates, keeps surrogate pairs', () => {
    expect(storableText(`a${NUL}b\ud800c\udc00d`)).toBe(`a${FFFD}b${FFFD}c${FFFD}d`);
    expect(storableText('emoji \u{1F600} ok')).toBe('emoji \u{1F600} ok');
    expect(storableText('\ud83d')).toBe(FFFD);
  });

  it('walks values and keys, copying only what changes', () => {
    const clean = { a: [1, 'x', { b: null, c: true }], d: 'y' };
    expect(storableJson(clean)).toBe(clean);
    const dirty = { keep: { same: 1 }, list: ['ok', `x${NUL}`], [`k${NUL}`]: '\udfff' };
    const result = storableJson(dirty);
    expect(result).toEqual({ keep: { same: 1 }, list: ['ok', `x${FFFD}`], [`k${FFFD}`]: FFFD });
    expect(result.keep).toBe(dirty.keep);
    expect(dirty.list[1]).toBe(`x${NUL}`);
  });

  it('makes JSON text without the escapes PostgreSQL refuses', () => {
    expect(storableJsonText({ a: `${NUL}\ud800` })).toBe(JSON.stringify({ a: `${FFFD}${FFFD}` }));
    // A backslash followed by "u0000" is text, not an escape: kept as it was.
    expect(storableJsonText({ a: '\\u0000' })).toBe(JSON.stringify({ a: '\\u0000' }));
  });
});

describe('bounded references', () => {
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

  it('keeps small references as they are (the same object)', () => {
    const references = { trigger: { field: 'n', actual: 2, expected: 1, operator: '>', condition_evaluated: true }, event: { eventId: 'e', source: null } };
    expect(boundedReferences(references)).toBe(references);
  });

  it('cuts a long trace to its top level, keeping the other keys that fit', () => {
    const leaf = { field: 'f', actual: 'v'.repeat(200), expected: 'v'.repeat(200), operator: '==', condition_evaluated: true };
    const references = {
      trigger: { composite_logic: 'OR', conditions_evaluated: Array(500).fill(leaf), final_result: true },
      action: { action_type: 'webhook', status_code: 200 },
    };
    const cut = boundedReferences(references);
    expect(size(cut)).toBeLessThanOrEqual(MAX_REFERENCES_BYTES);
    expect(cut).toEqual({ trigger: { composite_logic: 'OR', final_result: true }, action: references.action, truncated: true });
  });

  it('cuts a leaf with a huge value, and other keys too large, to what fits', () => {
    const cut = boundedReferences({
      trigger: { window: { tested: 'filter', field: 'x', actual: 'a'.repeat(100_000), operator: '==', condition_evaluated: false } },
      event: { eventId: 'e', source: 's'.repeat(70_000) },
    });
    expect(size(cut)).toBeLessThanOrEqual(MAX_REFERENCES_BYTES);
    expect(cut).toEqual({
      trigger: { window: { tested: 'filter', field: 'x', operator: '==', condition_evaluated: false } },
      event: { eventId: 'e' },
      truncated: true,
    });
  });

  it('counts bytes, not characters', () => {
    const references = { trigger: { field: 'f', actual: '\u00e9'.repeat(40_000) } };
    expect(size(references)).toBeGreaterThan(MAX_REFERENCES_BYTES);
    expect(boundedReferences(references)).toEqual({ trigger: { field: 'f' }, truncated: true });
  });
});

describe('store errors in logs', () => {
  it('keep the SQLSTATE and the kind of error, never the text, detail or statement', () => {
    const error = Object.assign(new Error('invalid input syntax for type json'), {
      code: '22P02',
      detail: 'secret value',
      where: 'JSON data, line 1: {"k":"secret',
      query: 'UPDATE executions',
      parameters: ['secret'],
    });
    expect(storeErrorFields(error)).toEqual({ pgCode: '22P02', errorKind: 'Error' });
    expect(storeErrorFields('boom')).toEqual({ pgCode: null, errorKind: 'string' });
  });
});

describe('storableJson on deep and odd values', () => {
  it('walks each value once, so a deep value with a replacement at the bottom is cleaned at once', () => {
    let value: unknown = { leaf: '\ud800' };
    for (let i = 0; i < 64; i++) value = { a: value, b: [value === null ? 0 : 1] };
    let clean = storableJson(value) as any;
    for (let i = 0; i < 64; i++) clean = clean.a;
    expect(clean).toEqual({ leaf: '\uFFFD' });
  });

  it('keeps an own __proto__ key as a key when it copies', () => {
    const value = JSON.parse('{"__proto__": {"x": "\\u0000"}, "y": 1}');
    const clean = storableJson(value);
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
    expect(JSON.stringify(clean)).toBe('{"__proto__":{"x":"\uFFFD"},"y":1}');
  });
});

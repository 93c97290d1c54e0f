import fc from 'fast-check';
import { indexPath, keyPath } from '../../src/engine/rules/spec/util.js';

/**
 * fast-check arbitraries of hostile input for the property suite (test/server/hostile-input.test.ts): JSON values
 * with hostile strings, keys and numbers, deep nesting, trigger and action specs that carry the
 * list of their defects (so a property can tell what SPEC.md says must be refused, and where),
 * and webhook answers. Pure: nothing here talks to the service.
 */

// ---------------------------------------------------------------------------------------------
// JSON text that JSON.stringify cannot write
// ---------------------------------------------------------------------------------------------

/** A number written as given in the request text (`1e400`, `-0`, 40 digits), which JSON.stringify cannot produce. */
export class RawNumber {
  constructor(readonly text: string) {}
  /** What JSON.parse on the server makes of it. */
  get value(): number {
    return Number(this.text);
  }
  [fc.toStringMethod](): string {
    return `raw(${this.text})`;
  }
}

export type Json = null | boolean | number | string | RawNumber | Json[] | { [key: string]: Json };

/** JSON text of a value that may hold RawNumbers; -0 is written `-0`. */
export function jsonText(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : JSON.stringify(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  return `{${Object.keys(value)
    .map((key) => `${JSON.stringify(key)}:${jsonText((value as Record<string, unknown>)[key])}`)
    .join(',')}}`;
}

/** An object with these own keys, `__proto__` included (an object literal would set the prototype). */
export function objectOf(entries: [string, unknown][]): Record<string, any> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null && !(value instanceof RawNumber);

/** SPEC "Limits": a scalar at the top is level 0, each object or array one more. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, level] = stack.pop()!;
    if (!isContainer(node)) continue;
    deepest = Math.max(deepest, level + 1);
    for (const child of Object.values(node)) stack.push([child, level + 1]);
  }
  return deepest;
}

export const MAX_JSON_DEPTH = 64;

/** Every node of a value with its path (spec path notation) and level (containers count from 1). */
export function walk(value: unknown, base: string, visit: (node: unknown, path: string, level: number, key?: string) => void): void {
  const stack: [unknown, string, number, string | undefined][] = [[value, base, isContainer(value) ? 1 : 0, undefined]];
  while (stack.length > 0) {
    const [node, path, level, key] = stack.pop()!;
    visit(node, path, level, key);
    if (!isContainer(node)) continue;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        stack.push([child, indexPath(path, i), level + (isContainer(child) ? 1 : 0), undefined]);
      });
    } else for (const [k, child] of Object.entries(node)) stack.push([child, keyPath(path, k), level + (isContainer(child) ? 1 : 0), k]);
  }
}

/** U+0000 or a UTF-16 surrogate without its pair. */
export function hasBadText(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what this looks for
  return /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

export const isNonFinite = (node: unknown) => node instanceof RawNumber && !Number.isFinite(node.value);

/** Paths of the nodes deeper than 64 levels, of non-finite numbers, and of text with U+0000 or lone surrogates. */
export function inputDefects(value: unknown, base: string): { deep?: string; nonFinite: string[]; badText: string[] } {
  const out: { deep?: string; nonFinite: string[]; badText: string[] } = { nonFinite: [], badText: [] };
  let deepestLevel = 0;
  walk(value, base, (node, path, level, key) => {
    if (level > MAX_JSON_DEPTH && level > deepestLevel) {
      deepestLevel = level;
      out.deep = path;
    }
    if (isNonFinite(node)) out.nonFinite.push(path);
    if ((typeof node === 'string' && hasBadText(node)) || (key !== undefined && hasBadText(key))) out.badText.push(path);
  });
  return out;
}

/** What the service must refuse in a payload, event, params or input (SPEC "Limits"). */
export function mustRefuseInput(value: unknown): boolean {
  const { deep, nonFinite } = inputDefects(value, '$');
  return deep !== undefined || nonFinite.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Readable counterexamples
// ---------------------------------------------------------------------------------------------

function showString(text: string): string {
  const escapeJson = (s: string) =>
    JSON.stringify(s).replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
      /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  const first = text[0];
  if (first !== undefined && text.length > 8 && text === first.repeat(text.length)) return `${escapeJson(first)}×${text.length}`;
  if (text.length <= 400) return escapeJson(text);
  return `${escapeJson(text.slice(0, 300))}…(${text.length} chars)`;
}

/** A short, exact-enough picture of a value for failure messages: escapes shown, long strings and deep nesting summarised. */
export function show(value: unknown, depth = 0): string {
  if (value instanceof RawNumber) return value.text;
  if (typeof value === 'string') return showString(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return String(value);
  if (depth >= 12) {
    const levels = jsonDepth(value);
    return Array.isArray(value) ? `[…${levels} more levels…]` : `{…${levels} more levels…}`;
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, 12).map((v) => show(v, depth + 1));
    if (value.length > 12) items.push(`…${value.length - 12} more`);
    return `[${items.join(', ')}]`;
  }
  const keys = Object.keys(value);
  const items = keys.slice(0, 12).map((k) => `${showString(k)}: ${show((value as Record<string, unknown>)[k], depth + 1)}`);
  if (keys.length > 12) items.push(`…${keys.length - 12} more keys`);
  return `{${items.join(', ')}}`;
}

// ---------------------------------------------------------------------------------------------
// Hostile scalars
// ---------------------------------------------------------------------------------------------

const HOSTILE_CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '.',
  '\u0000',
  '\ud800',
  '\udc00',
  '\udbff\udfff',
  '😀',
  'é',
  '\u202e',
  '\ufeff',
  '\u2028',
  '\n',
  '\t',
  '"',
  '\\',
  '{',
  '}',
  '$',
  '%',
  '<',
  "'",
];

/** `arb` one time in `oneIn`, else undefined (fc.option's `freq` is the other way round). */
export const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** Text only a clean text check lets through: no U+0000, no lone surrogates. */
export const cleanString = (maxLength = 16) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.constantFrom(
      '',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      '{}',
      '[object Object]',
      'null',
      'NaN',
      '1e400',
      '-0',
      "'; drop table rules; --",
      '\ufeff',
      '\u202ertl',
      'é😀',
      '%00',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-looking literal is one of the hostile strings
      '${x}',
    ),
  );

/** Strings with U+0000, lone surrogates, astral characters, control characters and template-like text. */
export const hostileString = (maxLength = 16) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(...HOSTILE_CHARS), maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength }) },
    { weight: 2, arbitrary: cleanString(maxLength) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('\u0000', '\ud800', '\udc00', 'a\u0000b', '\udc00\ud800', 'x\ud800', '{{payload}}', '{{ payload.a }}', '{{', '}}'),
    },
  );

/** One string of 100,000 to 200,000 characters, kept under the 1 MiB request cap once escaped (`\\u0000` is 6 bytes). */
export const hugeString = fc.tuple(fc.constantFrom('x', 'é', '\u0000', '\ud800', 'ab'), fc.integer({ min: 100_000, max: 200_000 })).map(([unit, length]) => {
  const escaped = unit === '\u0000' || unit === '\ud800';
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, escaped ? Math.min(length, 140_000) : length);
});

export const hostileKey = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
      '',
      '.',
      'a.b',
      '0',
      '$where',
      'then',
      'length',
    ),
  },
  { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: hostileString(6) },
);

/** Numbers that JSON can carry, written as text: -0 and huge, tiny and long ones. */
export const finiteRawNumber = fc
  .constantFrom('-0', '1e308', '-1.7976931348623157e308', '5e-324', '1e-400', '123456789012345678901234567890123456789', '0.1e1', '-0.0')
  .map((t) => new RawNumber(t));
export const nonFiniteRawNumber = fc.constantFrom('1e400', '-1e400', '1E+999', '2e308').map((t) => new RawNumber(t));

export const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, -(2 ** 53) - 2, 1e21, 0.1),
  finiteRawNumber,
);

// ---------------------------------------------------------------------------------------------
// JSON values
// ---------------------------------------------------------------------------------------------

export interface JsonOptions {
  maxDepth?: number;
  /** Also non-finite numbers (1e400, written into the request text). */
  nonFinite?: boolean;
  /** Strings limited to clean text (specs must refuse U+0000 and lone surrogates). */
  clean?: boolean;
}

export function jsonValue(options: JsonOptions = {}): fc.Arbitrary<Json> {
  const { maxDepth = 4, nonFinite = false, clean = false } = options;
  const str = clean ? cleanString() : hostileString();
  const key = clean ? fc.oneof(cleanString(8), fc.constantFrom('__proto__', 'constructor', 'a.b', '')) : hostileKey;
  const scalar: fc.Arbitrary<Json> = fc.oneof(
    { weight: 4, arbitrary: str },
    { weight: 3, arbitrary: hostileNumber as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    ...(nonFinite ? [{ weight: 1, arbitrary: nonFiniteRawNumber as fc.Arbitrary<Json> }] : []),
  );
  const { value } = fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth, withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => k }).map((entries) => objectOf(entries) as Json),
    ),
  }));
  return value;
}

/** `leaf` wrapped in `levels` objects or arrays (random per level): exactly `levels` + depth(leaf) deep. */
export function nested(leaf: fc.Arbitrary<Json>, levels: fc.Arbitrary<number>): fc.Arbitrary<Json> {
  return fc
    .tuple(leaf, levels, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), fc.constantFrom('a', '__proto__', 'x.y', '0'))
    .map(([inner, count, pattern, key]) => {
      let value = inner;
      for (let i = 0; i < count; i++) value = pattern[i % pattern.length] ? [value] : objectOf([[key, value]]);
      return value;
    });
}

/** Depths around the 64-level limit and far beyond it (~100). */
export const deepLevels = fc.oneof(fc.integer({ min: 60, max: 68 }), fc.integer({ min: 69, max: 110 }));

/** An object of hostile keys and values, small strings only, within the limits of SPEC.md. */
export const smallPayload: fc.Arbitrary<Json> = fc
  .uniqueArray(fc.tuple(hostileKey, jsonValue()), { maxLength: 6, selector: ([k]) => k })
  .map((e) => objectOf(e) as Json);

/** An object payload or event: hostile, sometimes deep, sometimes with 1e400, sometimes with one huge string. */
export const hostilePayload: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: smallPayload },
  { weight: 2, arbitrary: nested(jsonValue({ maxDepth: 1 }), deepLevels).map((inner) => objectOf([['deep', inner]]) as Json) },
  {
    weight: 2,
    arbitrary: fc
      .uniqueArray(fc.tuple(hostileKey, jsonValue({ nonFinite: true, maxDepth: 2 })), { minLength: 1, maxLength: 4, selector: ([k]) => k })
      .map((e) => objectOf(e) as Json),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(hugeString, jsonValue({ maxDepth: 1 })).map(
      ([big, other]) =>
        objectOf([
          ['big', big],
          ['other', other],
        ]) as Json,
    ),
  },
);

/** Any JSON at the top: objects mostly, also scalars and arrays (refused as events). */
export const hostileEvent: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: hostilePayload },
  { weight: 1, arbitrary: jsonValue({ maxDepth: 2 }).filter((v) => v !== null) },
);

// ---------------------------------------------------------------------------------------------
// Specs with their defects
// ---------------------------------------------------------------------------------------------

/**
 * Where a spec is wrong. `exact`: the refusal's specPath is this path or inside it. `deep`: the
 * specPath is on the way to this too-deep node, at level 64 or below. `whole`: any path (the spec
 * as a whole is over a cap). A `maybe` defect is one SPEC.md leaves open: refusing it is allowed
 * (at its path), accepting it too.
 */
export interface Defect {
  kind: 'exact' | 'deep' | 'whole';
  path: string;
  why: string;
  maybe?: boolean;
}

export interface GeneratedSpec {
  spec: unknown;
  defects: Defect[];
}

/** Level of the node at `path` in `spec` (root 'triggerSpec' at 1), or undefined. */
export function levelAt(spec: unknown, root: string, path: string): number | undefined {
  let found: number | undefined;
  walk(spec, root, (_node, p, level) => {
    if (p === path) found = level;
  });
  return found;
}

/** Whether a refusal's specPath names one of the defects (see Defect). */
export function pathNamesDefect(specPath: string, defect: Defect, spec: unknown, root: string): boolean {
  const inside = (outer: string) => specPath === outer || specPath.startsWith(`${outer}.`) || specPath.startsWith(`${outer}[`);
  if (defect.kind === 'whole') return inside(root);
  if (defect.kind === 'exact') return inside(defect.path);
  const onTheWay = defect.path === specPath || defect.path.startsWith(`${specPath}.`) || defect.path.startsWith(`${specPath}[`);
  return onTheWay && (levelAt(spec, root, specPath) ?? 0) >= MAX_JSON_DEPTH;
}

/** Adds the defects that follow from the whole value: depth, non-finite numbers, bad text. */
function withInputDefects(spec: unknown, root: string, defects: Defect[]): GeneratedSpec {
  const found = inputDefects(spec, root);
  const all = [...defects];
  if (found.deep) all.push({ kind: 'deep', path: found.deep, why: `nested deeper than ${MAX_JSON_DEPTH} levels` });
  for (const path of found.nonFinite) all.push({ kind: 'exact', path, why: 'a number that is not finite' });
  for (const path of found.badText) all.push({ kind: 'exact', path, why: 'U+0000 or a lone surrogate in a spec' });
  if (root === 'actionSpec') {
    walk(spec, root, (node, path) => {
      if (typeof node === 'string' && node.replace(PLACEHOLDER, '').includes('{{')) all.push({ kind: 'exact', path, why: 'template-like text', maybe: true });
    });
  }
  const size = Buffer.byteLength(jsonText(spec));
  if (root === 'triggerSpec' && size > 256 * 1024) all.push({ kind: 'whole', path: root, why: `${size} bytes, over 256 KiB` });
  return { spec, defects: all };
}

// ---- regular expressions -------------------------------------------------------------------

/** Constructs SPEC.md accepts (a linear-time engine runs them) and the ones it refuses. */
const ACCEPTED_TOKENS = [
  'a',
  'b',
  'x',
  '1',
  '.',
  '\\d',
  '\\w',
  '\\s',
  '\\b',
  '^',
  '$',
  '[a-z]',
  '[^b]',
  '[0-9x]',
  '(',
  ')',
  '(?:',
  '|',
  '*',
  '+',
  '?',
  '{1,3}',
  '{2}',
  '{0,}',
];
const REFUSED_TOKENS = ['(?=x)', '(?!x)', '(?<=x)', '(?<!x)', '(a)\\1', '(?<n>a)\\k<n>'];
/** Patterns that backtracking engines take exponential time on; SPEC.md accepts them all. */
export const CATASTROPHIC_PATTERNS = [
  '(a|a)*$',
  '(a+)+$',
  '(a*)*b',
  '(x+x+)+y',
  '^(\\w|\\d)*$',
  '(a|aa)+$',
  '(.*a){12}',
  '^(a?){25}a{25}$',
  '(\\w+\\s?)+$',
  '([a-z]+)*!',
];

export type RegexVerdict = 'accept' | 'refuse';

export function regexVerdict(pattern: string): RegexVerdict {
  if (pattern.length > 256) return 'refuse';
  try {
    new RegExp(pattern);
  } catch {
    return 'refuse';
  }
  return /\(\?<?[=!]|\\[1-9]|\\k</.test(pattern) ? 'refuse' : 'accept';
}

export const acceptedPattern: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...CATASTROPHIC_PATTERNS) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...ACCEPTED_TOKENS), { minLength: 1, maxLength: 12 })
      .map((t) => t.join(''))
      .filter((p) => regexVerdict(p) === 'accept'),
  },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(256), `(${'a|'.repeat(126)}b)`.slice(0, 256)).filter((p) => regexVerdict(p) === 'accept') },
);

export const anyPattern: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: acceptedPattern },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...ACCEPTED_TOKENS, ...REFUSED_TOKENS), { minLength: 1, maxLength: 10 }).map((t) => t.join('')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('(?=x)', '(?!x)y', '(?<=a)b', '(?<!a)b', '(a)\\1', '(?<n>a)\\k<n>', '(', '[', '*', 'a**', '\\', 'a'.repeat(257), 'x{2,1}'),
  },
);

// ---- trigger specs --------------------------------------------------------------------------

type LeafGen = {
  field: unknown;
  op: unknown;
  value?: unknown;
  hasValue: boolean;
  fieldDefect?: string;
  opDefect?: string;
  valueDefect?: string;
  valueMaybe?: string;
};
type CondGen = { leaf: LeafGen } | { group: { logic?: unknown; logicDefect?: string; conditions: CondGen[] | unknown; conditionsDefect?: string } };

const fieldName = fc.oneof(
  fc.constantFrom('cpu', 'host.name', 'items.0.id', '__proto__', 'constructor.prototype', 'a.__proto__.b', 'toString', 's', 'deep', 'big', 'x.y.z.w'),
  fc.array(fc.constantFrom('a', 'b', '0', 'metrics', '__proto__', 'é'), { minLength: 1, maxLength: 4 }).map((s) => s.join('.')),
);
const orderable = fc.oneof(
  hostileNumber.filter((n) => !(n instanceof RawNumber)),
  cleanString(8),
) as fc.Arbitrary<Json>;
const cleanJson = jsonValue({ clean: true, maxDepth: 2 });

const validLeaf: fc.Arbitrary<LeafGen> = fc.oneof(
  fc.record({ field: fieldName, op: fc.constantFrom('>', '<', '>=', '<='), value: orderable }).map((l) => ({ ...l, hasValue: true })),
  fc.record({ field: fieldName, op: fc.constantFrom('==', '=', '!='), value: cleanJson }).map((l) => ({ ...l, hasValue: true })),
  fc.record({ field: fieldName, op: fc.constantFrom('in', 'not_in'), value: fc.array(cleanJson, { maxLength: 4 }) }).map((l) => ({ ...l, hasValue: true })),
  fc.record({ field: fieldName, op: fc.constantFrom('contains', 'not_contains'), value: cleanJson }).map((l) => ({ ...l, hasValue: true })),
  fc.record({ field: fieldName, op: fc.constantFrom('starts_with', 'ends_with'), value: cleanString(8) }).map((l) => ({ ...l, hasValue: true })),
  fc.record({ field: fieldName, op: fc.constantFrom('exists', 'not_exists') }).map((l) => ({ ...l, hasValue: false })),
  fc
    .record({ field: fieldName, low: fc.integer({ min: -1000, max: 1000 }), span: fc.nat(1000) })
    .map(({ field, low, span }) => ({ field, op: 'between', value: [low, low + span], hasValue: true })),
  fc.record({ field: fieldName, value: cleanString(6) }).map(({ field, value }) => ({ field, op: 'between', value: [value, value], hasValue: true })),
  fc.record({ field: fieldName, value: anyPattern }).map(({ field, value }) => ({
    field,
    op: 'matches',
    value,
    hasValue: true,
    ...(regexVerdict(value) === 'refuse' ? { valueDefect: 'a pattern SPEC.md refuses (lookaround, backreference, invalid, or over 256 characters)' } : {}),
  })),
  // Value nested to land the whole spec around the 64-level limit (exactly at it must pass).
  fc
    .record({ field: fieldName, value: nested(fc.constantFrom(1, 'a', null), fc.integer({ min: 50, max: 64 })) })
    .map((l) => ({ ...l, op: '==', hasValue: true })),
);

const badLeaf: fc.Arbitrary<LeafGen> = fc.oneof(
  fc
    .record({ field: fc.constantFrom(5, [], {}, '', 'a..b', '.a', true), op: fc.constant('==' as unknown), value: fc.constant(1 as unknown) })
    .map((l) => ({ ...l, hasValue: true, fieldDefect: 'field is not a dotted path' })),
  fc
    .record({ field: fieldName, op: fc.constantFrom(5, 'LIKE', '', '=>', 'eq', [], 'regex'), value: fc.constant(1 as unknown) })
    .map((l) => ({ ...l, hasValue: true, opDefect: 'unknown operator' })),
  fc
    .record({ field: fieldName, op: fc.constantFrom('>', '<=', 'starts_with'), value: fc.constantFrom({}, [], true, null) as fc.Arbitrary<unknown> })
    .map((l) => ({ ...l, hasValue: true, valueDefect: 'wrong type of value' })),
  fc
    .record({ field: fieldName, op: fc.constantFrom('in', 'not_in'), value: fc.constantFrom('x', 5, {}) as fc.Arbitrary<unknown> })
    .map((l) => ({ ...l, hasValue: true, valueDefect: 'in needs a list' })),
  fc
    .record({ field: fieldName, op: fc.constant('between' as unknown), value: fc.constantFrom([1], [2, 1], [{}, 1], 'ab', [1, 2, 3]) as fc.Arbitrary<unknown> })
    .map((l) => ({ ...l, hasValue: true, valueDefect: 'between needs [low, high]' })),
  fc
    .record({ field: fieldName, op: fc.constantFrom('==', '>', 'in', 'matches', 'between') })
    .map((l) => ({ ...l, hasValue: false, valueDefect: 'value missing' })),
  fc
    .record({ field: fieldName, op: fc.constantFrom('exists', 'not_exists'), value: fc.constantFrom(1, 'x', []) as fc.Arbitrary<unknown> })
    .map((l) => ({ ...l, hasValue: true, valueDefect: 'exists takes no value' })),
  fc.record({ field: fieldName, op: fc.constantFrom('>', '=='), value: nonFiniteRawNumber as fc.Arbitrary<unknown> }).map((l) => ({ ...l, hasValue: true })),
  fc
    .record({ field: fc.constantFrom('cpu\u0000', '\ud800', 'a.\udc00') as fc.Arbitrary<unknown>, op: fc.constant('exists' as unknown) })
    .map((l) => ({ ...l, hasValue: false })),
  fc
    .record({ field: fieldName, op: fc.constant('==' as unknown), value: fc.constantFrom('\u0000', 'x\ud800', '\udc00y') as fc.Arbitrary<unknown> })
    .map((l) => ({ ...l, hasValue: true })),
);

const conditionTree = fc.letrec<{ cond: CondGen }>((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small', maxDepth: 4, withCrossShrink: true },
    { weight: 4, arbitrary: validLeaf.map((leaf) => ({ leaf })) },
    { weight: 1, arbitrary: badLeaf.map((leaf) => ({ leaf })) },
    {
      weight: 3,
      arbitrary: fc
        .record(
          { logic: fc.constantFrom(undefined, 'AND', 'or', 'Not', null), conditions: fc.array(tie('cond'), { maxLength: 4 }) },
          { requiredKeys: ['conditions'] },
        )
        .map((group) => ({ group })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ logic: fc.constantFrom('XOR', 5, '', []) as fc.Arbitrary<unknown>, conditions: fc.array(tie('cond'), { maxLength: 2 }) })
        .map((g) => ({ group: { ...g, logicDefect: 'logic is not AND, OR or NOT' } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom({}, 'x', 5)
        .map((conditions) => ({ group: { conditions: conditions as unknown, conditionsDefect: 'conditions is not a list' } })),
    },
  ),
})).cond;

function renderCondition(cond: CondGen, path: string, defects: Defect[]): unknown {
  if ('leaf' in cond) {
    const { field, op, value, hasValue } = cond.leaf;
    if (cond.leaf.fieldDefect) defects.push({ kind: 'exact', path: keyPath(path, 'field'), why: cond.leaf.fieldDefect });
    if (cond.leaf.opDefect) defects.push({ kind: 'exact', path: keyPath(path, 'op'), why: cond.leaf.opDefect });
    if (cond.leaf.valueDefect) defects.push({ kind: 'exact', path: keyPath(path, 'value'), why: cond.leaf.valueDefect });
    return objectOf([['field', field], ['op', op], ...(hasValue ? [['value', value] as [string, unknown]] : [])]);
  }
  const { logic, conditions, logicDefect, conditionsDefect } = cond.group;
  if (logicDefect) defects.push({ kind: 'exact', path: keyPath(path, 'logic'), why: logicDefect });
  if (conditionsDefect) defects.push({ kind: 'exact', path: keyPath(path, 'conditions'), why: conditionsDefect });
  const list = Array.isArray(conditions)
    ? conditions.map((c, i) => renderCondition(c as CondGen, indexPath(keyPath(path, 'conditions'), i), defects))
    : conditions;
  return objectOf([['conditions', list], ...(logic === undefined ? [] : [['logic', logic] as [string, unknown]])]);
}

const KNOWN_TRIGGER_KEYS = [
  'field',
  'op',
  'value',
  'conditions',
  'logic',
  'throttle',
  'concurrency',
  'window',
  'sequence',
  'absence',
  'filter',
  'aggregate',
  'groupBy',
  'timeField',
  'allowedLatenessSeconds',
  'within',
  'by',
  'cron',
  'timezone',
  'intervalSeconds',
  'payload',
  'endpoint',
  'valuePath',
  'threshold',
];

const noDefect = undefined as string | undefined;
const options = fc.record({
  throttle: sometimes(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .record(
            { cooldownSeconds: fc.constantFrom(0.5, 1, 300), key: fc.constantFrom(['host'], ['a.b', '__proto__']) },
            { requiredKeys: ['cooldownSeconds'] },
          )
          .map((t) => ({ value: t as unknown, defect: noDefect })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom({ cooldownSeconds: 0 }, { cooldownSeconds: -1 }, { cooldownSeconds: 'x' })
          .map((t) => ({ value: t as unknown, defect: 'throttle.cooldownSeconds' })),
      },
      { weight: 1, arbitrary: fc.constantFrom({ cooldownSeconds: 1, keys: ['x'] }).map((t) => ({ value: t as unknown, defect: 'throttle.keys' })) },
    ),
    3,
  ),
  concurrency: sometimes(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .record({ mode: fc.constantFrom('skip', 'queue', 'parallel'), maxQueued: fc.integer({ min: 1, max: 100 }) }, { requiredKeys: [] })
          .map((c) => ({ value: c as unknown, defect: noDefect })),
      },
      { weight: 1, arbitrary: fc.constantFrom({ mode: 'fifo' }, { mode: 5 }).map((c) => ({ value: c as unknown, defect: 'concurrency.mode' })) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom({ maxQueued: 0 }, { maxQueued: -5 }, { maxQueued: 1.5 })
          .map((c) => ({ value: c as unknown, defect: 'concurrency.maxQueued' })),
      },
    ),
    3,
  ),
});

/** A big spec: a flat group of N leaves (SPEC: at most 1,000 conditions), or one 270 KB value (at most 256 KiB). */
const overCapSpec: fc.Arbitrary<GeneratedSpec> = fc.oneof(
  fc.integer({ min: 1010, max: 1200 }).map((n) => ({
    spec: { conditions: Array.from({ length: n }, (_, i) => ({ field: `f${i}`, op: 'exists' })) },
    defects: [{ kind: 'whole' as const, path: 'triggerSpec', why: `${n + 1} conditions, over 1,000` }],
  })),
  fc
    .integer({ min: 10, max: 900 })
    .map((n) => ({ spec: { conditions: Array.from({ length: n }, (_, i) => ({ field: `f${i}`, op: 'exists' })) }, defects: [] })),
  fc.integer({ min: 270_000, max: 400_000 }).map((n) => ({ spec: { field: 'cpu', op: '==', value: 'x'.repeat(n) }, defects: [] })),
);

/** Condition groups nested `n` deep around one leaf (each group two JSON levels). */
const deepGroups: fc.Arbitrary<GeneratedSpec> = fc.integer({ min: 28, max: 70 }).map((n) => {
  let spec: Record<string, unknown> = { field: 'cpu', op: '>', value: 1 };
  for (let i = 0; i < n; i++) spec = { conditions: [spec], logic: i % 2 ? 'OR' : 'AND' };
  return { spec, defects: [] };
});

/** EVENT triggerSpecs: condition trees with options, unknown keys and wrong types, with their defects. */
export const triggerSpec: fc.Arbitrary<GeneratedSpec> = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({
          tree: conditionTree,
          options,
          unknown: sometimes(
            fc.tuple(
              hostileKey.filter((k) => !KNOWN_TRIGGER_KEYS.includes(k)),
              cleanJson,
            ),
            8,
          ),
        })
        .map(({ tree, options: opts, unknown }) => {
          const defects: Defect[] = [];
          const root = 'triggerSpec';
          const rendered = renderCondition(tree, root, defects);
          const entries: [string, unknown][] = Object.entries(rendered as object);
          if (opts.throttle) {
            entries.push(['throttle', opts.throttle.value]);
            if (opts.throttle.defect) defects.push({ kind: 'exact', path: `${root}.${opts.throttle.defect}`, why: 'bad throttle' });
          }
          if (opts.concurrency) {
            entries.push(['concurrency', opts.concurrency.value]);
            if (opts.concurrency.defect) defects.push({ kind: 'exact', path: `${root}.${opts.concurrency.defect}`, why: 'bad concurrency' });
          }
          if (unknown) {
            entries.push(unknown);
            defects.push({ kind: 'exact', path: keyPath(root, unknown[0]), why: `unknown key ${JSON.stringify(unknown[0])}` });
          }
          return { spec: objectOf(entries), defects };
        }),
    },
    { weight: 1, arbitrary: overCapSpec },
    { weight: 1, arbitrary: deepGroups },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<unknown>(5, 'cpu > 80', [], [{ field: 'a', op: 'exists' }], true)
        .map((spec) => ({ spec, defects: [{ kind: 'exact' as const, path: 'triggerSpec', why: 'not an object' }] })),
    },
  )
  .map(({ spec, defects }) => withInputDefects(spec, 'triggerSpec', defects));

// ---- action specs ---------------------------------------------------------------------------

const TEMPLATES_OK = [
  '{{payload}}',
  '{{ payload.a }}',
  '{{payload.__proto__}}',
  '{{payload.constructor.name}}',
  'x {{payload.s}} y',
  '{{rule.id}}',
  '{{ rule.name }}',
  '{{execution.id}}',
  '{{execution.depth}}',
  '{{cascade.id}}',
  '{{payload.deep.a.a}}',
  'no template',
  '',
];
/** A placeholder SPEC.md accepts in an action spec. */
const PLACEHOLDER = /\{\{\s*(payload|rule|execution|cascade)(\.[\w$]+)*\s*\}\}/g;
const TEMPLATES_BAD = ['{{process.env}}', '{{constructor}}', '{{ this }}', '{{payload', 'a {{ b', '{{}}', '{{params.x}}'];

const templatedValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TEMPLATES_OK).map((t) => ({ value: t as unknown, bad: false })) },
  { weight: 1, arbitrary: fc.constantFrom(...TEMPLATES_BAD).map((t) => ({ value: t as unknown, bad: true })) },
  { weight: 2, arbitrary: cleanJson.map((v) => ({ value: v as unknown, bad: false })) },
);

/** An object of templated values; `bad` lists the keys whose template must be refused. */
const templatedObject = fc.uniqueArray(fc.tuple(fc.oneof(fc.constantFrom('a', 'b', '__proto__', 'x-y'), cleanString(6)), templatedValue), {
  maxLength: 4,
  selector: ([k]) => k,
});

export interface ActionTargets {
  /** Base URL of the local sink. */
  sinkUrl: string;
  /** A rule that trigger_rule may run. */
  ruleId: string;
  /** A SCRIPT API definition that api_script may run. */
  apiId: string;
}

const HEADER_NAMES = ['x-a', 'X-Trace', 'content-type', 'accept', 'user-agent', 'x-{{payload.a}}'];

/** Action specs (webhook to the sink, trigger_rule, api_script) with their defects. */
export function actionSpec(targets: ActionTargets): fc.Arbitrary<GeneratedSpec> {
  const root = 'actionSpec';
  const webhook = fc
    .record(
      {
        type: fc.constantFrom(undefined, 'webhook', 'WEBHOOK', 'WebHook'),
        endpoint: fc.oneof(
          {
            weight: 5,
            arbitrary: fc
              .constantFrom('/hook', '/json', '/text', '/fail', '/big', '/x?a=1&b={{payload.a}}', '/{{payload.s}}')
              .map((p) => ({ value: `${targets.sinkUrl}${p}` as unknown })),
          },
          { weight: 1, arbitrary: fc.constantFrom<unknown>('ftp://x', 'not a url', '', 5, null, '{{payload.url}}').map((value) => ({ value, defect: true })) },
        ),
        method: fc.oneof(
          fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE').map((m) => ({ value: m as unknown })),
          fc.constantFrom('post', 'Get').map((m) => ({ value: m as unknown, maybe: true })),
          fc.constantFrom<unknown>('FETCH', 5, '').map((m) => ({ value: m, defect: true })),
        ),
        headers: fc.oneof(
          fc
            .uniqueArray(
              fc.tuple(fc.constantFrom(...HEADER_NAMES), fc.oneof(fc.constantFrom('v', '{{payload.s}}', 'a\nb', 'é', ' x '), fc.string({ maxLength: 6 }))),
              { maxLength: 3, selector: ([k]) => k.toLowerCase() },
            )
            .map((e) => ({ value: Object.fromEntries(e) as unknown, maybe: true })),
          fc.constantFrom<unknown>([], 'x').map((value) => ({ value, defect: true })),
        ),
        params: templatedObject,
        body: fc.oneof(
          templatedValue,
          templatedObject.map((entries) => ({ entries })),
        ),
        timeoutMs: fc.oneof(
          fc.integer({ min: 1, max: 2000 }).map((value) => ({ value: value as unknown })),
          fc.constantFrom<unknown>(0, -1, 60_001, 1.5, '100').map((value) => ({ value, defect: true })),
        ),
      },
      { requiredKeys: ['endpoint'] },
    )
    .map((w) => {
      const defects: Defect[] = [];
      const entries: [string, unknown][] = [];
      if (w.type !== undefined) entries.push(['type', w.type]);
      entries.push(['endpoint', w.endpoint.value]);
      if ('defect' in w.endpoint)
        defects.push({
          kind: 'exact',
          path: `${root}.endpoint`,
          why: 'endpoint is not an absolute http(s) URL',
          maybe: w.endpoint.value === '{{payload.url}}',
        });
      if (w.method) {
        entries.push(['method', w.method.value]);
        if ('defect' in w.method) defects.push({ kind: 'exact', path: `${root}.method`, why: 'unknown method' });
        if ('maybe' in w.method) defects.push({ kind: 'exact', path: `${root}.method`, why: 'lower-case method', maybe: true });
      }
      if (w.headers) {
        entries.push(['headers', w.headers.value]);
        defects.push({ kind: 'exact', path: `${root}.headers`, why: 'headers', maybe: 'maybe' in w.headers });
      }
      if (w.params) {
        entries.push(['params', objectOf(w.params.map(([k, v]) => [k, v.value]))]);
        for (const [k, v] of w.params) if (v.bad) defects.push({ kind: 'exact', path: keyPath(`${root}.params`, k), why: 'bad template' });
      }
      if (w.body) {
        if ('entries' in w.body) {
          const entriesOf = w.body.entries as [string, { value: unknown; bad: boolean }][];
          entries.push(['body', objectOf(entriesOf.map(([k, v]) => [k, v.value]))]);
          for (const [k, v] of entriesOf) if (v.bad) defects.push({ kind: 'exact', path: keyPath(`${root}.body`, k), why: 'bad template' });
        } else {
          entries.push(['body', w.body.value]);
          if (w.body.bad) defects.push({ kind: 'exact', path: `${root}.body`, why: 'bad template' });
        }
      }
      if (w.timeoutMs) {
        entries.push(['timeoutMs', w.timeoutMs.value]);
        if ('defect' in w.timeoutMs) defects.push({ kind: 'exact', path: `${root}.timeoutMs`, why: 'timeoutMs out of range' });
      }
      return { spec: objectOf(entries), defects };
    });
  const triggerRule = fc
    .record({
      type: fc.constantFrom('trigger_rule', 'TRIGGER_RULE'),
      ruleId: fc.oneof(
        { weight: 4, arbitrary: fc.constant({ value: targets.ruleId as unknown }) },
        fc.constantFrom<unknown>('00000000-0000-4000-8000-000000000000', 'not-a-uuid').map((value) => ({ value })),
        fc.constantFrom<unknown>('', 5, null).map((value) => ({ value, defect: true })),
      ),
      payload: sometimes(
        fc.oneof(
          templatedObject.map((e) => ({ value: objectOf(e.map(([k, v]) => [k, v.value])) as unknown, bad: e.filter(([, v]) => v.bad).map(([k]) => k) })),
          fc.constantFrom<unknown>('x', 5, []).map((value) => ({ value, defect: true })),
        ),
        2,
      ),
    })
    .map((t) => {
      const defects: Defect[] = [];
      const entries: [string, unknown][] = [
        ['type', t.type],
        ['rule_id', t.ruleId.value],
      ];
      if ('defect' in t.ruleId) defects.push({ kind: 'exact', path: `${root}.rule_id`, why: 'rule_id is not an id' });
      if (t.payload) {
        entries.push(['payload', t.payload.value]);
        if ('defect' in t.payload) defects.push({ kind: 'exact', path: `${root}.payload`, why: 'payload is not an object' });
        for (const k of 'bad' in t.payload ? t.payload.bad : []) defects.push({ kind: 'exact', path: keyPath(`${root}.payload`, k), why: 'bad template' });
      }
      return { spec: objectOf(entries), defects };
    });
  const apiScript = fc
    .record({
      type: fc.constantFrom('api_script', 'Api_Script'),
      apiId: fc.oneof({ weight: 4, arbitrary: fc.constant(targets.apiId) }, fc.constant('00000000-0000-4000-8000-000000000000')),
      params: fc.oneof(
        templatedObject.map((e) => ({ value: objectOf(e.map(([k, v]) => [k, v.value])) as unknown, bad: e.filter(([, v]) => v.bad).map(([k]) => k) })),
        fc.constantFrom<unknown>('x', [1]).map((value) => ({ value, defect: true })),
      ),
      input: sometimes(templatedValue, 2),
    })
    .map((a) => {
      const defects: Defect[] = [];
      const entries: [string, unknown][] = [
        ['type', a.type],
        ['api_id', a.apiId],
        ['params', a.params.value],
      ];
      if ('defect' in a.params) defects.push({ kind: 'exact', path: `${root}.params`, why: 'params is not an object' });
      for (const k of 'bad' in a.params ? a.params.bad : []) defects.push({ kind: 'exact', path: keyPath(`${root}.params`, k), why: 'bad template' });
      if (a.input) {
        entries.push(['input', a.input.value]);
        if (a.input.bad) defects.push({ kind: 'exact', path: `${root}.input`, why: 'bad template' });
      }
      return { spec: objectOf(entries), defects };
    });
  const odd = fc.oneof(
    fc.constantFrom<unknown>('email', 'shell', 5, '').map((type) => ({
      spec: { type, endpoint: `${targets.sinkUrl}/hook` } as unknown,
      defects: [{ kind: 'exact' as const, path: `${root}.type`, why: 'unsupported action type' }],
    })),
    fc.constantFrom<unknown>('http://x', [], 5).map((spec) => ({ spec, defects: [{ kind: 'exact' as const, path: root, why: 'not an object' }] })),
  );
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: webhook }, { weight: 2, arbitrary: triggerRule }, { weight: 2, arbitrary: apiScript }, { weight: 1, arbitrary: odd }),
      sometimes(
        fc.tuple(
          hostileKey.filter(
            (k) =>
              ![
                'type',
                'endpoint',
                'method',
                'params',
                'body',
                'headers',
                'timeoutMs',
                'rule_id',
                'payload',
                'api_id',
                'input',
                'retry',
                'signingSecret',
              ].includes(k),
          ),
          cleanJson,
        ),
        8,
      ),
    )
    .map(([{ spec, defects }, unknown]) => {
      if (!unknown || spec === null || typeof spec !== 'object' || Array.isArray(spec)) return { spec, defects };
      return {
        spec: objectOf([...Object.entries(spec), unknown]),
        defects: [...defects, { kind: 'exact' as const, path: keyPath(root, unknown[0]), why: `unknown key ${JSON.stringify(unknown[0])}` }],
      };
    })
    .map(({ spec, defects }) => withInputDefects(spec, root, defects));
}

// ---------------------------------------------------------------------------------------------
// Webhook answers
// ---------------------------------------------------------------------------------------------

export interface Answer {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

const deepJsonText = fc.integer({ min: 60, max: 5000 }).map((n) => `${'['.repeat(n)}1${']'.repeat(n)}`);

export const answerBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 3, arbitrary: jsonValue({ maxDepth: 3 }).map((v) => jsonText(v)) },
  { weight: 2, arbitrary: hostileString(40) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"a":"\\u0000"}',
      '{"\\u0000":1}',
      '["\\ud800"]',
      '{"s":"x\\udc00y"}',
      '{"n":1e400}',
      '{"a":-0}',
      '{',
      'nul',
      '{"a":1,}',
      '\u0000',
      '',
      '"\\ud800"',
    ),
  },
  { weight: 1, arbitrary: deepJsonText },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('x', '\u0000', '\ud800', 'é'), fc.integer({ min: 60_000, max: 200_000 })).map(([c, n]) => c.repeat(n)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff, 0xfe, 0x00, 0x7b]), Buffer.from('{"a":"\xff"}', 'latin1')) },
);

export const webhookAnswer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 201, 202, 299, 301, 302, 400, 404, 410, 429, 500, 502, 503, 599),
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'text/html; charset=latin1',
    'application/octet-stream',
    'application/problem+json',
  ),
  headers: fc.dictionary(
    fc.constantFrom('x-a', 'retry-after', 'location', 'set-cookie', 'x-long'),
    fc.oneof(fc.constantFrom('1', 'http://127.0.0.1:9/', 'a=b', 'x'.repeat(4000)), fc.stringMatching(/^[ -~]{0,20}$/)),
    { maxKeys: 3 },
  ),
  body: answerBody,
});

/**
 * The one compiler of `matches` patterns (SPEC.md "EVENT conditions").
 *
 * Patterns are written in JavaScript syntax (no flags, so the legacy "Annex B" grammar) and run
 * on re2js, a port of RE2 whose matching takes time linear in the input whatever the pattern.
 * The pattern is first checked by `new RegExp` (JavaScript's own syntax errors), then
 * translated token by token into RE2 syntax so that ordinary patterns keep their JavaScript
 * meaning where the two differ:
 * - `.` excludes every JavaScript line terminator (RE2: only `\n`); `\s` / `\S` are
 *   JavaScript's white space (RE2's lacks `\v` and the Unicode spaces);
 * - `\uHHHH`, `\cX`, legacy octal `\0` / `[\12]` and identity escapes (`\a` is `a`, RE2 reads a
 *   bell) become explicit code points; `[]` matches nothing and `[^]` anything;
 * - a `{` that is not a quantifier, `}` and `]` are literal; `[` inside a class is literal;
 * - `(?<name>...)` is a plain group (names play no part in a yes/no match).
 * Refused (PatternError 'unsupported'): backreferences (`\1`, `\k<name>`), lookahead,
 * lookbehind, inline modifiers (`(?i:...)`), repetition counts above 1,000 and patterns that
 * compile to more than MAX_PROGRAM_SIZE steps.
 * One difference stays: RE2 reads the input by code points, so `.` matches a whole surrogate
 * pair (JavaScript without the `u` flag sees two code units).
 */
import { RE2JS } from 're2js';

export type PatternErrorKind = 'syntax' | 'unsupported';

/** A pattern that is not valid JavaScript ('syntax') or uses what a linear engine cannot run. */
export class PatternError extends Error {
  constructor(
    readonly kind: PatternErrorKind,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'PatternError';
  }
}

/** A compiled pattern: `test` is an unanchored search, like RegExp.prototype.test. */
export interface CompiledPattern {
  readonly source: string;
  test(input: string): boolean;
}

/** Largest `{n,m}` count RE2 runs. */
export const MAX_REPEAT = 1000;
/**
 * Largest compiled program accepted. Matching is linear in the input, with a factor that grows
 * with the program: up to about 1,000 steps a hostile input costs at most a few microseconds a
 * character; past about 1,300 the automaton's state cache thrashes and it costs ~50 times more.
 */
export const MAX_PROGRAM_SIZE = 1000;

/** JavaScript's `\s`: WhiteSpace and LineTerminator, as [low, high] code point ranges. */
const JS_SPACE: ReadonlyArray<readonly [number, number]> = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const MAX_CODE_POINT = 0x10ffff;

function complement(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [low, high] of ranges) {
    if (low > next) out.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

const hex = (cp: number) => `\\x{${cp.toString(16)}}`;

/** One code point as an RE2 atom, valid inside and outside a class. */
function literal(cp: number): string {
  const isWordChar = (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f;
  return isWordChar ? String.fromCharCode(cp) : hex(cp);
}

const rangeText = (ranges: ReadonlyArray<readonly [number, number]>) =>
  ranges.map(([low, high]) => (low === high ? hex(low) : `${hex(low)}-${hex(high)}`)).join('');

const SPACE_ITEMS = rangeText(JS_SPACE);
const NON_SPACE_ITEMS = rangeText(complement(JS_SPACE));
const ANY_BUT_LINE_TERMINATOR = `[^${rangeText([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
])}]`;
const ANYTHING = `[${hex(0)}-${hex(MAX_CODE_POINT)}]`;
const NOTHING = `[^${hex(0)}-${hex(MAX_CODE_POINT)}]`;

const CONTROL_ESCAPES: Readonly<Record<string, number>> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };
const CLASS_ESCAPES = new Set(['d', 'D', 'w', 'W']);

const isHighSurrogate = (u: number) => u >= 0xd800 && u <= 0xdbff;
const isLowSurrogate = (u: number) => u >= 0xdc00 && u <= 0xdfff;
const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isOctal = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';
const isAsciiLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);

/** A class member: one code point, or a set written as RE2 class items. */
type ClassAtom = { cp: number } | { set: string };

const LINEAR = 'matching runs in linear time';
const unsupported = (detail: string): never => {
  throw new PatternError('unsupported', detail);
};

/** Translates a pattern already known to be valid JavaScript into RE2 syntax. */
class Translator {
  private i = 0;
  private out = '';

  constructor(private readonly src: string) {}

  run(): string {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      switch (c) {
        case '\\':
          this.out += this.escapeOutsideClass();
          break;
        case '[':
          this.out += this.characterClass();
          break;
        case '(':
          this.out += this.groupOpening();
          break;
        case '.':
          this.i++;
          this.out += ANY_BUT_LINE_TERMINATOR;
          break;
        case '{':
          this.out += this.braceQuantifier() ?? this.literalAt();
          break;
        case ')':
        case '|':
        case '^':
        case '$':
        case '*':
        case '+':
        case '?':
          this.i++;
          this.out += c;
          break;
        default:
          this.out += this.literalAt();
      }
    }
    return this.out;
  }

  /** The code point at i (a surrogate pair read as one), consumed. */
  private codePointAt(): number {
    const s = this.src;
    const unit = s.charCodeAt(this.i);
    const next = s.charCodeAt(this.i + 1);
    if (isHighSurrogate(unit) && isLowSurrogate(next)) {
      this.i += 2;
      return 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
    }
    this.i++;
    return unit;
  }

  private literalAt(): string {
    return literal(this.codePointAt());
  }

  /** `{n}`, `{n,}` or `{n,m}` at i as a quantifier, or null when the brace is a literal. */
  private braceQuantifier(): string | null {
    const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.src.slice(this.i));
    if (m === null) return null;
    const min = Number(m[1]);
    const max = m[3] ? Number(m[3]) : undefined;
    if (min > MAX_REPEAT || (max !== undefined && max > MAX_REPEAT)) {
      unsupported(`repetition counts above ${MAX_REPEAT} are not supported, got ${m[0]}`);
    }
    this.i += m[0].length;
    return m[2] === undefined ? `{${min}}` : `{${min},${max ?? ''}}`;
  }

  private groupOpening(): string {
    const rest = this.src.slice(this.i);
    if (!rest.startsWith('(?')) {
      this.i++;
      return '(';
    }
    if (rest.startsWith('(?:')) {
      this.i += 3;
      return '(?:';
    }
    if (rest.startsWith('(?=') || rest.startsWith('(?!')) unsupported(`lookahead (?= and (?! is not supported: ${LINEAR}`);
    if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) unsupported(`lookbehind (?<= and (?<! is not supported: ${LINEAR}`);
    const named = /^\(\?<[^>]*>/.exec(rest);
    if (named !== null) {
      this.i += named[0].length;
      return '(?:';
    }
    return unsupported('inline modifiers such as (?i:...) are not supported');
  }

  /** Code point of `\uHHHH` at i (after the backslash and u), a following low half joined in. */
  private unicodeEscape(): number {
    const s = this.src;
    let cp = parseInt(s.slice(this.i, this.i + 4), 16);
    this.i += 4;
    if (isHighSurrogate(cp) && s[this.i] === '\\' && s[this.i + 1] === 'u') {
      const digits = s.slice(this.i + 2, this.i + 6);
      const low = /^[0-9A-Fa-f]{4}$/.test(digits) ? parseInt(digits, 16) : NaN;
      if (isLowSurrogate(low)) {
        this.i += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      }
    }
    return cp;
  }

  /** Legacy octal `\0`..`\377` at i (after the backslash): its value, digits consumed. */
  private octalEscape(): number {
    const s = this.src;
    const first = s[this.i] as string;
    const maxDigits = first <= '3' ? 3 : 2;
    let value = 0;
    let n = 0;
    while (n < maxDigits && isOctal(s[this.i])) {
      value = value * 8 + Number(s[this.i]);
      this.i++;
      n++;
    }
    return value;
  }

  /**
   * An escape shared by both contexts (after the backslash, i at the escaped character):
   * the code point it stands for, or null for `\c` without a control letter, which is a
   * literal backslash (the `c` is read next). `controlExtra` allows `\c` + digit or `_`
   * (classes only).
   */
  private characterEscape(controlExtra: boolean): number | null {
    const s = this.src;
    const c = s[this.i] as string;
    const control = CONTROL_ESCAPES[c];
    if (control !== undefined) {
      this.i++;
      return control;
    }
    if (c === 'x' && isHex(s[this.i + 1]) && isHex(s[this.i + 2])) {
      this.i += 3;
      return parseInt(s.slice(this.i - 2, this.i), 16);
    }
    if (c === 'u' && /^[0-9A-Fa-f]{4}$/.test(s.slice(this.i + 1, this.i + 5))) {
      this.i++;
      return this.unicodeEscape();
    }
    if (c === 'c') {
      const letter = s[this.i + 1];
      if (isAsciiLetter(letter) || (controlExtra && letter !== undefined && /^[0-9_]$/.test(letter))) {
        this.i += 2;
        return (letter as string).charCodeAt(0) % 32;
      }
      return null;
    }
    return this.codePointAt(); // identity escape: `\.` is `.`, `\a` is `a`
  }

  private escapeOutsideClass(): string {
    const s = this.src;
    this.i++; // the backslash
    const c = s[this.i] as string;
    if (CLASS_ESCAPES.has(c) || c === 'b' || c === 'B') {
      this.i++;
      return `\\${c}`;
    }
    if (c === 's' || c === 'S') {
      this.i++;
      return c === 's' ? `[${SPACE_ITEMS}]` : `[${NON_SPACE_ITEMS}]`;
    }
    if (c >= '1' && c <= '9') unsupported(`backreferences such as \\${c} are not supported: ${LINEAR} (a character code is written \\xHH)`);
    if (c === 'k' && s[this.i + 1] === '<') unsupported(`named backreferences \\k<name> are not supported: ${LINEAR}`);
    if (c === '0') return literal(this.octalEscape());
    const cp = this.characterEscape(false);
    return cp === null ? hex(0x5c) : literal(cp);
  }

  private classAtom(): ClassAtom {
    const s = this.src;
    if (s[this.i] !== '\\') return { cp: this.codePointAt() };
    this.i++;
    const c = s[this.i] as string;
    if (CLASS_ESCAPES.has(c)) {
      this.i++;
      return { set: `\\${c}` };
    }
    if (c === 's' || c === 'S') {
      this.i++;
      return { set: c === 's' ? SPACE_ITEMS : NON_SPACE_ITEMS };
    }
    if (c === 'b') {
      this.i++;
      return { cp: 0x08 };
    }
    if (isOctal(c)) return { cp: this.octalEscape() };
    const cp = this.characterEscape(true);
    return cp === null ? { cp: 0x5c } : { cp };
  }

  private characterClass(): string {
    const s = this.src;
    this.i++; // [
    const negated = s[this.i] === '^';
    if (negated) this.i++;
    if (s[this.i] === ']') {
      this.i++;
      return negated ? ANYTHING : NOTHING;
    }
    let items = '';
    const item = (atom: ClassAtom) => ('set' in atom ? atom.set : literal(atom.cp));
    while (s[this.i] !== ']') {
      const first = this.classAtom();
      if (s[this.i] === '-' && s[this.i + 1] !== ']') {
        this.i++; // -
        const second = this.classAtom();
        // A set at either end makes the dash a literal (Annex B: `[\d-z]` is \d, -, z).
        items += 'cp' in first && 'cp' in second ? `${literal(first.cp)}-${literal(second.cp)}` : `${item(first)}${hex(0x2d)}${item(second)}`;
      } else {
        items += item(first);
      }
    }
    this.i++; // ]
    return `[${negated ? '^' : ''}${items}]`;
  }
}

/** Patterns compiled lately, shared by validation at save and each compile at load (RE2 compiling costs ~0.1-1 ms). */
const CACHE_MAX = 1024;
const cache = new Map<string, CompiledPattern>();

/**
 * Compiles a `matches` pattern. Throws PatternError: 'syntax' when JavaScript refuses it,
 * 'unsupported' when it needs what a linear-time engine cannot run.
 */
export function compilePattern(pattern: string): CompiledPattern {
  const cached = cache.get(pattern);
  if (cached !== undefined) {
    cache.delete(pattern);
    cache.set(pattern, cached);
    return cached;
  }
  const compiled = compileUncached(pattern);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(pattern, compiled);
  return compiled;
}

function compileUncached(pattern: string): CompiledPattern {
  try {
    new RegExp(pattern);
  } catch (err) {
    throw new PatternError('syntax', (err as Error).message);
  }
  const translated = new Translator(pattern).run();
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated);
  } catch (err) {
    // What RE2 still refuses once translated: nested repetition that makes the program too large.
    const description = (err as { getDescription?: () => string }).getDescription?.() ?? 'not supported';
    return unsupported(`the pattern is too large for the linear-time engine (${description})`);
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    unsupported(
      `the pattern is too large: it compiles to ${size} steps, at most ${MAX_PROGRAM_SIZE} are allowed (large repetition counts make a pattern large)`,
    );
  }
  return { source: pattern, test: (input) => re.test(input) };
}

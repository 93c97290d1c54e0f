import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, PatternError } from '../../src/engine/rules/conditions/regex.js';

/**
 * `matches` patterns (SPEC.md "EVENT conditions"): JavaScript syntax, run in linear time on
 * re2js. Ordinary patterns answer as RegExp does; what a linear engine cannot run is refused.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function refusalOf(pattern: string): PatternError {
  try {
    compilePattern(pattern);
  } catch (err) {
    expect(err).toBeInstanceOf(PatternError);
    return err as PatternError;
  }
  throw new Error(`expected ${JSON.stringify(pattern)} to be refused`);
}

describe('compilePattern agrees with RegExp', () => {
  // Random patterns from the accepted constructs, over inputs from a small alphabet that
  // includes the characters where JavaScript and RE2 differ (\v, NBSP, \r, U+2028).
  const ATOMS = ['a', 'b', '1', ' ', '-', '.', '\\.', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\n', '\\v', '\\x61', '\\u0062', '\\-', '\\/'];
  const CLASSES = ['[ab]', '[^a]', '[a-c1]', '[\\s1]', '[^\\d]', '[\\w-]', '[\\S]', '[.]', '[^\\s-]', '[\\b]', '[]', '[^]'];
  const ASSERTIONS = ['^', '$', '\\b', '\\B'];
  const QUANTIFIERS = ['', '', '', '*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '+?', '??'];

  const pattern = fc.letrec((tie) => ({
    quantified: fc
      .tuple(fc.oneof(fc.constantFrom(...ATOMS, ...CLASSES), tie('group') as fc.Arbitrary<string>), fc.constantFrom(...QUANTIFIERS))
      .map(([atom, q]) => atom + q),
    term: fc.oneof({ weight: 4, arbitrary: tie('quantified') as fc.Arbitrary<string> }, { weight: 1, arbitrary: fc.constantFrom(...ASSERTIONS) }),
    sequence: fc.array(tie('term') as fc.Arbitrary<string>, { minLength: 1, maxLength: 4 }).map((terms) => terms.join('')),
    alternation: fc.array(tie('sequence') as fc.Arbitrary<string>, { minLength: 1, maxLength: 3 }).map((seqs) => seqs.join('|')),
    group: fc.tuple(fc.constantFrom('(', '(?:', '(?<g>'), tie('alternation') as fc.Arbitrary<string>).map(([open, body]) => `${open}${body})`),
  })).alternation;
  const input = fc
    .array(fc.constantFrom('a', 'b', 'c', '1', ' ', '-', '.', '_', '/', '\n', '\r', '\v', '\u00a0', '\u2028'), { maxLength: 12 })
    .map((cs) => cs.join(''));

  it('on random patterns and inputs', () => {
    fc.assert(
      fc.property(
        pattern.filter((p) => !/<g>.*<g>/.test(p)),
        fc.array(input, { minLength: 1, maxLength: 8 }),
        (p, inputs) => {
          const js = new RegExp(p);
          let linear: ReturnType<typeof compilePattern>;
          try {
            linear = compilePattern(p);
          } catch (error) {
            // Patterns over the size cap are refused by design (tested on their own below).
            fc.pre(!/too large/.test((error as Error).message));
            throw error;
          }
          for (const s of inputs) expect(linear.test(s), `${JSON.stringify(p)} on ${JSON.stringify(s)}`).toBe(js.test(s));
        },
      ),
      { numRuns: 600, seed: 20261207 },
    );
  });

  // Where JavaScript's grammar reads a pattern differently from RE2's.
  it.each([
    ['a.c', ['abc', 'a\nc', 'a\rc', 'a\u2028c', 'a\u2029c']],
    ['\\s', ['\v', '\u00a0', '\ufeff', '\u3000', 'x']],
    ['[^\\s]', ['\v', 'x']],
    ['\\a\\e\\z', ['aez', '\x07\x1bz']],
    ['[]', ['', 'a']],
    ['[^]', ['\n', '']],
    ['a{', ['a{']],
    ['a{,3}', ['a{,3}', 'aaa']],
    ['\\u{2}', ['uu', 'u{2}']],
    ['\\x4', ['x4']],
    ['\\cJ', ['\n']],
    ['\\c1', ['\\c1']],
    ['[\\c1]', ['\x11', 'c']],
    ['\\0', ['\0']],
    ['\\012', ['\n']],
    ['[\\12]', ['\n']],
    ['[\\d-z]', ['-', '5', 'z', 'm']],
    ['[[:alpha:]]', ['a', ':]', 'a]']],
    ['[a-]', ['-', 'b']],
    ['\\k', ['k']],
    ['é+', ['éé', 'e']],
    ['\\uD83D\\uDE00', ['😀', 'x']],
    ['😀', ['a😀b']],
    ['a$', ['a\n', 'a']],
  ] as Array<[string, string[]]>)('%j', (p, inputs) => {
    const js = new RegExp(p);
    const linear = compilePattern(p);
    for (const s of inputs) expect(linear.test(s), JSON.stringify(s)).toBe(js.test(s));
  });
});

describe('compilePattern refuses', () => {
  it.each([
    ['(a)\\1', /backreferences/],
    ['(?<n>a)\\k<n>', /named backreferences/],
    ['a(?=b)', /lookahead/],
    ['a(?!b)', /lookahead/],
    ['(?<=a)b', /lookbehind/],
    ['(?<!a)b', /lookbehind/],
    ['a{1001}', /repetition counts above 1000/],
    ['.{600}.{600}', /too large/],
    ['((a{100}){100}){100}', /too large/],
  ])('%j as unsupported', (pattern, message) => {
    const e = refusalOf(pattern);
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(message);
  });

  it('what JavaScript itself refuses, with its message', () => {
    const e = refusalOf('(abc');
    expect(e.kind).toBe('syntax');
    expect(e.message).toMatch(/Unterminated group/);
  });
});

/**
 * Runs the engine's compiled condition on a hostile input in a child process with a deadline,
 * so that a backtracking engine fails the test instead of holding the test process for minutes.
 */
function matchInChild(pattern: string, input: string, deadlineMs: number): Promise<string> {
  const script = `
    import { compilePredicate } from './src/engine/rules/conditions/index.ts';
    const test = compilePredicate({ field: 'msg', op: 'matches', value: ${JSON.stringify(pattern)} });
    process.stdout.write(String(test({ msg: ${JSON.stringify(input)} })));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`matching ${JSON.stringify(pattern)} against ${input.length} characters did not finish within ${deadlineMs} ms`));
    }, deadlineMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`the child failed (${code}): ${err}`));
    });
  });
}

describe('hostile patterns', () => {
  // Both pass safe-regex2 (the old save-time check) and backtrack exponentially in V8: each
  // further character doubles the time, ~minutes at 30 characters.
  it.each([
    ['^(\\w|\\d)+$', `${'1'.repeat(30)}!`],
    ['^(a|a)*$', `${'a'.repeat(30)}!`],
    ['^([a-z]|[a-z0-9])+$', `${'a'.repeat(30)}!`],
  ])('%j on a 31-character input finishes, unmatched', async (pattern, input) => {
    // The deadline only bounds a hang; the linear engine answers in milliseconds after start-up.
    await expect(matchInChild(pattern, input, 20_000)).resolves.toBe('false');
  });
});

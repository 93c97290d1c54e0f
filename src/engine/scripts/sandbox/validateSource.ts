import { parse, type Node, type Program } from 'acorn';
import { simple } from 'acorn-walk';
import { SpecError } from '../../rules/spec/errors.js';

/** The specPath of every refusal: the API definition's `source` argument. */
const SPEC_PATH = 'input.source';

/**
 * Checks a SCRIPT definition's source at save (SPEC "API scripts"): it parses as a classic
 * script (ecmaVersion latest), declares a top-level `main` (a function declaration, or
 * `const|let|var main =` a function or arrow, async or not), and uses no import/export
 * declaration, `import()` or `import.meta`. Nothing is evaluated. Lines and columns in the
 * messages are 1-based.
 */
export function checkScriptSource(source: string): void {
  if (typeof source !== 'string') throw new SpecError(SPEC_PATH, 'must be a string of JavaScript');

  let program: Program;
  try {
    // allowImportExportEverywhere lets import/export declarations parse in a classic script so
    // that they are refused below by name (with their line) rather than as a bare syntax error.
    program = parse(source, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      locations: true,
      allowImportExportEverywhere: true,
      allowReturnOutsideFunction: false,
      allowHashBang: false,
    });
  } catch (error) {
    throw syntaxError(error);
  }

  // import() and import.meta anywhere, import/export declarations (acorn only lets those through
  // at the top level of the program).
  simple(program, {
    ImportDeclaration(node) {
      throw refusal(node, 'import declarations are not allowed: a script is a classic script, not a module');
    },
    ExportNamedDeclaration(node) {
      throw refusal(node, 'export declarations are not allowed: a script is a classic script, not a module');
    },
    ExportDefaultDeclaration(node) {
      throw refusal(node, 'export declarations are not allowed: a script is a classic script, not a module');
    },
    ExportAllDeclaration(node) {
      throw refusal(node, 'export declarations are not allowed: a script is a classic script, not a module');
    },
    ImportExpression(node) {
      throw refusal(node, 'import() is not allowed in a script');
    },
    MetaProperty(node) {
      if (node.meta.name === 'import') throw refusal(node, 'import.meta is not allowed in a script');
    },
  });

  if (!declaresMain(program)) {
    throw new SpecError(
      SPEC_PATH,
      'the script declares no top-level main: write `function main(params, input, ctx) { ... }` or `const main = async (params, input, ctx) => { ... }`',
    );
  }
}

function declaresMain(program: Program): boolean {
  for (const statement of program.body) {
    if (statement.type === 'FunctionDeclaration' && statement.id?.name === 'main') return true;
    if (statement.type === 'VariableDeclaration') {
      for (const declarator of statement.declarations) {
        if (declarator.id.type !== 'Identifier' || declarator.id.name !== 'main') continue;
        const init = declarator.init;
        if (init && (init.type === 'FunctionExpression' || init.type === 'ArrowFunctionExpression')) return true;
      }
    }
  }
  return false;
}

function refusal(node: Node, detail: string): SpecError {
  const start = node.loc?.start;
  return new SpecError(SPEC_PATH, start ? `${detail} (line ${start.line}, column ${start.column + 1})` : detail);
}

function syntaxError(error: unknown): SpecError {
  if (error instanceof SyntaxError) {
    const loc = (error as SyntaxError & { loc?: { line: number; column: number } }).loc;
    // acorn appends "(line:column)" with a 0-based column; restate it 1-based and in words.
    const text = error.message.replace(/\s*\(\d+:\d+\)\s*$/, '');
    if (loc) return new SpecError(SPEC_PATH, `syntax error at line ${loc.line}, column ${loc.column + 1}: ${text}`);
    return new SpecError(SPEC_PATH, `syntax error: ${text}`);
  }
  return new SpecError(SPEC_PATH, `the source could not be parsed: ${(error as Error)?.message ?? String(error)}`);
}

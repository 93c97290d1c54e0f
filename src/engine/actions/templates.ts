import { readPath } from '../rules/conditions/path.js';
import { SpecError } from '../rules/spec/errors.js';

/**
 * `{{ path }}` placeholders (SPEC.md "Templates"). Placeholders are looked up with readPath,
 * never evaluated. Shared by action specs (roots payload, rule, execution, cascade) and HTTP
 * API definitions (roots params, input).
 */

export type TemplateScope = {
  payload: unknown;
  rule?: { id: string; name: string } | null;
  execution?: { id: string | null; depth: number | null } | null;
  cascade?: { id: string | null } | null;
  params?: unknown;
  input?: unknown;
};

/** The scope of a rule's action spec: the run's ids, or nulls when nothing runs (simulateRule). */
export function actionScope(rule: { id: string; name: string }, payload: unknown, run: { id: string; depth: number; cascadeId: string } | null): TemplateScope {
  return {
    payload,
    rule: { id: rule.id, name: rule.name },
    execution: { id: run?.id ?? null, depth: run?.depth ?? null },
    cascade: { id: run?.cascadeId ?? null },
  };
}

/** Roots a rule's action spec may use. */
export const ACTION_TEMPLATE_ROOTS = ['payload', 'rule', 'execution', 'cascade'] as const;
/** Roots an HTTP API definition may use. */
export const HTTP_TEMPLATE_ROOTS = ['params', 'input'] as const;

type Token = { kind: 'text'; text: string } | { kind: 'placeholder'; raw: string; path: string };

type Tokenized = { ok: true; tokens: Token[] } | { ok: false; error: string };

const PLACEHOLDER_PATH = /^[^\s{}.]+(\.[^\s{}.]+)*$/;

/** Splits a string into text and placeholders, or says why it cannot. */
function tokenize(s: string): Tokenized {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    let open = s.indexOf('{{', i);
    if (open === -1) break;
    // In a run of braces ("{{{x}}}") the placeholder starts at the last "{{".
    while (s[open + 2] === '{') open++;
    const close = s.indexOf('}}', open + 2);
    if (close === -1) {
      return { ok: false, error: `unclosed "{{" at character ${open + 1}; a placeholder is written {{ path }}` };
    }
    const raw = s.slice(open, close + 2);
    const path = s.slice(open + 2, close).trim();
    if (path === '') return { ok: false, error: `empty placeholder ${raw}; expected {{ path }}` };
    if (!PLACEHOLDER_PATH.test(path)) {
      return { ok: false, error: `invalid placeholder ${raw}; expected a dotted path such as {{ payload.field }}` };
    }
    if (open > i) tokens.push({ kind: 'text', text: s.slice(i, open) });
    tokens.push({ kind: 'placeholder', raw, path });
    i = close + 2;
  }
  if (i < s.length) tokens.push({ kind: 'text', text: s.slice(i) });
  return { ok: true, tokens };
}

/**
 * Refuses (SpecError at the exact path of the string) an unclosed `{{`, an empty or malformed
 * placeholder, or a placeholder whose root is not in `roots`. Walks objects and arrays deeply;
 * keys are not templates.
 */
export function checkTemplates(value: unknown, path: string, roots: readonly string[]): void {
  if (typeof value === 'string') {
    const result = tokenize(value);
    if (!result.ok) throw new SpecError(path, result.error);
    for (const token of result.tokens) {
      if (token.kind !== 'placeholder') continue;
      const root = token.path.split('.')[0] ?? '';
      if (!roots.includes(root)) {
        throw new SpecError(path, `unknown template root "${root}" in ${token.raw}; expected one of ${roots.join(', ')}`);
      }
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkTemplates(item, `${path}[${i}]`, roots);
    });
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      checkTemplates(item, childPath(path, key), roots);
    }
  }
}

function childPath(base: string, key: string): string {
  return /^[A-Za-z0-9_$-]+$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** True when the string holds at least one well-formed placeholder. */
export function hasPlaceholder(s: string): boolean {
  const result = tokenize(s);
  return result.ok && result.tokens.some((t) => t.kind === 'placeholder');
}

function lookup(scope: TemplateScope, path: string): { found: boolean; value: unknown } {
  const dot = path.indexOf('.');
  const root = dot === -1 ? path : path.slice(0, dot);
  const rest = dot === -1 ? '' : path.slice(dot + 1);
  if (!Object.hasOwn(scope, root)) return { found: false, value: undefined };
  const fields: Record<string, unknown> = scope;
  const base = fields[root];
  if (base === undefined) return { found: false, value: undefined };
  return readPath(base, rest);
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

function renderString(s: string, scope: TemplateScope): unknown {
  if (!s.includes('{{')) return s;
  const result = tokenize(s);
  // Malformed strings were refused at validation; at run time they stay as written.
  if (!result.ok) return s;
  const { tokens } = result;
  const only = tokens.length === 1 ? tokens[0] : undefined;
  if (only?.kind === 'placeholder') {
    const found = lookup(scope, only.path);
    return found.found && found.value !== undefined ? found.value : null;
  }
  let out = '';
  for (const token of tokens) {
    out += token.kind === 'text' ? token.text : asText(lookup(scope, token.path).value);
  }
  return out;
}

/**
 * Fills every placeholder of every string value (not keys), deeply. A string that is exactly one
 * placeholder takes the value's own type (null when the path finds nothing); inside longer text
 * the value is written as text (objects and arrays as JSON, null or missing as "").
 */
/** Fills in every string's placeholders; the shape is kept (strings stay strings). */
export function renderTemplates<T>(value: T, scope: TemplateScope): T;
export function renderTemplates(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return renderString(value, scope);
  if (Array.isArray(value)) return value.map((item) => renderTemplates(item, scope));
  if (typeof value === 'object' && value !== null) {
    // fromEntries defines own properties, so a "__proto__" key stays a plain key.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderTemplates(item, scope)]));
  }
  return value;
}

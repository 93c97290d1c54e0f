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
  /** The secrets the spec names, read for this send (or stand-ins in simulateRule). */
  secrets?: Record<string, string>;
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
/** The root of `{{secrets.NAME}}`: only in webhook and METRIC specs and HTTP definitions. */
export const SECRETS_ROOT = 'secrets';
/** Roots a webhook action spec may use. */
export const WEBHOOK_TEMPLATE_ROOTS = [...ACTION_TEMPLATE_ROOTS, SECRETS_ROOT] as const;
/** Roots of an HTTP definition's httpSpec. */
export const HTTP_SPEC_TEMPLATE_ROOTS = [...HTTP_TEMPLATE_ROOTS, SECRETS_ROOT] as const;
/** A secret's name (SPEC.md, 'Secrets'). */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

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
      if (root === SECRETS_ROOT && secretNameOf(token.path) === null) {
        throw new SpecError(path, `invalid secret placeholder ${token.raw}; expected {{secrets.NAME}} with NAME of letters, digits and _ (at most 64)`);
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

/** NAME of a placeholder path `secrets.NAME`, or null when the path is not that. */
function secretNameOf(path: string): string | null {
  const [root, name, ...rest] = path.split('.');
  return root === SECRETS_ROOT && name !== undefined && rest.length === 0 && SECRET_NAME.test(name) ? name : null;
}

function placeholdersOf(value: unknown, visit: (path: string) => void): void {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return;
    const result = tokenize(value);
    if (result.ok) for (const token of result.tokens) if (token.kind === 'placeholder') visit(token.path);
  } else if (Array.isArray(value)) {
    for (const item of value) placeholdersOf(item, visit);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) placeholdersOf(item, visit);
  }
}

/** The names of the secrets a spec's strings use (`{{secrets.NAME}}`), each once, in order. */
export function secretNamesIn(value: unknown): string[] {
  const names = new Set<string>();
  placeholdersOf(value, (path) => {
    const name = secretNameOf(path);
    if (name !== null) names.add(name);
  });
  return [...names];
}

/**
 * A spec that uses a secret may not take the scheme, host or port of its URL from a root the
 * caller controls (`untrusted`: payload, params, input), so that nobody can send a secret to a
 * host of their choosing. The URL's origin must be fixed before the first such placeholder: a
 * literal `scheme://host` followed by `/`, `?` or `#`, or a leading `{{secrets.X}}` followed by
 * one of those.
 */
export function checkSecretDestination(spec: unknown, url: string, path: string, untrusted: readonly string[]): void {
  if (secretNamesIn(spec).length === 0) return;
  const result = tokenize(url);
  if (!result.ok) return;
  let fixed = '';
  for (const token of result.tokens) {
    if (token.kind === 'text') {
      fixed += token.text;
      continue;
    }
    const root = token.path.split('.')[0] ?? '';
    if (untrusted.includes(root)) {
      if (/^\s*([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]+|\uE000[^/?#:]*)[/?#]/.test(fixed)) return;
      throw new SpecError(
        path,
        `a spec that uses a secret may not take the scheme, host or port of its URL from ${root} (${token.raw}); write them literally, or keep the whole base URL in a secret`,
      );
    }
    // Any other placeholder (a secret, the rule's own ids) is fixed by the operator.
    fixed += '\uE000';
  }
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

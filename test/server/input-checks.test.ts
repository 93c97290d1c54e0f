import { describe, expect, it } from 'vitest';
import { backends, ok, type GraphQLResponse, unique } from '../support/harness.js';
import type { Sink } from '../support/sink.js';
import { appWithSink, type FreshApp } from '../support/rules.js';

/**
 * What rules and API definitions may hold (SPEC.md "EVENT conditions", "Limits"): `matches`
 * patterns run in linear time and refuse what needs backtracking; a trigger spec is at most
 * 256 KiB and 1,000 conditions (an action spec at most 256 KiB); names, descriptions and specs
 * hold no U+0000 and no lone surrogate. Each refusal is BAD_USER_INPUT with its path.
 */

const CREATE_RULE = `mutation($input: CreateRuleInput!) { createRule(input: $input) { id triggerSpec } }`;
const UPDATE_RULE = `mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`;
const CREATE_API = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`;
const PUBLISH = `mutation($event: JSON!) { publishEvent(event: $event) { matched } }`;

function refusal(response: GraphQLResponse) {
  expect(response.errors, JSON.stringify(response)).toBeDefined();
  const error = response.errors![0]!;
  expect(error.extensions?.code, JSON.stringify(error)).toBe('BAD_USER_INPUT');
  expect(response.data ?? null).toBeNull();
  return error;
}

const leaf = (i: number) => ({ field: `f${i}`, op: '==', value: i });

describe.each(backends())('input checks (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
  });

  const webhook = () => ({ endpoint: `${sink.url}/json` });
  const createRule = (input: Record<string, unknown>) => t.gql(CREATE_RULE, { input: { name: unique('rule'), actionSpec: webhook(), ...input } });

  describe('matches', () => {
    it('a pattern that backtracks exponentially in JavaScript answers a hostile event at once', { timeout: 20_000 }, async () => {
      // ^(\w|\d)+$ passes safe-regex2, the old save-time check; on a backtracking engine these
      // 31 characters take minutes.
      const tag = unique('hostile');
      ok(
        await createRule({
          triggerSpec: {
            conditions: [
              { field: 'tag', op: '==', value: tag },
              { field: 'msg', op: 'matches', value: '^(\\w|\\d)+$' },
            ],
          },
        }),
      );
      expect(ok(await t.gql(PUBLISH, { event: { tag, msg: `${'1'.repeat(30)}!` } })).publishEvent.matched).toBe(0);
      expect(ok(await t.gql(PUBLISH, { event: { tag, msg: '12345' } })).publishEvent.matched).toBe(1);
    });

    it.each([
      ['(\\w)\\1', /backreferences/],
      ['(?<c>\\w)\\k<c>', /named backreferences/],
      ['error(?= code)', /lookahead/],
      ['error(?! code)', /lookahead/],
      ['(?<=code )\\d+', /lookbehind/],
      ['(?<!code )\\d+', /lookbehind/],
    ])('refuses %j at its specPath', async (pattern, message) => {
      const error = refusal(await createRule({ triggerSpec: { conditions: [{ field: 'msg', op: 'matches', value: pattern }] } }));
      expect(error.extensions?.specPath).toBe('triggerSpec.conditions[0].value');
      expect(error.message).toMatch(/^triggerSpec\.conditions\[0\]\.value: regular expression refused: /);
      expect(error.message).toMatch(message);
    });

    it('accepts classes, alternation, groups, quantifiers and ^$\\b\\d\\w\\s, and matches as JavaScript does', async () => {
      const tag = unique('accepted');
      const patterns = ['^[a-z]+-\\d{2,3}$', '(error|warn)(ing)?\\b', '(?:ab)+?c*', '^\\s*\\w+\\s*$', '(?<word>x)|y'];
      ok(
        await createRule({
          triggerSpec: { conditions: [{ field: 'tag', op: '==', value: tag }, ...patterns.map((value, i) => ({ field: `m${i}`, op: 'matches', value }))] },
        }),
      );
      const event = { tag, m0: 'web-12', m1: 'a warning here', m2: 'zababc', m3: ' hello ', m4: 'xyz' };
      for (const [i, p] of patterns.entries()) expect(new RegExp(p).test(event[`m${i}` as keyof typeof event])).toBe(true);
      expect(ok(await t.gql(PUBLISH, { event })).publishEvent.matched).toBe(1);
      expect(ok(await t.gql(PUBLISH, { event: { ...event, m0: 'web-1234' } })).publishEvent.matched).toBe(0);
    });
  });

  describe('spec caps', () => {
    it('a trigger spec of 1,000 conditions is accepted; the 1,001st is refused at its path', async () => {
      // The group counts: the group and 999 leaves are 1,000.
      ok(await createRule({ triggerSpec: { conditions: Array.from({ length: 999 }, (_, i) => leaf(i)) } }));
      const error = refusal(await createRule({ triggerSpec: { conditions: Array.from({ length: 1000 }, (_, i) => leaf(i)) } }));
      expect(error.extensions?.specPath).toBe('triggerSpec.conditions[999]');
      expect(error.message).toMatch(/at most 1000 conditions \(leaves and groups counted\)/);
    });

    it('counts conditions in nested groups and in every part of a stream form', async () => {
      const nested = {
        conditions: [{ conditions: Array.from({ length: 500 }, (_, i) => leaf(i)) }, { conditions: Array.from({ length: 500 }, (_, i) => leaf(i)) }],
      };
      // The root, the first group and its 500 leaves, the second group: 503; the 1,001st is [497].
      expect(refusal(await createRule({ triggerSpec: nested })).extensions?.specPath).toBe('triggerSpec.conditions[1].conditions[497]');
      const sequence = {
        sequence: [{ conditions: Array.from({ length: 600 }, (_, i) => leaf(i)) }, { conditions: Array.from({ length: 600 }, (_, i) => leaf(i)) }],
        within: 60,
      };
      expect(refusal(await createRule({ triggerSpec: sequence })).extensions?.specPath).toBe('triggerSpec.sequence[1].conditions[398]');
    });

    it('a trigger spec over 256 KiB is refused at triggerSpec; an action spec too, at actionSpec', async () => {
      const bigList = (kib: number) => Array.from({ length: kib }, () => 'x'.repeat(1020));
      ok(await createRule({ triggerSpec: { field: 'x', op: 'in', value: bigList(255) } }));
      const big = refusal(await createRule({ triggerSpec: { field: 'x', op: 'in', value: bigList(257) } }));
      expect(big.extensions?.specPath).toBe('triggerSpec');
      expect(big.message).toMatch(/at most 262144 \(256 KiB\)/);
      const action = refusal(await createRule({ triggerSpec: { conditions: [] }, actionSpec: { ...webhook(), method: 'POST', body: { list: bigList(257) } } }));
      expect(action.extensions?.specPath).toBe('actionSpec');
    });

    it('updateRule applies the same caps and leaves the rule as it was', async () => {
      const rule = ok(await createRule({ triggerSpec: { conditions: [leaf(1)] } })).createRule;
      const tooMany = refusal(
        await t.gql(UPDATE_RULE, { id: rule.id, input: { triggerSpec: { conditions: Array.from({ length: 1000 }, (_, i) => leaf(i)) } } }),
      );
      expect(tooMany.extensions?.specPath).toBe('triggerSpec.conditions[999]');
      const tooBig = refusal(
        await t.gql(UPDATE_RULE, { id: rule.id, input: { triggerSpec: { field: 'x', op: 'in', value: Array.from({ length: 257 }, () => 'x'.repeat(1020)) } } }),
      );
      expect(tooBig.extensions?.specPath).toBe('triggerSpec');
      const stored = ok(await t.gql(`query($id: ID!) { rule(id: $id) { triggerSpec } }`, { id: rule.id })).rule;
      expect(stored.triggerSpec).toEqual(rule.triggerSpec);
    });
  });

  describe('text in names, descriptions and specs', () => {
    // The harness sends JSON.stringify'd variables: a lone surrogate travels as "\ud800".
    const NUL = 'a\u0000b';
    const LONE = 'a\ud800b';

    it.each([
      ['a name with U+0000', { name: NUL }, 'field', 'input.name', /U\+0000/],
      ['a name with a lone surrogate', { name: LONE }, 'field', 'input.name', /lone surrogate U\+D800/],
      ['a description with a lone low surrogate', { description: 'x\udc00' }, 'field', 'input.description', /lone surrogate U\+DC00/],
      ['createdBy with U+0000', { createdBy: NUL }, 'field', 'input.createdBy', /U\+0000/],
      [
        'a condition field with U+0000',
        { triggerSpec: { conditions: [{ field: NUL, op: 'exists' }] } },
        'specPath',
        'triggerSpec.conditions[0].field',
        /U\+0000/,
      ],
      [
        'a condition value with a lone surrogate',
        { triggerSpec: { conditions: [leaf(1), { field: 'a', op: '==', value: LONE }] } },
        'specPath',
        'triggerSpec.conditions[1].value',
        /lone surrogate/,
      ],
      ['a string deep in a condition list', { triggerSpec: { field: 'a', op: 'in', value: ['ok', [NUL]] } }, 'specPath', 'triggerSpec.value[1][0]', /U\+0000/],
      ['a key of the trigger spec', { triggerSpec: { conditions: [], [NUL]: 1 } }, 'specPath', 'triggerSpec["a\\u0000b"]', /the key: U\+0000/],
      [
        'a key deep in the action body',
        { actionSpec: { endpoint: 'https://example.com/h', method: 'POST', body: { ok: { [LONE]: 1 } } } },
        'specPath',
        'actionSpec.body.ok["a\\ud800b"]',
        /the key: a lone surrogate/,
      ],
      [
        'an action header value',
        { actionSpec: { endpoint: 'https://example.com/h', headers: { 'x-a': LONE } } },
        'specPath',
        'actionSpec.headers.x-a',
        /lone surrogate/,
      ],
    ])('refuses %s', async (_label, input, key, path, message) => {
      const error = refusal(await createRule({ triggerSpec: { conditions: [] }, ...input }));
      expect(error.extensions?.[key]).toBe(path);
      expect(error.message.startsWith(`${path}: `), error.message).toBe(true);
      expect(error.message).toMatch(message);
    });

    it('updateRule refuses them too', async () => {
      const rule = ok(await createRule({ triggerSpec: { conditions: [] } })).createRule;
      expect(refusal(await t.gql(UPDATE_RULE, { id: rule.id, input: { name: NUL } })).extensions?.field).toBe('input.name');
      expect(refusal(await t.gql(UPDATE_RULE, { id: rule.id, input: { description: LONE } })).extensions?.field).toBe('input.description');
      const spec = refusal(await t.gql(UPDATE_RULE, { id: rule.id, input: { triggerSpec: { field: 'msg', op: 'contains', value: LONE } } }));
      expect(spec.extensions?.specPath).toBe('triggerSpec.value');
    });

    it('well-formed text beyond the BMP and other control characters are kept', async () => {
      const text = 'emoji 😀, tab\t, bell\u0007, é';
      const created = ok(
        await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { name description triggerSpec } }`, {
          input: { name: unique(text), description: text, triggerSpec: { field: 'msg', op: '==', value: text }, actionSpec: webhook() },
        }),
      ).createRule;
      expect(created.description).toBe(text);
      expect(created.triggerSpec.value).toBe(text);
    });

    it('keys an ORM would take for its own (constructor, __entity, __reference) are stored as given', async () => {
      const odd = { constructor: false, __entity: true, __reference: { x: 1 }, __helper: null, '': { constructor: { name: 5 } } };
      const created = ok(
        await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id actionSpec } }`, {
          input: { name: unique('odd keys'), triggerSpec: { conditions: [] }, actionSpec: { ...webhook(), params: odd } },
        }),
      ).createRule;
      expect(created.actionSpec.params).toEqual(odd);
      const updated = ok(
        await t.gql(`mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { actionSpec } }`, {
          id: created.id,
          input: { actionSpec: { ...webhook(), body: odd } },
        }),
      ).updateRule;
      expect(updated.actionSpec.body).toEqual(odd);
      const read = ok(await t.gql(`query($id: ID!) { rule(id: $id) { actionSpec } }`, { id: created.id })).rule;
      expect(read.actionSpec.body).toEqual(odd);
      const api = ok(
        await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id paramSchema } }`, {
          input: {
            name: unique('odd schema'),
            kind: 'SCRIPT',
            source: 'function main(params) {\n  return params;\n}\n',
            paramSchema: { type: 'object', properties: { constructor: { type: 'string' }, __entity: { type: 'boolean' } } },
          },
        }),
      ).createApiDefinition;
      expect(Object.keys(api.paramSchema.properties)).toEqual(['constructor', '__entity']);
    });

    const SOURCE = 'function main(params) {\n  return params;\n}\n';
    const SCRIPT = { kind: 'SCRIPT', source: SOURCE };
    const HTTP = { kind: 'HTTP', httpSpec: { url: 'https://example.com/api' } };
    it.each([
      ['a name with U+0000', { ...SCRIPT, name: NUL }, 'field', 'input.name'],
      ['a description with a lone surrogate', { ...SCRIPT, description: LONE }, 'field', 'input.description'],
      ['a script source with U+0000', { ...SCRIPT, source: `// ${NUL}\n${SOURCE}` }, 'field', 'input.source'],
      [
        'an httpSpec param with a lone surrogate',
        { ...HTTP, httpSpec: { url: 'https://example.com/api', params: { q: LONE } } },
        'specPath',
        'input.httpSpec.params.q',
      ],
      [
        'a paramSchema key with U+0000',
        { ...SCRIPT, paramSchema: { type: 'object', properties: { [NUL]: { type: 'string' } } } },
        'specPath',
        'input.paramSchema.properties["a\\u0000b"]',
      ],
    ])('createApiDefinition refuses %s', async (_label, input, key, path) => {
      const error = refusal(await t.gql(CREATE_API, { input: { name: unique('api'), ...input } }));
      expect(error.extensions?.[key]).toBe(path);
      expect(error.message.startsWith(`${path}: `), error.message).toBe(true);
    });
  });
});

import { describe, expect, it } from 'vitest';
import { readPath } from '../../src/engine/rules/conditions/path.js';
import { SpecError } from '../../src/engine/rules/spec/errors.js';
import {
  ACTION_TEMPLATE_ROOTS,
  HTTP_TEMPLATE_ROOTS,
  checkTemplates,
  hasPlaceholder,
  renderTemplates,
  type TemplateScope,
} from '../../src/engine/actions/templates.js';

const payload = {
  cpu: 91.5,
  host: { name: 'web-1', tags: ['a', 'b'] },
  items: [{ id: 'i1' }, { id: 'i2' }],
  zero: 0,
  empty: '',
  nothing: null,
  flag: false,
};
const scope: TemplateScope = {
  payload,
  rule: { id: 'r-1', name: 'High CPU' },
  execution: { id: 'e-1', depth: 2 },
  cascade: { id: 'c-1' },
};

describe('readPath, as templates read placeholders', () => {
  it.each([
    ['cpu', true, 91.5],
    ['host.name', true, 'web-1'],
    ['host.tags.1', true, 'b'],
    ['items.0.id', true, 'i1'],
    ['items.1', true, { id: 'i2' }],
    ['zero', true, 0],
    ['nothing', true, null],
    ['flag', true, false],
    ['', true, payload],
    ['missing', false, undefined],
    ['host.missing', false, undefined],
    ['items.2.id', false, undefined],
    ['items.-1', false, undefined],
    ['items.01', false, undefined],
    ['items.id', false, undefined],
    ['cpu.x', false, undefined],
    ['host.name.length', false, undefined],
    ['nothing.x', false, undefined],
    ['constructor', false, undefined],
    ['__proto__', false, undefined],
    ['host.toString', false, undefined],
  ])('%s', (path, found, value) => {
    expect(readPath(payload, path)).toEqual({ found, value });
  });

  it('reads keys holding dots only through segments', () => {
    expect(readPath({ 'a.b': 1 }, 'a.b').found).toBe(false);
  });

  it('reads from arrays at the top', () => {
    expect(readPath([10, 20], '1')).toEqual({ found: true, value: 20 });
  });
});

describe('renderTemplates: whole-string placeholders keep the type', () => {
  it.each([
    ['{{payload.cpu}}', 91.5],
    ['{{ payload.cpu }}', 91.5],
    ['{{   payload.host.name\t}}', 'web-1'],
    ['{{payload.host}}', payload.host],
    ['{{payload.host.tags}}', ['a', 'b']],
    ['{{payload.items.0.id}}', 'i1'],
    ['{{payload.zero}}', 0],
    ['{{payload.flag}}', false],
    ['{{payload.nothing}}', null],
    ['{{payload.missing}}', null],
    ['{{payload.missing.deeper}}', null],
    ['{{payload}}', payload],
    ['{{ payload }}', payload],
    ['{{rule.id}}', 'r-1'],
    ['{{rule}}', { id: 'r-1', name: 'High CPU' }],
    ['{{execution.depth}}', 2],
    ['{{cascade.id}}', 'c-1'],
    ['{{unknown.x}}', null],
  ])('%s', (template, value) => {
    expect(renderTemplates(template, scope)).toEqual(value);
  });
});

describe('renderTemplates: placeholders inside text', () => {
  it.each([
    ['cpu is {{payload.cpu}}%', 'cpu is 91.5%'],
    ['{{payload.host.name}}/{{payload.items.1.id}}', 'web-1/i2'],
    ['host {{payload.host}}', 'host {"name":"web-1","tags":["a","b"]}'],
    ['tags {{payload.host.tags}}', 'tags ["a","b"]'],
    ['[{{payload.nothing}}]', '[]'],
    ['[{{payload.missing}}]', '[]'],
    ['[{{payload.empty}}]', '[]'],
    ['{{payload.zero}}{{payload.flag}}', '0false'],
    [' {{payload.cpu}}', ' 91.5'],
    ['{"a": {{payload.cpu}}}', '{"a": 91.5}'],
    ['{{{payload.host.name}}}', '{web-1}'],
    ['by {{ rule.name }} at depth {{execution.depth}}', 'by High CPU at depth 2'],
    ['no placeholder', 'no placeholder'],
    ['single } and {', 'single } and {'],
    ['}} first {{payload.cpu}}', '}} first 91.5'],
    ['unclosed {{payload.cpu', 'unclosed {{payload.cpu'],
  ])('%s', (template, text) => {
    expect(renderTemplates(template, scope)).toBe(text);
  });
});

describe('renderTemplates: deep', () => {
  it('renders every string value, never keys, and leaves other values alone', () => {
    const spec = {
      type: 'webhook',
      endpoint: 'https://h/{{payload.host.name}}',
      '{{payload.cpu}}': 'key stays',
      body: { cpu: '{{payload.cpu}}', list: ['{{rule.id}}', 1, null, true, { deep: 'x{{cascade.id}}' }] },
      n: 5,
      nil: null,
    };
    expect(renderTemplates(spec, scope)).toEqual({
      type: 'webhook',
      endpoint: 'https://h/web-1',
      '{{payload.cpu}}': 'key stays',
      body: { cpu: 91.5, list: ['r-1', 1, null, true, { deep: 'xc-1' }] },
      n: 5,
      nil: null,
    });
  });

  it('does not modify its input', () => {
    const spec = { a: '{{payload.cpu}}' };
    renderTemplates(spec, scope);
    expect(spec).toEqual({ a: '{{payload.cpu}}' });
  });

  it('keeps a "__proto__" key as a plain key', () => {
    const spec = JSON.parse('{"__proto__": {"x": "{{payload.cpu}}"}}') as unknown;
    const out = renderTemplates(spec, scope) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: 91.5 });
  });

  it('gives null for execution and cascade in a simulation', () => {
    const sim: TemplateScope = { payload, rule: scope.rule, execution: { id: null, depth: null }, cascade: null };
    expect(renderTemplates({ e: '{{execution.id}}', c: '{{cascade.id}}', t: 'e={{execution.id}};c={{cascade.id}}' }, sim)).toEqual({
      e: null,
      c: null,
      t: 'e=;c=',
    });
  });

  it('treats an undefined payload as null', () => {
    expect(renderTemplates('{{payload}}', { payload: undefined })).toBeNull();
    expect(renderTemplates('{{payload.a}}', { payload: undefined })).toBeNull();
  });

  it('renders over params and input for HTTP definitions', () => {
    const s: TemplateScope = { payload: null, params: { id: 7 }, input: { token: 't' } };
    expect(renderTemplates({ url: 'https://x/{{params.id}}', h: 'Bearer {{input.token}}', n: '{{params.id}}' }, s)).toEqual({
      url: 'https://x/7',
      h: 'Bearer t',
      n: 7,
    });
  });

  it('never evaluates code', () => {
    expect(renderTemplates('{{payload.constructor}}', scope)).toBeNull();
    expect(renderTemplates('x{{payload.__proto__}}', scope)).toBe('x');
  });
});

describe('checkTemplates', () => {
  it.each([
    'plain',
    '{{payload}}',
    '{{ payload.a.b }}',
    'a {{payload.items.0.id}} b {{rule.name}} {{execution.depth}} {{cascade.id}}',
    '}} lone closers',
    '{single}',
    '{{{payload.x}}}',
  ])('accepts %j', (s) => {
    expect(() => checkTemplates(s, 'actionSpec.body', ACTION_TEMPLATE_ROOTS)).not.toThrow();
  });

  it.each([
    ['{{payload.x', /unclosed "\{\{" at character 1/],
    ['abc {{ payload', /unclosed "\{\{" at character 5/],
    ['{{payload.x}} then {{', /unclosed/],
    ['{{}}', /empty placeholder/],
    ['{{   }}', /empty placeholder/],
    ['{{payload..x}}', /invalid placeholder/],
    ['{{payload x}}', /invalid placeholder/],
    ['{{.payload}}', /invalid placeholder/],
    ['{{ foo.bar }}', /unknown template root "foo" in \{\{ foo\.bar \}\}; expected one of payload, rule, execution, cascade/],
    ['{{params.a}}', /unknown template root "params"/],
    ['{{Payload.a}}', /unknown template root "Payload"/],
  ])('refuses %j', (s, message) => {
    let error: unknown;
    try {
      checkTemplates(s, 'actionSpec.body.msg', ACTION_TEMPLATE_ROOTS);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).specPath).toBe('actionSpec.body.msg');
    expect((error as SpecError).message).toMatch(/^actionSpec\.body\.msg: /);
    expect((error as SpecError).message).toMatch(message);
  });

  it.each([
    [{ a: { b: ['ok', { c: '{{x}}' }] } }, 'actionSpec.body.a.b[1].c'],
    [['{{payload}}', '{{nope}}'], 'actionSpec.body[1]'],
    [{ 'Content-Type': '{{bad' }, 'actionSpec.body.Content-Type'],
    [{ 'odd key': '{{bad' }, 'actionSpec.body["odd key"]'],
    [{ 'a.b': '{{bad' }, 'actionSpec.body["a.b"]'],
  ])('reports the exact path of %j', (value, path) => {
    expect(() => checkTemplates(value, 'actionSpec.body', ACTION_TEMPLATE_ROOTS)).toThrow(SpecError);
    try {
      checkTemplates(value, 'actionSpec.body', ACTION_TEMPLATE_ROOTS);
    } catch (err) {
      expect((err as SpecError).specPath).toBe(path);
    }
  });

  it('ignores keys and non-string values', () => {
    expect(() => checkTemplates({ '{{bad': 1, n: 5, b: true, z: null }, 'p', ACTION_TEMPLATE_ROOTS)).not.toThrow();
  });

  it('uses the roots it is given', () => {
    expect(() => checkTemplates('{{params.a}} {{input}}', 'input.httpSpec.url', HTTP_TEMPLATE_ROOTS)).not.toThrow();
    expect(() => checkTemplates('{{payload.a}}', 'input.httpSpec.url', HTTP_TEMPLATE_ROOTS)).toThrow(
      'input.httpSpec.url: unknown template root "payload" in {{payload.a}}; expected one of params, input',
    );
  });
});

describe('hasPlaceholder', () => {
  it.each([
    ['{{payload.a}}', true],
    ['x {{ rule.id }}', true],
    ['plain', false],
    ['{{unclosed', false],
  ])('%s', (s, has) => {
    expect(hasPlaceholder(s)).toBe(has);
  });
});

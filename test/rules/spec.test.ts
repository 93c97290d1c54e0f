import { describe, expect, it } from 'vitest';
import {
  SpecError,
  compileParamSchema,
  conditionOf,
  eventSpecKind,
  validateActionSpec,
  validateHttpSpec,
  validateParamSchema,
  validateRuntimePolicy,
  validateTriggerSpec,
  type EventTriggerSpec,
  type SpecLimits,
  type TriggerType,
} from '../../src/engine/rules/spec/index.js';

const LIMITS: SpecLimits = { scriptMaxTimeoutMs: 30000, scriptMaxMemoryMb: 256 };

/** Runs fn, expects a SpecError, returns it. */
function refusal(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    const e = err as SpecError;
    expect(e.message.startsWith(`${e.specPath}: `)).toBe(true);
    return e;
  }
  throw new Error('expected a SpecError, nothing was thrown');
}

const event = (spec: unknown) => validateTriggerSpec('EVENT', spec);
const leaf = (op: string, value?: unknown, withValue = true) => (withValue ? { field: 'x', op, value } : { field: 'x', op });

describe('SpecError', () => {
  it('names the path in its message', () => {
    const e = new SpecError('triggerSpec.conditions[1].op', 'bad');
    expect(e.message).toBe('triggerSpec.conditions[1].op: bad');
    expect(e.specPath).toBe('triggerSpec.conditions[1].op');
    expect(e.name).toBe('SpecError');
    expect(e).toBeInstanceOf(Error);
  });
});

describe('EVENT conditions: normalisation', () => {
  it.each([
    ['leaf kept as given', { field: 'cpu', op: '>', value: 80 }, { field: 'cpu', op: '>', value: 80 }],
    ['= becomes ==', { field: 'cpu', op: '=', value: 80 }, { field: 'cpu', op: '==', value: 80 }],
    ['word operators any case', { field: 'a', op: 'NOT_IN', value: [1] }, { field: 'a', op: 'not_in', value: [1] }],
    ['exists without value', { field: 'a', op: 'exists' }, { field: 'a', op: 'exists' }],
    ['exists with value null drops it', { field: 'a', op: 'not_exists', value: null }, { field: 'a', op: 'not_exists' }],
    ['== null kept', { field: 'a', op: '==', value: null }, { field: 'a', op: '==', value: null }],
    ['logic defaults to AND', { conditions: [] }, { conditions: [], logic: 'AND' }],
    ['logic null is AND', { conditions: [], logic: null }, { conditions: [], logic: 'AND' }],
    ['logic upper-cased', { conditions: [], logic: 'or' }, { conditions: [], logic: 'OR' }],
    ['not', { conditions: [{ field: 'a', op: '=', value: 1 }], logic: 'Not' }, { conditions: [{ field: 'a', op: '==', value: 1 }], logic: 'NOT' }],
    [
      'nested groups',
      {
        conditions: [
          { conditions: [{ field: 'a.b', op: 'exists' }], logic: 'or' },
          { field: 'c', op: '<', value: 'z' },
        ],
      },
      {
        conditions: [
          { conditions: [{ field: 'a.b', op: 'exists' }], logic: 'OR' },
          { field: 'c', op: '<', value: 'z' },
        ],
        logic: 'AND',
      },
    ],
    [
      'throttle and concurrency',
      { field: 'a', op: '>', value: 1, throttle: { cooldownSeconds: 300, key: ['host'] }, concurrency: { mode: 'queue' } },
      { field: 'a', op: '>', value: 1, throttle: { cooldownSeconds: 300, key: ['host'] }, concurrency: { mode: 'queue', maxQueued: 100 } },
    ],
    ['concurrency defaults', { field: 'a', op: 'exists', concurrency: {} }, { field: 'a', op: 'exists', concurrency: { mode: 'skip', maxQueued: 100 } }],
    [
      'throttle without key, null options dropped',
      { conditions: [], throttle: { cooldownSeconds: 0.5, key: null }, concurrency: null },
      { conditions: [], logic: 'AND', throttle: { cooldownSeconds: 0.5 } },
    ],
    [
      'parallel mode any case',
      { field: 'a', op: 'exists', concurrency: { mode: 'PARALLEL', maxQueued: 3 } },
      { field: 'a', op: 'exists', concurrency: { mode: 'parallel', maxQueued: 3 } },
    ],
  ])('%s', (_name, given, normalised) => {
    expect(event(given)).toEqual(normalised);
  });

  it('accepts deep nesting up to the limit', () => {
    let spec: unknown = { field: 'a', op: 'exists' };
    for (let i = 0; i < 50; i++) spec = { conditions: [spec] };
    expect(() => event(spec)).not.toThrow();
    for (let i = 0; i < 100; i++) spec = { conditions: [spec] };
    expect(refusal(() => event(spec)).detail).toMatch(/nested too deeply/);
  });

  it('conditionOf strips throttle and concurrency; eventSpecKind is condition', () => {
    const spec = event({ field: 'a', op: '>', value: 1, throttle: { cooldownSeconds: 5 } }) as EventTriggerSpec;
    expect(conditionOf(spec)).toEqual({ field: 'a', op: '>', value: 1 });
    expect(eventSpecKind(spec)).toBe('condition');
  });
});

describe('EVENT conditions: operator value shapes', () => {
  const ok: [string, unknown][] = [
    ['>', 5],
    ['<', '10'],
    ['>=', 1.5],
    ['<=', 'b'],
    ['==', 'x'],
    ['==', { a: 1 }],
    ['!=', 5],
    ['!=', null],
    ['=', true],
    ['in', [1, 'a']],
    ['in', []],
    ['not_in', ['x']],
    ['contains', 'sub'],
    ['contains', 3],
    ['not_contains', 'x'],
    ['starts_with', 'ab'],
    ['ends_with', ''],
    ['between', [1, 10]],
    ['between', ['a', 'z']],
    ['between', [5, 5]],
    ['matches', '^ab+c$'],
    ['matches', '\\d{3}-\\d{4}'],
    // Nested repetition is harmless on a linear-time engine (safe-regex2 used to refuse these).
    ['matches', '(a+)+$'],
    ['matches', '([a-z]*)*x'],
    ['matches', '(?<word>\\w+)\\s'],
  ];
  it.each(ok)('%s accepts %j', (op, value) => {
    expect(() => event(leaf(op, value))).not.toThrow();
  });

  it.each(['exists', 'not_exists'])('%s takes no value', (op) => {
    expect(event(leaf(op, undefined, false))).toEqual({ field: 'x', op });
    const e = refusal(() => event(leaf(op, 1)));
    expect(e.specPath).toBe('triggerSpec.value');
    expect(e.detail).toMatch(/takes no value/);
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['>', undefined, 'triggerSpec.value', /required/],
    ['>', [1], 'triggerSpec.value', /number or string.*got an array/],
    ['<', null, 'triggerSpec.value', /number or string.*got null/],
    ['>=', true, 'triggerSpec.value', /number or string/],
    ['<=', { a: 1 }, 'triggerSpec.value', /got an object/],
    ['==', undefined, 'triggerSpec.value', /required/],
    ['!=', undefined, 'triggerSpec.value', /required/],
    ['contains', undefined, 'triggerSpec.value', /required/],
    ['in', 'a', 'triggerSpec.value', /a list.*got the string "a"/],
    ['not_in', null, 'triggerSpec.value', /a list/],
    ['in', undefined, 'triggerSpec.value', /required/],
    ['starts_with', 5, 'triggerSpec.value', /a string.*got the number 5/],
    ['ends_with', undefined, 'triggerSpec.value', /required/],
    ['between', [1], 'triggerSpec.value', /\[low, high\]/],
    ['between', [1, 2, 3], 'triggerSpec.value', /\[low, high\]/],
    ['between', 5, 'triggerSpec.value', /\[low, high\]/],
    ['between', [1, null], 'triggerSpec.value[1]', /number or string/],
    ['between', [{}, 1], 'triggerSpec.value[0]', /number or string/],
    ['between', [10, 1], 'triggerSpec.value', /greater than high/],
    ['matches', 5, 'triggerSpec.value', /regular expression/],
    ['matches', undefined, 'triggerSpec.value', /required/],
    ['matches', '(a)\\1', 'triggerSpec.value', /refused: backreferences/],
    ['matches', '(?<w>a)\\k<w>', 'triggerSpec.value', /refused: named backreferences/],
    ['matches', 'a(?=b)', 'triggerSpec.value', /refused: lookahead/],
    ['matches', 'a(?!b)', 'triggerSpec.value', /refused: lookahead/],
    ['matches', '(?<=a)b', 'triggerSpec.value', /refused: lookbehind/],
    ['matches', '(?<!a)b', 'triggerSpec.value', /refused: lookbehind/],
    ['matches', 'a{1001}', 'triggerSpec.value', /refused: repetition counts above 1000/],
    ['matches', '.{600}.{600}', 'triggerSpec.value', /refused: the pattern is too large/],
    ['matches', '(abc', 'triggerSpec.value', /invalid regular expression/],
    ['matches', 'a'.repeat(257), 'triggerSpec.value', /257 characters.*at most 256/],
  ];
  it.each(bad)('%s refuses %j', (op, value, path, message) => {
    const spec = value === undefined ? leaf(op, undefined, false) : leaf(op, value);
    const e = refusal(() => event(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });

  it('a 256-character regex is accepted', () => {
    expect(() => event(leaf('matches', 'a'.repeat(256)))).not.toThrow();
  });
});

describe('EVENT conditions: refusals', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['not an object', 'cpu > 80', 'triggerSpec', /expected an object.*got the string/],
    ['array', [], 'triggerSpec', /expected an object/],
    ['null', null, 'triggerSpec', /got null/],
    ['empty object', {}, 'triggerSpec', /expected a condition \(field\/op\), a group \(conditions\), or a stream form/],
    ['only options', { throttle: { cooldownSeconds: 1 } }, 'triggerSpec', /expected a condition/],
    ['unknown operator', { field: 'a', op: '=~', value: 1 }, 'triggerSpec.op', /unknown operator "=~"; expected one of >, <, >=/],
    [
      'nested unknown operator',
      {
        conditions: [
          { field: 'a', op: '>', value: 1 },
          { field: 'b', op: '=~', value: 1 },
        ],
      },
      'triggerSpec.conditions[1].op',
      /unknown operator "=~"/,
    ],
    ['deep path', { conditions: [{ conditions: [{ field: 'a', op: 'in', value: 1 }] }] }, 'triggerSpec.conditions[0].conditions[0].value', /a list/],
    ['op not a string', { field: 'a', op: 5, value: 1 }, 'triggerSpec.op', /an operator.*got the number 5/],
    ['missing op', { field: 'a', value: 1 }, 'triggerSpec.op', /required/],
    ['missing field', { op: '>', value: 1 }, 'triggerSpec.field', /required/],
    ['empty field', { field: '', op: '>', value: 1 }, 'triggerSpec.field', /dotted path/],
    ['field with empty segment', { field: 'a..b', op: '>', value: 1 }, 'triggerSpec.field', /segment is empty/],
    ['field not a string', { field: 3, op: '>', value: 1 }, 'triggerSpec.field', /got the number 3/],
    ['unknown key in leaf', { field: 'a', op: '>', value: 1, extra: true }, 'triggerSpec.extra', /unknown key "extra"/],
    ['unknown key in nested leaf', { conditions: [{ field: 'a', op: 'exists', foo: 1 }] }, 'triggerSpec.conditions[0].foo', /unknown key/],
    ['unknown key in group', { conditions: [], mode: 'x' }, 'triggerSpec.mode', /unknown key "mode"/],
    ['leaf and group mixed', { field: 'a', op: '>', value: 1, conditions: [] }, 'triggerSpec', /not both/],
    ['bad logic', { conditions: [], logic: 'XOR' }, 'triggerSpec.logic', /AND, OR or NOT.*got the string "XOR"/],
    ['logic without conditions', { logic: 'AND' }, 'triggerSpec.conditions', /required/],
    ['conditions not a list', { conditions: { field: 'a' } }, 'triggerSpec.conditions', /a list of conditions/],
    ['condition not an object', { conditions: [5] }, 'triggerSpec.conditions[0]', /a condition/],
    ['empty nested condition', { conditions: [{}] }, 'triggerSpec.conditions[0]', /no condition keys/],
    ['throttle without cooldown', { field: 'a', op: 'exists', throttle: {} }, 'triggerSpec.throttle.cooldownSeconds', /required/],
    ['throttle cooldown 0', { field: 'a', op: 'exists', throttle: { cooldownSeconds: 0 } }, 'triggerSpec.throttle.cooldownSeconds', /greater than 0/],
    ['throttle key not list', { field: 'a', op: 'exists', throttle: { cooldownSeconds: 1, key: 'host' } }, 'triggerSpec.throttle.key', /list/],
    ['throttle key item', { field: 'a', op: 'exists', throttle: { cooldownSeconds: 1, key: ['a', ''] } }, 'triggerSpec.throttle.key[1]', /non-empty/],
    ['throttle unknown key', { field: 'a', op: 'exists', throttle: { cooldownSeconds: 1, by: [] } }, 'triggerSpec.throttle.by', /unknown key/],
    ['concurrency mode', { field: 'a', op: 'exists', concurrency: { mode: 'wait' } }, 'triggerSpec.concurrency.mode', /skip, queue, parallel/],
    ['concurrency maxQueued 0', { field: 'a', op: 'exists', concurrency: { maxQueued: 0 } }, 'triggerSpec.concurrency.maxQueued', /whole number of at least 1/],
    ['concurrency maxQueued fraction', { field: 'a', op: 'exists', concurrency: { maxQueued: 1.5 } }, 'triggerSpec.concurrency.maxQueued', /whole number/],
    [
      'concurrency not object',
      { field: 'a', op: 'exists', concurrency: 'skip' },
      'triggerSpec.concurrency',
      /concurrency setting \{mode, maxQueued\}, got the string "skip"/,
    ],
  ];
  it.each(cases)('%s', (_name, spec, path, message) => {
    const e = refusal(() => event(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('EVENT stream forms', () => {
  const windowSpec = {
    filter: { field: 'type', op: '==', value: 'req' },
    window: { type: 'sliding', sizeSeconds: 60 },
    aggregate: { fn: 'percentile', field: 'latency_ms', percentile: 95 },
    groupBy: ['host'],
    op: '>',
    value: 100,
    timeField: 'ts',
    allowedLatenessSeconds: 5,
  };

  it('window: accepted and kept', () => {
    const spec = event(windowSpec) as EventTriggerSpec;
    expect(spec).toEqual(windowSpec);
    expect(eventSpecKind(spec)).toBe('window');
  });

  it('window: defaults filled in and names normalised', () => {
    expect(event({ window: { type: 'Tumbling', sizeSeconds: 10 }, aggregate: { fn: 'COUNT' }, op: '=', value: 3, throttle: { cooldownSeconds: 60 } })).toEqual({
      window: { type: 'tumbling', sizeSeconds: 10 },
      aggregate: { fn: 'count' },
      groupBy: [],
      op: '==',
      value: 3,
      allowedLatenessSeconds: 0,
      throttle: { cooldownSeconds: 60 },
    });
  });

  it('window: session with gapSeconds', () => {
    expect(event({ window: { type: 'session', gapSeconds: 30 }, aggregate: { fn: 'sum', field: 'n' }, op: '>=', value: 1 })).toMatchObject({
      window: { type: 'session', gapSeconds: 30 },
      aggregate: { fn: 'sum', field: 'n' },
    });
  });

  it.each(['sum', 'avg', 'min', 'max', 'std'])('window: fn %s needs a field', (fn) => {
    const e = refusal(() => event({ window: { type: 'sliding', sizeSeconds: 5 }, aggregate: { fn }, op: '>', value: 1 }));
    expect(e.specPath).toBe('triggerSpec.aggregate.field');
  });

  it('sequence: accepted with defaults', () => {
    const spec = event({
      sequence: [
        { field: 'a', op: '=', value: 1 },
        { conditions: [], logic: 'or' },
      ],
      within: 60,
    }) as EventTriggerSpec;
    expect(spec).toEqual({
      sequence: [
        { field: 'a', op: '==', value: 1 },
        { conditions: [], logic: 'OR' },
      ],
      within: 60,
      by: [],
    });
    expect(eventSpecKind(spec)).toBe('sequence');
  });

  it('absence: accepted with defaults', () => {
    const spec = event({
      absence: { after: { field: 'type', op: '==', value: 'order' }, expect: { field: 'type', op: '==', value: 'paid' }, within: 60, by: ['order_id'] },
      timeField: 'ts',
      concurrency: { mode: 'parallel' },
    }) as EventTriggerSpec;
    expect(spec).toEqual({
      absence: { after: { field: 'type', op: '==', value: 'order' }, expect: { field: 'type', op: '==', value: 'paid' }, within: 60, by: ['order_id'] },
      timeField: 'ts',
      concurrency: { mode: 'parallel', maxQueued: 100 },
    });
    expect(eventSpecKind(spec)).toBe('absence');
  });

  const win = (over: Record<string, unknown>) => ({ window: { type: 'sliding', sizeSeconds: 60 }, aggregate: { fn: 'count' }, op: '>', value: 1, ...over });
  const cases: [string, unknown, string, RegExp][] = [
    ['window without aggregate', { window: { type: 'sliding', sizeSeconds: 60 }, op: '>', value: 1 }, 'triggerSpec.aggregate', /required/],
    ['aggregate without window', { aggregate: { fn: 'count' }, op: '>', value: 1 }, 'triggerSpec.window', /required/],
    ['filter alone', { filter: { field: 'a', op: 'exists' } }, 'triggerSpec.window', /required/],
    ['window type unknown', win({ window: { type: 'hopping', sizeSeconds: 1 } }), 'triggerSpec.window.type', /tumbling, sliding, session/],
    ['window type missing', win({ window: { sizeSeconds: 1 } }), 'triggerSpec.window.type', /required/],
    ['sliding without size', win({ window: { type: 'sliding' } }), 'triggerSpec.window.sizeSeconds', /required/],
    ['tumbling size 0', win({ window: { type: 'tumbling', sizeSeconds: 0 } }), 'triggerSpec.window.sizeSeconds', /greater than 0/],
    ['tumbling with gap', win({ window: { type: 'tumbling', sizeSeconds: 5, gapSeconds: 1 } }), 'triggerSpec.window.gapSeconds', /no gapSeconds/],
    ['session without gap', win({ window: { type: 'session' } }), 'triggerSpec.window.gapSeconds', /required/],
    ['session with size', win({ window: { type: 'session', gapSeconds: 5, sizeSeconds: 5 } }), 'triggerSpec.window.sizeSeconds', /no sizeSeconds/],
    ['window unknown key', win({ window: { type: 'sliding', sizeSeconds: 5, slide: 1 } }), 'triggerSpec.window.slide', /unknown key/],
    ['fn unknown', win({ aggregate: { fn: 'median', field: 'a' } }), 'triggerSpec.aggregate.fn', /count, sum, avg/],
    ['percentile missing', win({ aggregate: { fn: 'percentile', field: 'a' } }), 'triggerSpec.aggregate.percentile', /required/],
    ['percentile > 100', win({ aggregate: { fn: 'percentile', field: 'a', percentile: 101 } }), 'triggerSpec.aggregate.percentile', /0 to 100/],
    ['percentile < 0', win({ aggregate: { fn: 'percentile', field: 'a', percentile: -1 } }), 'triggerSpec.aggregate.percentile', /0 to 100/],
    ['percentile with avg', win({ aggregate: { fn: 'avg', field: 'a', percentile: 5 } }), 'triggerSpec.aggregate.percentile', /only to fn percentile/],
    ['op not comparison', win({ op: 'in' }), 'triggerSpec.op', /comparison operator/],
    ['op missing', win({ op: undefined }), 'triggerSpec.op', /required/],
    ['value not a number', win({ value: '5' }), 'triggerSpec.value', /a number.*got the string "5"/],
    ['groupBy not list', win({ groupBy: 'host' }), 'triggerSpec.groupBy', /list/],
    ['groupBy item', win({ groupBy: [1] }), 'triggerSpec.groupBy[0]', /non-empty string/],
    ['lateness negative', win({ allowedLatenessSeconds: -1 }), 'triggerSpec.allowedLatenessSeconds', /0 or more/],
    ['timeField empty', win({ timeField: '' }), 'triggerSpec.timeField', /dotted path/],
    ['filter bad', win({ filter: { field: 'a', op: 'like', value: 1 } }), 'triggerSpec.filter.op', /unknown operator/],
    ['window unknown top key', win({ within: 5 }), 'triggerSpec.within', /unknown key/],
    ['window and sequence', win({ sequence: [] }), 'triggerSpec', /several/],
    ['sequence not list', { sequence: { a: 1 }, within: 5 }, 'triggerSpec.sequence', /list of at least 2/],
    ['sequence one step', { sequence: [{ field: 'a', op: 'exists' }], within: 5 }, 'triggerSpec.sequence', /at least 2 steps, got 1/],
    [
      'sequence bad step',
      {
        sequence: [
          { field: 'a', op: 'exists' },
          { field: 'b', op: '~' },
        ],
        within: 5,
      },
      'triggerSpec.sequence[1].op',
      /unknown operator/,
    ],
    [
      'sequence no within',
      {
        sequence: [
          { field: 'a', op: 'exists' },
          { field: 'b', op: 'exists' },
        ],
      },
      'triggerSpec.within',
      /required/,
    ],
    [
      'sequence within 0',
      {
        sequence: [
          { field: 'a', op: 'exists' },
          { field: 'b', op: 'exists' },
        ],
        within: 0,
      },
      'triggerSpec.within',
      /greater than 0/,
    ],
    [
      'sequence by',
      {
        sequence: [
          { field: 'a', op: 'exists' },
          { field: 'b', op: 'exists' },
        ],
        within: 5,
        by: 'user',
      },
      'triggerSpec.by',
      /list/,
    ],
    [
      'sequence unknown key',
      {
        sequence: [
          { field: 'a', op: 'exists' },
          { field: 'b', op: 'exists' },
        ],
        within: 5,
        x: 1,
      },
      'triggerSpec.x',
      /unknown key/,
    ],
    ['absence not object', { absence: [] }, 'triggerSpec.absence', /an absence/],
    ['absence no after', { absence: { expect: { field: 'a', op: 'exists' }, within: 5 } }, 'triggerSpec.absence.after', /required/],
    ['absence no expect', { absence: { after: { field: 'a', op: 'exists' }, within: 5 } }, 'triggerSpec.absence.expect', /required/],
    [
      'absence bad expect',
      { absence: { after: { field: 'a', op: 'exists' }, expect: { field: 'a' }, within: 5 } },
      'triggerSpec.absence.expect.op',
      /required/,
    ],
    ['absence no within', { absence: { after: { field: 'a', op: 'exists' }, expect: { field: 'b', op: 'exists' } } }, 'triggerSpec.absence.within', /required/],
    [
      'absence by item',
      { absence: { after: { field: 'a', op: 'exists' }, expect: { field: 'b', op: 'exists' }, within: 5, by: [''] } },
      'triggerSpec.absence.by[0]',
      /non-empty/,
    ],
    [
      'absence unknown key',
      { absence: { after: { field: 'a', op: 'exists' }, expect: { field: 'b', op: 'exists' }, within: 5, key: [] } },
      'triggerSpec.absence.key',
      /unknown key/,
    ],
    [
      'absence top-level within',
      { absence: { after: { field: 'a', op: 'exists' }, expect: { field: 'b', op: 'exists' }, within: 5 }, within: 5 },
      'triggerSpec.within',
      /unknown key/,
    ],
  ];
  it.each(cases)('%s', (_name, spec, path, message) => {
    const e = refusal(() => event(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('SCHEDULE', () => {
  const schedule = (spec: unknown) => validateTriggerSpec('SCHEDULE', spec);
  it.each([
    ['empty is every 300 seconds', {}, { intervalSeconds: 300 }],
    ['interval', { intervalSeconds: 1 }, { intervalSeconds: 1 }],
    ['interval null is default', { intervalSeconds: null }, { intervalSeconds: 300 }],
    ['cron defaults to UTC', { cron: '*/5 * * * *' }, { cron: '*/5 * * * *', timezone: 'UTC' }],
    ['cron with seconds and zone', { cron: '0 */5 * * * *', timezone: 'Europe/Paris' }, { cron: '0 */5 * * * *', timezone: 'Europe/Paris' }],
    [
      'cron with payload and concurrency',
      { cron: '0 9 * * MON-FRI', payload: { a: 1 }, concurrency: { mode: 'queue', maxQueued: 5 } },
      { cron: '0 9 * * MON-FRI', timezone: 'UTC', payload: { a: 1 }, concurrency: { mode: 'queue', maxQueued: 5 } },
    ],
    ['payload null dropped', { intervalSeconds: 60, payload: null }, { intervalSeconds: 60 }],
    ['empty payload kept', { intervalSeconds: 60, payload: {} }, { intervalSeconds: 60, payload: {} }],
  ])('%s', (_name, given, normalised) => {
    expect(schedule(given)).toEqual(normalised);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['not an object', 5, 'triggerSpec', /object/],
    ['both', { cron: '* * * * *', intervalSeconds: 5 }, 'triggerSpec', /either cron or intervalSeconds, not both/],
    ['interval 0', { intervalSeconds: 0 }, 'triggerSpec.intervalSeconds', /at least 1/],
    ['interval fraction', { intervalSeconds: 1.5 }, 'triggerSpec.intervalSeconds', /whole number/],
    ['interval string', { intervalSeconds: '60' }, 'triggerSpec.intervalSeconds', /got the string "60"/],
    ['cron 4 fields', { cron: '* * * *' }, 'triggerSpec.cron', /five fields.*got 4 fields/],
    ['cron 7 fields', { cron: '* * * * * * *' }, 'triggerSpec.cron', /got 7 fields/],
    ['cron out of range', { cron: '61 * * * *' }, 'triggerSpec.cron', /invalid cron expression "61 \* \* \* \*"/],
    ['cron garbage', { cron: 'a b c d e' }, 'triggerSpec.cron', /invalid cron expression/],
    ['cron empty', { cron: '' }, 'triggerSpec.cron', /cron expression/],
    ['cron never fires', { cron: '0 0 31 2 *' }, 'triggerSpec.cron', /never fires/],
    ['bad timezone', { cron: '* * * * *', timezone: 'Mars/Olympus' }, 'triggerSpec.timezone', /unknown time zone "Mars\/Olympus"/],
    ['timezone with interval', { intervalSeconds: 5, timezone: 'UTC' }, 'triggerSpec.timezone', /only to a cron/],
    ['payload not object', { intervalSeconds: 5, payload: [1] }, 'triggerSpec.payload', /object/],
    ['throttle not allowed', { intervalSeconds: 5, throttle: { cooldownSeconds: 5 } }, 'triggerSpec.throttle', /unknown key/],
    ['concurrency bad', { intervalSeconds: 5, concurrency: { mode: 'x' } }, 'triggerSpec.concurrency.mode', /skip/],
    ['unknown key', { every: 5 }, 'triggerSpec.every', /unknown key "every"/],
  ];
  it.each(cases)('refuses %s', (_name, spec, path, message) => {
    const e = refusal(() => schedule(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('METRIC', () => {
  const metric = (spec: unknown) => validateTriggerSpec('METRIC', spec);
  const base = { endpoint: 'https://metrics.example.com/cpu', valuePath: 'data.cpu', op: '>', threshold: 80 };

  it('fills in defaults', () => {
    expect(metric(base)).toEqual({ ...base, method: 'GET', headers: {}, params: {}, pollIntervalSeconds: 60 });
  });

  it('keeps everything given', () => {
    const full = { ...base, method: 'post', headers: { Authorization: 'x' }, params: { q: 1 }, op: '=', pollIntervalSeconds: 5, concurrency: { mode: 'skip' } };
    expect(metric(full)).toEqual({ ...full, method: 'POST', op: '==', concurrency: { mode: 'skip', maxQueued: 100 } });
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['no endpoint', { ...base, endpoint: undefined }, 'triggerSpec.endpoint', /required/],
    ['endpoint not URL', { ...base, endpoint: 'metrics' }, 'triggerSpec.endpoint', /absolute http or https URL/],
    ['endpoint ftp', { ...base, endpoint: 'ftp://x/y' }, 'triggerSpec.endpoint', /got a ftp URL/],
    ['method PUT', { ...base, method: 'PUT' }, 'triggerSpec.method', /GET, POST/],
    ['headers not strings', { ...base, headers: { a: 1 } }, 'triggerSpec.headers.a', /string/],
    ['params not object', { ...base, params: [] }, 'triggerSpec.params', /object/],
    ['no valuePath', { ...base, valuePath: undefined }, 'triggerSpec.valuePath', /required/],
    ['op unknown', { ...base, op: 'contains' }, 'triggerSpec.op', /comparison operator/],
    ['threshold string', { ...base, threshold: '80' }, 'triggerSpec.threshold', /a number/],
    ['threshold missing', { ...base, threshold: null }, 'triggerSpec.threshold', /required/],
    ['poll 0', { ...base, pollIntervalSeconds: 0 }, 'triggerSpec.pollIntervalSeconds', /at least 1/],
    ['unknown key', { ...base, body: {} }, 'triggerSpec.body', /unknown key/],
    ['throttle not allowed', { ...base, throttle: { cooldownSeconds: 1 } }, 'triggerSpec.throttle', /unknown key/],
  ];
  it.each(cases)('refuses %s', (_name, spec, path, message) => {
    const e = refusal(() => metric(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('triggerType', () => {
  it('refuses an unknown trigger type', () => {
    expect(refusal(() => validateTriggerSpec('HOOK' as TriggerType, {})).specPath).toBe('triggerType');
  });
});

describe('action specs', () => {
  it.each([
    [
      'webhook defaults',
      { endpoint: 'https://example.com/hook' },
      { type: 'webhook', endpoint: 'https://example.com/hook', method: 'GET', params: {}, headers: {}, timeoutMs: 5000 },
      'WEBHOOK',
    ],
    [
      'webhook full, type upper-case',
      {
        type: 'WEBHOOK',
        endpoint: 'http://h/{{payload.path}}',
        method: 'post',
        params: { a: '{{payload.a}}' },
        body: { msg: 'cpu {{ payload.cpu }}' },
        headers: { 'X-Rule': '{{rule.name}}' },
        timeoutMs: 60000,
      },
      {
        type: 'webhook',
        endpoint: 'http://h/{{payload.path}}',
        method: 'POST',
        params: { a: '{{payload.a}}' },
        body: { msg: 'cpu {{ payload.cpu }}' },
        headers: { 'X-Rule': '{{rule.name}}' },
        timeoutMs: 60000,
      },
      'WEBHOOK',
    ],
    [
      'webhook endpoint as a placeholder',
      { type: 'Webhook', endpoint: '{{payload.url}}', body: null },
      { type: 'webhook', endpoint: '{{payload.url}}', method: 'GET', params: {}, headers: {}, timeoutMs: 5000 },
      'WEBHOOK',
    ],
    [
      'webhook body kept (any JSON)',
      { endpoint: 'https://x', body: [1, '{{payload}}'], method: 'delete' },
      { type: 'webhook', endpoint: 'https://x', method: 'DELETE', params: {}, body: [1, '{{payload}}'], headers: {}, timeoutMs: 5000 },
      'WEBHOOK',
    ],
    ['api_script', { type: 'api_script', api_id: 'abc' }, { type: 'api_script', api_id: 'abc', params: {} }, 'API_SCRIPT'],
    [
      'api_script with input',
      { type: 'API_Script', api_id: 'abc', params: { n: '{{payload.n}}' }, input: '{{payload}}' },
      { type: 'api_script', api_id: 'abc', params: { n: '{{payload.n}}' }, input: '{{payload}}' },
      'API_SCRIPT',
    ],
    [
      'api_script input null dropped',
      { type: 'api_script', api_id: 'abc', input: null, params: null },
      { type: 'api_script', api_id: 'abc', params: {} },
      'API_SCRIPT',
    ],
    ['trigger_rule without payload', { type: 'trigger_rule', rule_id: 'r1' }, { type: 'trigger_rule', rule_id: 'r1' }, 'TRIGGER_RULE'],
    [
      'trigger_rule empty payload kept',
      { type: 'TRIGGER_RULE', rule_id: 'r1', payload: {} },
      { type: 'trigger_rule', rule_id: 'r1', payload: {} },
      'TRIGGER_RULE',
    ],
    ['trigger_rule payload null dropped', { type: 'trigger_rule', rule_id: 'r1', payload: null }, { type: 'trigger_rule', rule_id: 'r1' }, 'TRIGGER_RULE'],
    [
      'trigger_rule templated payload',
      { type: 'trigger_rule', rule_id: 'r1', payload: { d: '{{execution.depth}}', c: '{{cascade.id}}' } },
      { type: 'trigger_rule', rule_id: 'r1', payload: { d: '{{execution.depth}}', c: '{{cascade.id}}' } },
      'TRIGGER_RULE',
    ],
  ])('%s', (_name, given, spec, actionType) => {
    expect(validateActionSpec(given)).toEqual({ spec, actionType });
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['not an object', 'https://x', 'actionSpec', /object/],
    ['unsupported type', { type: 'email', endpoint: 'https://x' }, 'actionSpec.type', /Unsupported action type: email/],
    ['unsupported type keeps case', { type: 'SMS' }, 'actionSpec.type', /Unsupported action type: SMS/],
    ['type not a string', { type: 5 }, 'actionSpec.type', /Unsupported action type: the number 5/],
    ['webhook no endpoint', { type: 'webhook' }, 'actionSpec.endpoint', /required/],
    ['webhook relative endpoint', { endpoint: '/hook' }, 'actionSpec.endpoint', /absolute http or https URL/],
    ['webhook ftp endpoint', { endpoint: 'ftp://x' }, 'actionSpec.endpoint', /ftp/],
    ['webhook templated endpoint without scheme', { endpoint: 'example.com/{{payload.p}}' }, 'actionSpec.endpoint', /placeholders allowed/],
    ['webhook method', { endpoint: 'https://x', method: 'HEAD' }, 'actionSpec.method', /GET, POST, PUT, PATCH, DELETE/],
    ['webhook timeout 0', { endpoint: 'https://x', timeoutMs: 0 }, 'actionSpec.timeoutMs', /1 to 60000/],
    ['webhook timeout too long', { endpoint: 'https://x', timeoutMs: 60001 }, 'actionSpec.timeoutMs', /1 to 60000/],
    ['webhook params not object', { endpoint: 'https://x', params: 'a=1' }, 'actionSpec.params', /object/],
    ['webhook header not string', { endpoint: 'https://x', headers: { 'X-N': 5 } }, 'actionSpec.headers.X-N', /string/],
    ['webhook header name', { endpoint: 'https://x', headers: { 'bad name': 'v' } }, 'actionSpec.headers["bad name"]', /header name/],
    ['webhook header line break', { endpoint: 'https://x', headers: { a: 'x\r\ny: z' } }, 'actionSpec.headers.a', /line breaks/],
    ['webhook unknown key', { endpoint: 'https://x', rule_id: 'r' }, 'actionSpec.rule_id', /unknown key "rule_id"/],
    ['webhook template unknown root', { endpoint: 'https://x', body: { msg: 'hi {{ user.name }}' } }, 'actionSpec.body.msg', /unknown template root "user"/],
    ['webhook template unclosed', { endpoint: 'https://x', body: { list: ['ok', 'a {{payload.x'] } }, 'actionSpec.body.list[1]', /unclosed/],
    ['webhook template in endpoint', { endpoint: 'https://x/{{params.a}}' }, 'actionSpec.endpoint', /unknown template root "params"/],
    ['webhook template in header', { endpoint: 'https://x', headers: { A: '{{payload' } }, 'actionSpec.headers.A', /unclosed/],
    ['api_script no api_id', { type: 'api_script' }, 'actionSpec.api_id', /required/],
    ['api_script empty api_id', { type: 'api_script', api_id: '' }, 'actionSpec.api_id', /id of an API/],
    ['api_script params', { type: 'api_script', api_id: 'a', params: [1] }, 'actionSpec.params', /object/],
    ['api_script template', { type: 'api_script', api_id: 'a', input: { x: '{{input.x}}' } }, 'actionSpec.input.x', /unknown template root "input"/],
    ['api_script unknown key', { type: 'api_script', api_id: 'a', endpoint: 'x' }, 'actionSpec.endpoint', /unknown key/],
    ['trigger_rule no rule_id', { type: 'trigger_rule' }, 'actionSpec.rule_id', /required/],
    ['trigger_rule rule_id number', { type: 'trigger_rule', rule_id: 5 }, 'actionSpec.rule_id', /got the number 5/],
    ['trigger_rule payload not object', { type: 'trigger_rule', rule_id: 'r', payload: 'x' }, 'actionSpec.payload', /object/],
    ['trigger_rule payload template', { type: 'trigger_rule', rule_id: 'r', payload: { a: { b: '{{}}' } } }, 'actionSpec.payload.a.b', /empty placeholder/],
  ];
  it.each(cases)('refuses %s', (_name, spec, path, message) => {
    const e = refusal(() => validateActionSpec(spec));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('runtimePolicy', () => {
  it.each([
    ['absent', undefined, { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] }],
    ['null', null, { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] }],
    ['empty', {}, { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] }],
    ['null fields', { timeoutMs: null, allowedHosts: null }, { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] }],
    [
      'bounds',
      { timeoutMs: 30000, memoryLimitMb: 256, allowNetwork: true, allowedHosts: ['API.example.com', '*.example.org:8443', 'api.example.com', '10.0.0.1'] },
      { timeoutMs: 30000, memoryLimitMb: 256, allowNetwork: true, allowedHosts: ['api.example.com', '*.example.org:8443', '10.0.0.1'] },
    ],
    ['lower bounds', { timeoutMs: 1, memoryLimitMb: 8 }, { timeoutMs: 1, memoryLimitMb: 8, allowNetwork: false, allowedHosts: [] }],
  ])('%s', (_name, given, policy) => {
    expect(validateRuntimePolicy(given, LIMITS)).toEqual(policy);
  });

  it('does not share the default hosts list', () => {
    const a = validateRuntimePolicy(undefined, LIMITS);
    a.allowedHosts.push('x');
    expect(validateRuntimePolicy(undefined, LIMITS).allowedHosts).toEqual([]);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['timeout 0', { timeoutMs: 0 }, 'input.runtimePolicy.timeoutMs', /1 to 30000.*got the number 0/],
    ['timeout over limit', { timeoutMs: 30001 }, 'input.runtimePolicy.timeoutMs', /1 to 30000/],
    ['timeout fraction', { timeoutMs: 1.5 }, 'input.runtimePolicy.timeoutMs', /whole number/],
    ['memory 7', { memoryLimitMb: 7 }, 'input.runtimePolicy.memoryLimitMb', /8 to 256/],
    ['memory over limit', { memoryLimitMb: 257 }, 'input.runtimePolicy.memoryLimitMb', /8 to 256/],
    ['allowNetwork string', { allowNetwork: 'yes' }, 'input.runtimePolicy.allowNetwork', /true or false/],
    ['hosts not list', { allowedHosts: 'a.com' }, 'input.runtimePolicy.allowedHosts', /list/],
    ['host with scheme', { allowedHosts: ['ok.com', 'https://a.com'] }, 'input.runtimePolicy.allowedHosts[1]', /host name/],
    ['host with path', { allowedHosts: ['a.com/x'] }, 'input.runtimePolicy.allowedHosts[0]', /host name/],
    ['unknown key', { network: true }, 'input.runtimePolicy.network', /unknown key/],
    ['not object', 5, 'input.runtimePolicy', /object/],
  ];
  it.each(cases)('refuses %s', (_name, given, path, message) => {
    const e = refusal(() => validateRuntimePolicy(given, LIMITS));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });

  it('follows the configured limits', () => {
    expect(validateRuntimePolicy({ timeoutMs: 100000 }, { scriptMaxTimeoutMs: 100000, scriptMaxMemoryMb: 16 }).timeoutMs).toBe(100000);
    expect(refusal(() => validateRuntimePolicy({ memoryLimitMb: 32 }, { scriptMaxTimeoutMs: 1000, scriptMaxMemoryMb: 16 })).specPath).toBe(
      'input.runtimePolicy.memoryLimitMb',
    );
  });
});

describe('httpSpec', () => {
  it.each([
    ['defaults', { url: 'https://api.example.com/x' }, { method: 'GET', url: 'https://api.example.com/x', headers: {}, params: {} }],
    [
      'full',
      {
        method: 'head',
        url: 'https://api.example.com/{{params.id}}',
        headers: { Authorization: 'Bearer {{input.token}}' },
        params: { q: '{{params.q}}' },
        body: { a: '{{input}}' },
      },
      {
        method: 'HEAD',
        url: 'https://api.example.com/{{params.id}}',
        headers: { Authorization: 'Bearer {{input.token}}' },
        params: { q: '{{params.q}}' },
        body: { a: '{{input}}' },
      },
    ],
    ['null body dropped', { url: 'http://x', body: null, method: null }, { method: 'GET', url: 'http://x', headers: {}, params: {} }],
  ])('%s', (_name, given, spec) => {
    expect(validateHttpSpec(given)).toEqual(spec);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['not object', 'x', 'input.httpSpec', /object/],
    ['no url', {}, 'input.httpSpec.url', /required/],
    ['relative url', { url: '/x' }, 'input.httpSpec.url', /absolute/],
    ['method', { url: 'https://x', method: 'TRACE' }, 'input.httpSpec.method', /GET, POST, PUT, PATCH, DELETE, HEAD/],
    [
      'payload root refused',
      { url: 'https://x', body: { a: '{{payload.a}}' } },
      'input.httpSpec.body.a',
      /unknown template root "payload" in \{\{payload.a\}\}; expected one of params, input/,
    ],
    ['unclosed', { url: 'https://x/{{params.a' }, 'input.httpSpec.url', /unclosed/],
    ['header value', { url: 'https://x', headers: { a: ['x'] } }, 'input.httpSpec.headers.a', /string/],
    ['unknown key', { url: 'https://x', timeoutMs: 5 }, 'input.httpSpec.timeoutMs', /unknown key/],
  ];
  it.each(cases)('refuses %s', (_name, given, path, message) => {
    const e = refusal(() => validateHttpSpec(given));
    expect(e.specPath).toBe(path);
    expect(e.message).toMatch(message);
  });
});

describe('paramSchema', () => {
  const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 1 } }, required: ['n'] };

  it('accepts and returns a 2020-12 schema', () => {
    expect(validateParamSchema(schema)).toBe(schema);
    expect(validateParamSchema({})).toEqual({});
    expect(() => validateParamSchema({ prefixItems: [{ type: 'string' }], $defs: { a: { type: 'string' } } })).not.toThrow();
  });

  it('tolerates unknown keywords and formats as annotations', () => {
    expect(() => validateParamSchema({ type: 'string', format: 'email', example: 'a@b.c', 'x-ui': 1 })).not.toThrow();
  });

  it('compiles to a validator, also for the same $id twice', () => {
    const withId = { $id: 'https://example.com/p', ...schema };
    const v = compileParamSchema(withId);
    expect(v({ n: 2 })).toBe(true);
    expect(v({ n: 0 })).toBe(false);
    expect(compileParamSchema({ ...withId })({ n: 'x' })).toBe(false);
    expect(() => validateParamSchema(withId)).not.toThrow();
  });

  it.each([
    ['array', [], /JSON Schema.*got an empty array/],
    ['boolean schema', true, /JSON Schema.*got true/],
    ['null', null, /got null/],
    ['bad type', { type: 'strin' }, /invalid JSON Schema: .*type/],
    ['bad required', { required: 'n' }, /required must be array/],
    ['unresolvable $ref', { $ref: 'https://nowhere.example/x' }, /can't resolve reference/],
  ])('refuses %s at input.paramSchema', (_name, given, message) => {
    const e = refusal(() => validateParamSchema(given));
    expect(e.specPath).toBe('input.paramSchema');
    expect(e.message).toMatch(message);
  });
});

import { Cron } from 'croner';
import { SECRETS_ROOT, checkTemplates } from '../../actions/templates.js';
import { expectComparisonOperator, validateCondition } from './condition.js';
import { ConditionBudget, checkSpecInput } from './limits.js';
import { ABSENCE_KEYS, SEQUENCE_KEYS, WINDOW_KEYS, validateAbsenceSpec, validateSequenceSpec, validateWindowSpec } from './stream.js';
import type {
  ConcurrencyMode,
  ConcurrencySpec,
  Condition,
  EventOptions,
  EventSpecKind,
  EventTriggerSpec,
  MetricTriggerSpec,
  ScheduleTriggerSpec,
  StreamSpec,
  ThrottleSpec,
  TriggerSpec,
  TriggerType,
} from './types.js';
import {
  checkKeys,
  expectEnum,
  expectFiniteNumber,
  expectTemplatedHttpUrl,
  expectInteger,
  expectNonEmptyString,
  expectObject,
  expectPositiveNumber,
  expectHeaders,
  expectStringList,
  fail,
  has,
  keyPath,
  optional,
  required,
  type JsonObject,
} from './util.js';

const ROOT = 'triggerSpec';
const CONCURRENCY_MODES: readonly ConcurrencyMode[] = ['skip', 'queue', 'parallel'];
const OPTION_KEYS = ['throttle', 'concurrency'] as const;
export const DEFAULT_MAX_QUEUED = 100;
export const DEFAULT_INTERVAL_SECONDS = 300;
export const DEFAULT_POLL_INTERVAL_SECONDS = 60;

export function validateConcurrency(value: unknown, path: string): ConcurrencySpec {
  const obj = expectObject(value, path, 'a concurrency setting {mode, maxQueued}');
  checkKeys(obj, path, ['mode', 'maxQueued']);
  const mode = has(obj, 'mode') ? expectEnum(obj.mode, keyPath(path, 'mode'), CONCURRENCY_MODES) : 'skip';
  const maxQueued = has(obj, 'maxQueued') ? expectInteger(obj.maxQueued, keyPath(path, 'maxQueued'), 1) : DEFAULT_MAX_QUEUED;
  return { mode, maxQueued };
}

export function validateThrottle(value: unknown, path: string): ThrottleSpec {
  const obj = expectObject(value, path, 'a throttle {cooldownSeconds, key}');
  checkKeys(obj, path, ['cooldownSeconds', 'key']);
  const cooldownSeconds = expectPositiveNumber(required(obj, 'cooldownSeconds', path, 'a number of seconds greater than 0'), keyPath(path, 'cooldownSeconds'));
  const key = optional(obj, 'key');
  return key === undefined ? { cooldownSeconds } : { cooldownSeconds, key: expectStringList(key, keyPath(path, 'key'), 'a list of field paths') };
}

function concurrencyOf(obj: JsonObject, path: string): { concurrency?: ConcurrencySpec } {
  const v = optional(obj, 'concurrency');
  return v === undefined ? {} : { concurrency: validateConcurrency(v, keyPath(path, 'concurrency')) };
}

function eventOptions(obj: JsonObject, path: string): EventOptions {
  const throttle = optional(obj, 'throttle');
  return {
    ...(throttle === undefined ? {} : { throttle: validateThrottle(throttle, keyPath(path, 'throttle')) }),
    ...concurrencyOf(obj, path),
  };
}

/** Which form an EVENT triggerSpec object has, told apart by its top-level keys. */
function detectEventForm(obj: JsonObject, path: string): EventSpecKind {
  const marks: EventSpecKind[] = [];
  if (has(obj, 'window') || has(obj, 'aggregate') || has(obj, 'filter') || has(obj, 'groupBy')) marks.push('window');
  if (has(obj, 'sequence')) marks.push('sequence');
  if (has(obj, 'absence')) marks.push('absence');
  if (marks.length > 1) {
    fail(path, `a triggerSpec has one form; it holds keys of several (${marks.join(', ')})`);
  }
  return marks[0] ?? 'condition';
}

function validateEventSpec(value: unknown): EventTriggerSpec {
  const budget = new ConditionBudget();
  const what = 'an object: a condition (field/op), a group (conditions), or a stream form (window, sequence, absence)';
  const obj = expectObject(value, ROOT, what);
  const form = detectEventForm(obj, ROOT);
  let main: Condition | StreamSpec;
  switch (form) {
    case 'window':
      checkKeys(obj, ROOT, [...WINDOW_KEYS, ...OPTION_KEYS]);
      main = validateWindowSpec(obj, ROOT, budget);
      break;
    case 'sequence':
      checkKeys(obj, ROOT, [...SEQUENCE_KEYS, ...OPTION_KEYS]);
      main = validateSequenceSpec(obj, ROOT, budget);
      break;
    case 'absence':
      checkKeys(obj, ROOT, [...ABSENCE_KEYS, ...OPTION_KEYS]);
      main = validateAbsenceSpec(obj, ROOT, budget);
      break;
    case 'condition': {
      const keys = Object.keys(obj).filter((k) => !(OPTION_KEYS as readonly string[]).includes(k));
      if (keys.length === 0)
        fail(ROOT, `expected a condition (field/op), a group (conditions), or a stream form (window, sequence, absence); got an object without any of them`);
      main = validateCondition(obj, ROOT, budget, 0, OPTION_KEYS);
      break;
    }
  }
  return { ...main, ...eventOptions(obj, ROOT) } as EventTriggerSpec;
}

/** Five fields, or six with seconds (croner's @-nicknames are accepted too). */
export function checkCron(pattern: unknown, timezone: string, path: string): string {
  const what = 'a cron expression of five fields (six with seconds), such as "*/5 * * * *"';
  const s = expectNonEmptyString(pattern, path, what);
  const fields = s.trim().split(/\s+/);
  if (!s.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    fail(path, `expected ${what}, got ${fields.length} field${fields.length === 1 ? '' : 's'} in "${s}"`);
  }
  let job: Cron;
  try {
    job = new Cron(s, { timezone, paused: true, mode: '5-or-6-parts' });
  } catch (err) {
    const detail = (err as Error).message.replace(/^CronPattern:\s*/, '');
    return fail(path, `invalid cron expression "${s}": ${detail}`);
  }
  const next = job.nextRun();
  job.stop();
  if (next === null) fail(path, `cron expression "${s}" never fires`);
  return s;
}

export function checkTimezone(value: unknown, path: string): string {
  const what = 'an IANA time zone such as "UTC" or "Europe/Paris"';
  const tz = expectNonEmptyString(value, path, what);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    fail(path, `unknown time zone "${tz}"; expected ${what}`);
  }
  return tz;
}

function validateScheduleSpec(value: unknown): ScheduleTriggerSpec {
  const obj = expectObject(value ?? {}, ROOT, 'an object {cron, timezone} or {intervalSeconds}');
  checkKeys(obj, ROOT, ['cron', 'timezone', 'intervalSeconds', 'payload', 'concurrency']);
  const payloadValue = optional(obj, 'payload');
  const extra = {
    ...(payloadValue === undefined ? {} : { payload: expectObject(payloadValue, keyPath(ROOT, 'payload')) }),
    ...concurrencyOf(obj, ROOT),
  };
  if (has(obj, 'cron')) {
    if (has(obj, 'intervalSeconds')) fail(ROOT, 'give either cron or intervalSeconds, not both');
    const timezone = has(obj, 'timezone') ? checkTimezone(obj.timezone, keyPath(ROOT, 'timezone')) : 'UTC';
    const cron = checkCron(obj.cron, timezone, keyPath(ROOT, 'cron'));
    return { cron, timezone, ...extra };
  }
  if (has(obj, 'timezone')) fail(keyPath(ROOT, 'timezone'), 'timezone applies only to a cron schedule');
  const intervalSeconds = has(obj, 'intervalSeconds') ? expectInteger(obj.intervalSeconds, keyPath(ROOT, 'intervalSeconds'), 1) : DEFAULT_INTERVAL_SECONDS;
  return { intervalSeconds, ...extra };
}

function validateMetricSpec(value: unknown): MetricTriggerSpec {
  const obj = expectObject(value, ROOT, 'an object {endpoint, valuePath, op, threshold, ...}');
  checkKeys(obj, ROOT, ['endpoint', 'method', 'headers', 'params', 'valuePath', 'op', 'threshold', 'pollIntervalSeconds', 'concurrency']);
  const endpoint = expectTemplatedHttpUrl(required(obj, 'endpoint', ROOT, 'an absolute http or https URL'), keyPath(ROOT, 'endpoint'));
  const method = has(obj, 'method') ? expectEnum(obj.method, keyPath(ROOT, 'method'), ['GET', 'POST'] as const) : 'GET';
  const headers = has(obj, 'headers') ? expectHeaders(obj.headers, keyPath(ROOT, 'headers')) : {};
  const params = has(obj, 'params') ? expectObject(obj.params, keyPath(ROOT, 'params')) : {};
  // A poll has no payload: its only placeholders are {{secrets.NAME}}, read at each poll.
  checkTemplates(endpoint, keyPath(ROOT, 'endpoint'), [SECRETS_ROOT]);
  checkTemplates(headers, keyPath(ROOT, 'headers'), [SECRETS_ROOT]);
  checkTemplates(params, keyPath(ROOT, 'params'), [SECRETS_ROOT]);
  const valuePathValue = required(obj, 'valuePath', ROOT, 'a dotted path into the answer, such as "data.cpu"');
  const valuePath = expectNonEmptyString(valuePathValue, keyPath(ROOT, 'valuePath'), 'a dotted path into the answer, such as "data.cpu"');
  const op = expectComparisonOperator(required(obj, 'op', ROOT, 'a comparison operator (> < >= <= == !=)'), keyPath(ROOT, 'op'));
  const threshold = expectFiniteNumber(required(obj, 'threshold', ROOT, 'a number'), keyPath(ROOT, 'threshold'));
  const pollIntervalSeconds = has(obj, 'pollIntervalSeconds')
    ? expectInteger(obj.pollIntervalSeconds, keyPath(ROOT, 'pollIntervalSeconds'), 1)
    : DEFAULT_POLL_INTERVAL_SECONDS;
  return {
    endpoint,
    method,
    headers,
    params,
    valuePath,
    op,
    threshold,
    pollIntervalSeconds,
    ...concurrencyOf(obj, ROOT),
  };
}

/**
 * Validates and normalises a triggerSpec for its triggerType: its size and text first (limits.ts),
 * then its shape. Throws SpecError whose specPath starts with `triggerSpec`.
 */
export function validateTriggerSpec(triggerType: TriggerType, spec: unknown): TriggerSpec {
  checkSpecInput(spec, ROOT);
  switch (triggerType) {
    case 'EVENT':
      return validateEventSpec(spec);
    case 'SCHEDULE':
      return validateScheduleSpec(spec);
    case 'METRIC':
      return validateMetricSpec(spec);
    default:
      return fail('triggerType', `unknown trigger type ${JSON.stringify(triggerType)}; expected EVENT, SCHEDULE or METRIC`);
  }
}

/** The form of a validated EVENT triggerSpec. */
export function eventSpecKind(spec: EventTriggerSpec): EventSpecKind {
  if ('window' in spec) return 'window';
  if ('sequence' in spec) return 'sequence';
  if ('absence' in spec) return 'absence';
  return 'condition';
}

/** The condition of a validated plain EVENT triggerSpec, without throttle / concurrency. */
export function conditionOf(spec: EventTriggerSpec): Condition {
  const { throttle: _throttle, concurrency: _concurrency, ...rest } = spec;
  return rest as Condition;
}

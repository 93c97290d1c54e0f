import { ACTION_TEMPLATE_ROOTS, SECRET_NAME, WEBHOOK_TEMPLATE_ROOTS, checkSecretDestination, checkTemplates } from '../../actions/templates.js';
import { isWebhookHeader } from '../../delivery/signing.js';
import { checkSpecInput } from './limits.js';
import { validateRetryPolicy } from './retry.js';
import type { ActionSpec, ActionType, ApiScriptActionSpec, TriggerRuleActionSpec, WebhookActionSpec, WebhookMethod } from './types.js';
import {
  checkKeys,
  describe,
  expectEnum,
  expectHeaders,
  expectInteger,
  expectNonEmptyString,
  expectObject,
  expectTemplatedHttpUrl,
  fail,
  has,
  keyPath,
  optional,
  required,
  type JsonObject,
} from './util.js';

const ROOT = 'actionSpec';
const WEBHOOK_METHODS: readonly WebhookMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;
export const MAX_WEBHOOK_TIMEOUT_MS = 60_000;

const ACTION_TYPES = {
  webhook: 'WEBHOOK',
  api_script: 'API_SCRIPT',
  trigger_rule: 'TRIGGER_RULE',
} as const satisfies Record<string, ActionType>;

/** Exactly one `{{secrets.NAME}}` placeholder (whitespace inside the braces allowed). */
const SECRET_PLACEHOLDER = /^\{\{\s*secrets\.([^\s{}.]+)\s*\}\}$/;

/**
 * A webhook's signingSecret may only name a secret: a literal value would be stored (and read
 * back by whoever may read the rule) in plain text.
 */
function expectSigningSecret(value: unknown, path: string): string {
  const name = typeof value === 'string' ? SECRET_PLACEHOLDER.exec(value)?.[1] : undefined;
  if (name === undefined || !SECRET_NAME.test(name)) {
    fail(path, `expected a secret placeholder such as "{{secrets.WEBHOOK_SECRET}}" (set the value with setSecret); a literal signing secret is not accepted`);
  }
  return value as string;
}

/** The service sets webhook-id, webhook-timestamp and webhook-signature itself (SPEC.md, 'Delivery'). */
function refuseWebhookHeaders(headers: Record<string, string>, path: string): void {
  for (const name of Object.keys(headers)) {
    if (isWebhookHeader(name))
      fail(keyPath(path, name), `the header "${name}" may not be set: the service sets webhook-id, webhook-timestamp and webhook-signature itself`);
  }
}

function validateWebhook(obj: JsonObject): WebhookActionSpec {
  checkKeys(obj, ROOT, ['type', 'endpoint', 'method', 'params', 'body', 'headers', 'timeoutMs', 'retry', 'signingSecret']);
  const endpoint = expectTemplatedHttpUrl(required(obj, 'endpoint', ROOT, 'an absolute http or https URL'), keyPath(ROOT, 'endpoint'));
  const method = has(obj, 'method') ? expectEnum(obj.method, keyPath(ROOT, 'method'), WEBHOOK_METHODS) : 'GET';
  const params = has(obj, 'params') ? expectObject(obj.params, keyPath(ROOT, 'params')) : {};
  const body = optional(obj, 'body');
  const headers = has(obj, 'headers') ? expectHeaders(obj.headers, keyPath(ROOT, 'headers')) : {};
  refuseWebhookHeaders(headers, keyPath(ROOT, 'headers'));
  const timeoutMs = has(obj, 'timeoutMs') ? expectInteger(obj.timeoutMs, keyPath(ROOT, 'timeoutMs'), 1, MAX_WEBHOOK_TIMEOUT_MS) : DEFAULT_WEBHOOK_TIMEOUT_MS;
  const retry = has(obj, 'retry') ? validateRetryPolicy(obj.retry, keyPath(ROOT, 'retry')) : undefined;
  const signingSecret = has(obj, 'signingSecret') ? expectSigningSecret(obj.signingSecret, keyPath(ROOT, 'signingSecret')) : undefined;
  return {
    type: 'webhook',
    endpoint,
    method,
    params,
    ...(body === undefined ? {} : { body }),
    headers,
    timeoutMs,
    ...(retry === undefined ? {} : { retry }),
    ...(signingSecret === undefined ? {} : { signingSecret }),
  };
}

function validateApiScript(obj: JsonObject): ApiScriptActionSpec {
  checkKeys(obj, ROOT, ['type', 'api_id', 'params', 'input']);
  const apiId = expectNonEmptyString(required(obj, 'api_id', ROOT, 'the id of an API definition'), keyPath(ROOT, 'api_id'), 'the id of an API definition');
  const params = has(obj, 'params') ? expectObject(obj.params, keyPath(ROOT, 'params')) : {};
  const input = optional(obj, 'input');
  return { type: 'api_script', api_id: apiId, params, ...(input === undefined ? {} : { input }) };
}

function validateTriggerRule(obj: JsonObject): TriggerRuleActionSpec {
  checkKeys(obj, ROOT, ['type', 'rule_id', 'payload']);
  const ruleId = expectNonEmptyString(required(obj, 'rule_id', ROOT, 'the id of a rule'), keyPath(ROOT, 'rule_id'), 'the id of a rule');
  const payload = optional(obj, 'payload');
  return {
    type: 'trigger_rule',
    rule_id: ruleId,
    ...(payload === undefined ? {} : { payload: expectObject(payload, keyPath(ROOT, 'payload')) }),
  };
}

/**
 * Validates and normalises an actionSpec. `type` is case-insensitive and defaults to webhook;
 * every string value is checked as a template over payload, rule, execution and cascade.
 * Its size and text are checked first (limits.ts). Throws SpecError whose specPath starts with
 * `actionSpec`.
 */
export function validateActionSpec(spec: unknown): { spec: ActionSpec; actionType: ActionType } {
  checkSpecInput(spec, ROOT);
  const obj = expectObject(spec, ROOT, 'an action spec object such as {"type": "webhook", "endpoint": "https://..."}');
  const typeValue = optional(obj, 'type');
  let type: keyof typeof ACTION_TYPES = 'webhook';
  if (typeValue !== undefined) {
    const lower = typeof typeValue === 'string' ? typeValue.toLowerCase() : undefined;
    if (lower === undefined || !Object.hasOwn(ACTION_TYPES, lower)) {
      const shown = typeof typeValue === 'string' ? typeValue : describe(typeValue);
      fail(keyPath(ROOT, 'type'), `Unsupported action type: ${shown}; expected webhook, api_script or trigger_rule`);
    }
    type = lower as keyof typeof ACTION_TYPES;
  }
  let normalised: ActionSpec;
  switch (type) {
    case 'webhook':
      normalised = validateWebhook(obj);
      break;
    case 'api_script':
      normalised = validateApiScript(obj);
      break;
    case 'trigger_rule':
      normalised = validateTriggerRule(obj);
      break;
  }
  // `{{secrets.NAME}}` only in webhooks, and only toward an endpoint the caller cannot choose.
  const roots = normalised.type === 'webhook' ? WEBHOOK_TEMPLATE_ROOTS : ACTION_TEMPLATE_ROOTS;
  for (const [key, value] of Object.entries(normalised)) {
    if (key !== 'type') checkTemplates(value, keyPath(ROOT, key), roots);
  }
  if (normalised.type === 'webhook') checkSecretDestination(normalised, normalised.endpoint, keyPath(ROOT, 'endpoint'), ['payload']);
  return { spec: normalised, actionType: ACTION_TYPES[type] };
}

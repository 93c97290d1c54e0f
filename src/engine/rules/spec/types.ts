/** Normalised specs, as stored and returned (SPEC.md "Trigger specs", "Action specs", "API scripts"). */

export type TriggerType = 'EVENT' | 'SCHEDULE' | 'METRIC';
export type ActionType = 'WEBHOOK' | 'API_SCRIPT' | 'TRIGGER_RULE';

/** Upper bounds of a runtimePolicy (SCRIPT_MAX_TIMEOUT_MS, SCRIPT_MAX_MEMORY_MB). */
export interface SpecLimits {
  scriptMaxTimeoutMs: number;
  scriptMaxMemoryMb: number;
}

// ---- conditions ----

export const COMPARISON_OPERATORS = ['>', '<', '>=', '<=', '==', '!='] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

export const OPERATORS = [
  '>',
  '<',
  '>=',
  '<=',
  '==',
  '!=',
  'in',
  'not_in',
  'contains',
  'not_contains',
  'starts_with',
  'ends_with',
  'exists',
  'not_exists',
  'between',
  'matches',
] as const;
/** Normalised operator (`=` is stored as `==`). */
export type Operator = (typeof OPERATORS)[number];

export type Logic = 'AND' | 'OR' | 'NOT';

/** `{field, op, value}`; `value` is absent for exists / not_exists. */
export interface LeafCondition {
  field: string;
  op: Operator;
  value?: unknown;
}

export interface GroupCondition {
  conditions: Condition[];
  logic: Logic;
}

export type Condition = LeafCondition | GroupCondition;

// ---- top-level options ----

export interface ThrottleSpec {
  cooldownSeconds: number;
  /** Paths read from the payload (or from the firing's group / key for stream forms). */
  key?: string[];
}

export type ConcurrencyMode = 'skip' | 'queue' | 'parallel';

export interface ConcurrencySpec {
  mode: ConcurrencyMode;
  maxQueued: number;
}

export interface EventOptions {
  throttle?: ThrottleSpec;
  concurrency?: ConcurrencySpec;
}

// ---- stream forms ----

export type WindowType = 'tumbling' | 'sliding' | 'session';
export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'std' | 'percentile';

export interface WindowDef {
  type: WindowType;
  /** tumbling and sliding only. */
  sizeSeconds?: number;
  /** session only. */
  gapSeconds?: number;
}

export interface AggregateDef {
  fn: AggregateFn;
  /** Required for every fn but count (optional there). */
  field?: string;
  /** 0..100, percentile only. */
  percentile?: number;
}

export interface WindowSpec {
  /** Absent: every event enters the window. */
  filter?: Condition;
  window: WindowDef;
  aggregate: AggregateDef;
  groupBy: string[];
  op: ComparisonOperator;
  value: number;
  timeField?: string;
  allowedLatenessSeconds: number;
}

export interface SequenceSpec {
  sequence: Condition[];
  within: number;
  by: string[];
  timeField?: string;
}

export interface AbsenceDef {
  after: Condition;
  expect: Condition;
  within: number;
  by: string[];
}

export interface AbsenceSpec {
  absence: AbsenceDef;
  timeField?: string;
}

export type StreamSpec = WindowSpec | SequenceSpec | AbsenceSpec;

/** An EVENT triggerSpec: a condition or a stream form, plus optional throttle / concurrency. */
export type EventTriggerSpec = (Condition | StreamSpec) & EventOptions;

/** Which form an EVENT triggerSpec has. */
export type EventSpecKind = 'condition' | 'window' | 'sequence' | 'absence';

// ---- SCHEDULE / METRIC ----

export type ScheduleTriggerSpec = ({ cron: string; timezone: string } | { intervalSeconds: number }) & {
  payload?: Record<string, unknown>;
  concurrency?: ConcurrencySpec;
};

export interface MetricTriggerSpec {
  endpoint: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  params: Record<string, unknown>;
  valuePath: string;
  op: ComparisonOperator;
  threshold: number;
  pollIntervalSeconds: number;
  concurrency?: ConcurrencySpec;
}

export type TriggerSpec = EventTriggerSpec | ScheduleTriggerSpec | MetricTriggerSpec;

// ---- actions ----

export type WebhookMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface WebhookActionSpec {
  type: 'webhook';
  endpoint: string;
  method: WebhookMethod;
  params: Record<string, unknown>;
  body?: unknown;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Absent: one attempt. */
  retry?: RetryPolicy;
  /**
   * `{{secrets.NAME}}` of a Standard Webhooks secret that signs this webhook instead of
   * WEBHOOK_SIGNING_SECRET; the value itself once templates are filled in at send time.
   */
  signingSecret?: string;
}

/** A webhook's retry policy (SPEC.md, 'Delivery'), defaults filled in. */
export interface RetryPolicy {
  maxAttempts: number;
  backoff: 'exponential' | 'fixed';
  delayMs: number;
  maxDelayMs: number;
  retryOn: number[];
}

export interface ApiScriptActionSpec {
  type: 'api_script';
  api_id: string;
  params: Record<string, unknown>;
  /** Absent: the trigger payload. */
  input?: unknown;
}

export interface TriggerRuleActionSpec {
  type: 'trigger_rule';
  rule_id: string;
  /** Present (even `{}`): the child's payload, templated. Absent: the parent's payload. */
  payload?: Record<string, unknown>;
}

export type ActionSpec = WebhookActionSpec | ApiScriptActionSpec | TriggerRuleActionSpec;

// ---- API definitions ----

export interface RuntimePolicy {
  timeoutMs: number;
  memoryLimitMb: number;
  allowNetwork: boolean;
  allowedHosts: string[];
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

export interface HttpSpec {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  params: Record<string, unknown>;
  body?: unknown;
}

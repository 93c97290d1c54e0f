import { ok, type GraphQLResponse } from './harness.js';
import { EXECUTION_FIELDS, LOG_FIELDS, type ExecutionData } from './rules.js';
import type { SinkReply, SinkRequest, SinkRoute } from './sink.js';
import { poll } from './wait.js';

/**
 * Shared helpers of the delivery suites (SPEC.md "Delivery"): executions read with their attempts,
 * waiting for a final status (RETRYING is not final), redeliver, the cascade's events, and sink
 * routes that fail a receiver's first calls.
 */

/** Anything with a GraphQL client: an in-process test app or the service as its own process. */
export interface GqlClient {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
}

export interface AttemptData {
  number: number;
  at: string;
  durationMs: number;
  httpStatus: number | null;
  errorCode: string | null;
  message: string | null;
}

export interface DeliveryExecution extends ExecutionData {
  attempts: AttemptData[];
  nextAttemptAt: string | null;
  redeliveryOf: string | null;
}

export const ATTEMPT_FIELDS = 'number at durationMs httpStatus errorCode message';
export const DELIVERY_FIELDS = `${EXECUTION_FIELDS} attempts { ${ATTEMPT_FIELDS} } nextAttemptAt redeliveryOf logs { ${LOG_FIELDS} }`;

export const FINAL_STATUSES = ['SUCCESS', 'FAILED', 'SKIPPED', 'NOT_MATCHED'];

export const TRIGGER_DELIVERY = `mutation($ruleId: ID!, $payload: JSON, $wait: Boolean) {
  triggerRule(ruleId: $ruleId, payload: $payload, wait: $wait) { ${DELIVERY_FIELDS} }
}`;

export const REDELIVER = `mutation($id: ID!) { redeliver(executionId: $id) { ${DELIVERY_FIELDS} } }`;
export const REDELIVER_FAILED = `mutation($ruleId: ID!, $since: DateTime!) { redeliverFailed(ruleId: $ruleId, since: $since) }`;

export async function triggerDelivery(app: GqlClient, ruleId: string, payload: unknown = {}, wait = true): Promise<DeliveryExecution> {
  return ok(await app.gql(TRIGGER_DELIVERY, { ruleId, payload, wait })).triggerRule;
}

export async function getDelivery(app: GqlClient, id: string): Promise<DeliveryExecution | null> {
  return ok(await app.gql(`query($id: ID!) { execution(id: $id) { ${DELIVERY_FIELDS} } }`, { id })).execution;
}

/** Waits until the execution is final: not RUNNING, QUEUED or RETRYING. */
export function waitFinal(app: GqlClient, id: string, timeoutMs = 15_000): Promise<DeliveryExecution> {
  return poll(
    () => getDelivery(app, id),
    (e) => e !== null && FINAL_STATUSES.includes(e.status),
    timeoutMs,
    `execution ${id} final`,
  ) as Promise<DeliveryExecution>;
}

export function redeliverRaw(app: GqlClient, id: string): Promise<GraphQLResponse<{ redeliver: DeliveryExecution }>> {
  return app.gql(REDELIVER, { id });
}

export async function redeliver(app: GqlClient, id: string): Promise<DeliveryExecution> {
  return ok(await redeliverRaw(app, id)).redeliver;
}

export interface CascadeEventData {
  cascadeId: string;
  seq: number;
  at: string;
  kind: string;
  executionId: string;
  ruleId: string;
  depth: number;
  status: string | null;
  message: string | null;
}

export const CASCADE_EVENT_FIELDS = 'cascadeId seq at kind executionId ruleId depth status message';
export const PROGRESS = `subscription($id: ID!) { cascadeProgress(cascadeId: $id) { ${CASCADE_EVENT_FIELDS} } }`;

export async function getCascade(
  app: GqlClient,
  id: string,
): Promise<{ id: string; status: string; finishedAt: string | null; events: CascadeEventData[] } | null> {
  return ok(await app.gql(`query($id: ID!) { cascade(id: $id) { id status finishedAt events { ${CASCADE_EVENT_FIELDS} } } }`, { id })).cascade;
}

/** A webhook action spec with a retry policy. */
export function retrying(endpoint: string, retry: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: 'webhook', endpoint, timeoutMs: 2000, ...extra, retry };
}

/** The `webhook-id` header of a request. */
export const webhookId = (request: SinkRequest) => String(request.headers['webhook-id'] ?? '');

/**
 * A receiver that answers `failure` to the first `failures` requests of each key (by default the
 * `webhook-id` header, so each execution fails its own first calls), then `success`.
 */
export function failingFirst(
  failures: number,
  failure: SinkReply = { status: 503, body: { error: 'not yet' } },
  success: SinkReply = { status: 200, body: { ok: true } },
  keyOf: (request: SinkRequest) => string = webhookId,
): SinkRoute & ((request: SinkRequest) => SinkReply) {
  const seen = new Map<string, number>();
  return (request) => {
    const key = keyOf(request);
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    return count <= failures ? failure : success;
  };
}

/** Milliseconds since the epoch of a DateTime. */
export const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);

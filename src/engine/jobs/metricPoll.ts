import type { Rule } from '../../entities/index.js';
import { evaluateValue, readPath, toFiniteNumber } from '../rules/conditions/index.js';
import { OutboundError, type OutboundHttpClient, type OutboundResponse } from '../outbound/client.js';
import { buildJsonRequest } from '../outbound/requestBuilder.js';
import type { MetricTriggerSpec } from '../rules/spec/index.js';
import { renderTemplates, secretNamesIn } from '../actions/templates.js';
import { Redactor } from '../secrets/redactor.js';
import type { SecretReader } from '../secrets/vault.js';
import { literalCredentials, redactCredentials } from '../../shared/credentials.js';

export const METRIC_POLL_FAILED = 'METRIC_POLL_FAILED';

/** What one poll of a METRIC endpoint gave. */
export type PollOutcome = { ok: true; met: boolean; value: unknown; body: unknown; status: number } | { ok: false; message: string; status: number | null };

/**
 * Polls a METRIC rule's endpoint once, through the outbound client (and so the outbound guard):
 * GET sends `params` as the query string, POST as a JSON body; `headers` are sent as given.
 *
 * A poll fails (METRIC_POLL_FAILED) on a network error, a timeout, a refusal by the guard, an
 * answer status >= 400, an answer that is not JSON (or was cut at the size cap), no value at
 * `valuePath`, or a value that does not read as a finite number (numeric strings such as "85"
 * do). Otherwise the value is compared with `op` and `threshold` as the rule's condition, by the
 * same comparison triggerRule uses.
 */
export async function pollMetric(rule: Rule, http: OutboundHttpClient, timeoutMs: number, secrets: SecretReader): Promise<PollOutcome> {
  // Whatever the poll gives back (the answer, as the run's payload, and failure messages) hides
  // the secrets it read and its spec's literal credentials.
  const redactor = new Redactor();
  const stored = rule.triggerSpec as MetricTriggerSpec;
  redactor.addAll(literalCredentials(stored));
  return redactor.apply(await poll(stored, http, timeoutMs, secrets, redactor));
}

async function poll(stored: MetricTriggerSpec, http: OutboundHttpClient, timeoutMs: number, secrets: SecretReader, redactor: Redactor): Promise<PollOutcome> {
  const lookup = await secrets.lookup(secretNamesIn(stored), redactor);
  if (!lookup.ok) return { ok: false, message: `poll not sent: ${lookup.message}`, status: null };
  const spec = renderTemplates(stored, { payload: null, secrets: lookup.values });
  // Messages name the endpoint as written in the spec (placeholders, not values).
  const where = `${spec.method} ${redactCredentials(stored.endpoint)}`;
  let request: ReturnType<typeof buildJsonRequest>;
  try {
    request = buildJsonRequest({ url: spec.endpoint, method: spec.method, params: spec.params ?? {}, headers: spec.headers ?? {} });
  } catch {
    return { ok: false, message: `not a valid URL: ${redactCredentials(stored.endpoint)}`, status: null };
  }
  const deadline = Math.max(1, Math.min(timeoutMs, spec.pollIntervalSeconds * 1000));
  let response: OutboundResponse;
  try {
    response = await http.request({ ...request, timeoutMs: deadline });
  } catch (error) {
    const detail = error instanceof OutboundError ? `${error.kind}: ${error.message}` : `network: ${(error as Error).message}`;
    return { ok: false, message: `poll of ${where} failed (${detail})`, status: null };
  }
  if (response.status >= 400) return { ok: false, message: `poll of ${where} answered status ${response.status}`, status: response.status };
  if (response.truncated || typeof response.body !== 'object' || response.body === null) {
    return {
      ok: false,
      message: `poll of ${where} answered ${response.truncated ? 'a body over the size cap' : 'no JSON object or array'}`,
      status: response.status,
    };
  }
  const { found, value } = readPath(response.body, spec.valuePath);
  if (!found || value === undefined) return { ok: false, message: `poll of ${where}: no value at ${spec.valuePath} in the answer`, status: response.status };
  if (Number.isNaN(toFiniteNumber(value))) {
    return {
      ok: false,
      message: `poll of ${where}: the value at ${spec.valuePath} is not a number (${JSON.stringify(value)?.slice(0, 100)})`,
      status: response.status,
    };
  }
  const { met } = evaluateValue(spec.valuePath, spec.op, spec.threshold, true, value);
  return { ok: true, met, value, body: response.body, status: response.status };
}

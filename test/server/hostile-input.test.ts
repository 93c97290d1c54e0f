import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../support/app-process.js';
import {
  acceptedPattern,
  actionSpec,
  hostileEvent,
  hostilePayload,
  hostileString,
  jsonText,
  jsonValue,
  mustRefuseInput,
  pathNamesDefect,
  RawNumber,
  show,
  smallPayload,
  triggerSpec,
  webhookAnswer,
  type Defect,
  type GeneratedSpec,
  type Json,
} from '../support/arbitraries.js';
import { backends, type GraphQLResponse } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { pollSettled } from '../support/wait.js';

/**
 * Hostile input at the public API, checked against SPEC.md ("Trigger specs", "Action specs",
 * "API scripts", "Limits"): random and hostile trigger specs, action specs, payloads, events,
 * webhook answers and script outputs, on each database, against the service run as its own
 * process (so a request it never answers fails here instead of hanging the run). For every case:
 *
 * - no answer is HTTP 500 or carries an INTERNAL_SERVER_ERROR;
 * - every refusal is BAD_USER_INPUT and names where: a spec's `extensions.specPath` (also in the
 *   message) points at one of the parts SPEC.md says are wrong; a payload's or input's refusal
 *   names the argument; a refused event has its index; and what SPEC.md accepts is accepted;
 * - every execution and ApiExecution it started is final (not RUNNING or QUEUED) once the run
 *   has settled (bounded wait);
 * - its rule is not left blocked: a plain triggerRule afterwards is not SKIPPED with
 *   RULE_ALREADY_RUNNING.
 *
 * Seeded and bounded. `PROPERTY_RUNS=1000 PROPERTY_SEED=123 npx vitest run test/server/hostile-input.test.ts` runs
 * longer; a failure prints its seed, the counterexample and the line that replays it.
 */

const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_207);
const RUNS = process.env.PROPERTY_RUNS ? Number(process.env.PROPERTY_RUNS) : undefined;
const REPLAY_PATH = process.env.PROPERTY_PATH;
/** How long a run may take to become final after its triggerRule answered. */
const SETTLE_MS = 15_000;

const runs = (byDefault: number) => RUNS ?? byDefault;
/** Cases per property in `npm test` (a case is a few requests; see the deadline below). */
const DEFAULT_RUNS = { triggerSpecs: 30, actionSpecs: 30, payloads: 25, events: 25, answers: 25, scripts: 20, regex: 10 };
/** Test deadline: generous per case, so that only a real hang (which fails on its own) reaches it. */
const deadline = (numRuns: number) => 120_000 + numRuns * 3_000;

// ---------------------------------------------------------------------------------------------
// Running a property
// ---------------------------------------------------------------------------------------------

async function check<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  options: { numRuns: number; endOnFailure?: boolean; examples?: T[] },
) {
  const details = await fc.check<[T]>(fc.asyncProperty(arbitrary, predicate), {
    seed: SEED,
    numRuns: options.numRuns,
    ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
    endOnFailure: options.endOnFailure ?? false,
    examples: options.examples?.map((e) => [e] as [T]),
    // Shrinking against a live service is bounded: past this, the best counterexample so far is reported.
    plugins: [fc.interruptAfterTimeLimit(deadline(options.numRuns) - 30_000) as fc.Plugin<[T]>],
  });
  if (!details.failed) return;
  const counterexample = details.counterexample?.[0];
  const error = details.errorInstance as Error | undefined;
  throw new Error(
    [
      `property "${name}" failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s)${details.interrupted ? ' (shrinking cut short)' : ''}; seed ${details.seed}`,
      `counterexample: ${show(counterexample)}`,
      `failure: ${error?.message ?? String(details.errorInstance)}`,
      `replay: PROPERTY_SEED=${details.seed} PROPERTY_PATH=${details.counterexamplePath} npx vitest run test/server/hostile-input.test.ts -t "${name}"`,
    ].join('\n'),
  );
}

class Violation extends Error {}
const violation = (message: string): never => {
  throw new Violation(message);
};

// ---------------------------------------------------------------------------------------------
// Checks shared by the properties
// ---------------------------------------------------------------------------------------------

/** No HTTP 500, no INTERNAL_SERVER_ERROR. */
function noInternalError(response: GraphQLResponse, what: string) {
  if (response.status >= 500) violation(`${what} answered HTTP ${response.status}: ${show(response.errors ?? response.data)}`);
  const internal = response.errors?.find((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || e.extensions?.code === 'NOT_JSON');
  if (internal) violation(`${what} answered ${internal.extensions?.code}: ${show(internal.message)}`);
}

/** The one error of a refusal, which must be BAD_USER_INPUT. */
function badInput(response: GraphQLResponse, what: string) {
  const error = response.errors![0]!;
  if (error.extensions?.code !== 'BAD_USER_INPUT')
    violation(`${what} was refused with ${error.extensions?.code} instead of BAD_USER_INPUT: ${show(error.message)}`);
  return error;
}

/** A spec refusal: specPath in extensions and in the message, naming one of the parts SPEC.md says are wrong. */
function checkSpecRefusal(response: GraphQLResponse, generated: GeneratedSpec, root: string) {
  const error = badInput(response, 'the spec');
  const specPath = error.extensions?.specPath;
  if (typeof specPath !== 'string' || !specPath.startsWith(root)) violation(`refusal without extensions.specPath under ${root}: ${show(error)}`);
  if (!error.message.includes(specPath)) violation(`the message does not name its specPath ${specPath}: ${show(error.message)}`);
  if (generated.defects.length === 0) violation(`refused a ${root} that SPEC.md accepts, at ${specPath}: ${show(error.message)}`);
  if (!generated.defects.some((d) => pathNamesDefect(specPath, d, generated.spec, root))) {
    violation(`specPath ${specPath} names none of the wrong parts (${describeDefects(generated.defects)}): ${show(error.message)}`);
  }
}

const describeDefects = (defects: Defect[]) => defects.map((d) => `${d.why} at ${show(d.path)}${d.maybe ? ' (may be refused)' : ''}`).join('; ');

/** An input refusal (payload, event, input, params) names the argument in its message or extensions. */
function checkInputRefusal(response: GraphQLResponse, argument: string, value: unknown) {
  if (!response.errors?.length) violation(`accepted a ${argument} that SPEC.md refuses (deeper than 64 levels or a number that is not finite): ${show(value)}`);
  const error = badInput(response, `the ${argument}`);
  const where = `${error.message} ${JSON.stringify(error.extensions ?? {})}`;
  if (!where.includes(argument)) violation(`the refusal of ${argument} ${show(value)} does not name "${argument}": ${show(error)}`);
}

/** MAX_REQUEST_BYTES (default 1 MiB): a GraphQL body over it is 413 (SPEC "Limits"). */
const MAX_REQUEST_BYTES = 1_048_576;
const overBodyCap = (query: string, variables: Record<string, unknown>) => Buffer.byteLength(jsonText({ query, variables })) > MAX_REQUEST_BYTES;
function expectTooLarge(response: GraphQLResponse) {
  if (response.status !== 413 || response.errors?.[0]?.extensions?.code !== 'PAYLOAD_TOO_LARGE')
    violation(`a body over MAX_REQUEST_BYTES answered ${response.status}: ${show(response.errors)}`);
}

const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawNumber);

const FINAL_EXCLUDED = new Set(['RUNNING', 'QUEUED']);

/** Every execution of these rules is final within SETTLE_MS. */
async function executionsFinal(app: AppProcess, ruleIds: string[], context: string) {
  for (const ruleId of ruleIds) {
    const read = async () => {
      const response = await app.gql(
        `query($ruleId: ID) { executions(ruleId: $ruleId, first: 100) { edges { node { id status depth skipReason error { code message } } } } }`,
        { ruleId },
      );
      noInternalError(response, 'executions');
      return (response.data?.executions?.edges ?? []).map((e: any) => e.node) as { id: string; status: string }[];
    };
    const { value, reached: done } = await pollSettled(read, (rows) => rows.every((r) => !FINAL_EXCLUDED.has(r.status)), SETTLE_MS);
    if (!done) violation(`${context}: executions still unfinished ${SETTLE_MS} ms after the run: ${show(value.filter((r) => FINAL_EXCLUDED.has(r.status)))}`);
  }
}

/** Every ApiExecution of the API definition is final within SETTLE_MS. */
async function apiExecutionsFinal(app: AppProcess, apiId: string, context: string) {
  const read = async () => {
    const response = await app.gql(
      `query($id: ID!) { apiDefinition(id: $id) { executions(first: 100) { edges { node { id status error { code message } } } } } }`,
      { id: apiId },
    );
    noInternalError(response, 'apiDefinition.executions');
    return (response.data?.apiDefinition?.executions?.edges ?? []).map((e: any) => e.node) as { id: string; status: string }[];
  };
  const { value, reached: done } = await pollSettled(read, (rows) => rows.every((r) => !FINAL_EXCLUDED.has(r.status)), SETTLE_MS);
  if (!done) violation(`${context}: ApiExecutions still unfinished ${SETTLE_MS} ms after the run: ${show(value.filter((r) => FINAL_EXCLUDED.has(r.status)))}`);
}

const TRIGGER = `mutation($ruleId: ID!, $payload: JSON) { triggerRule(ruleId: $ruleId, payload: $payload) { id status skipReason cascadeId error { code message } } }`;

/** A plain triggerRule of the rule runs: the hostile case left it free. */
async function notBlocked(app: AppProcess, ruleId: string, context: string) {
  const response = await app.gql(TRIGGER, { ruleId, payload: { plain: true } });
  noInternalError(response, 'triggerRule (plain)');
  if (response.errors) violation(`${context}: a plain triggerRule afterwards was refused: ${show(response.errors)}`);
  const row = response.data.triggerRule;
  if (row.status === 'SKIPPED' && row.skipReason === 'RULE_ALREADY_RUNNING')
    violation(`${context}: the rule is left blocked: a plain triggerRule afterwards is SKIPPED with RULE_ALREADY_RUNNING`);
}

const CREATE_RULE = `mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`;

async function createRule(app: AppProcess, input: Record<string, unknown>): Promise<string> {
  const response = await app.gql(CREATE_RULE, { input: { name: `prop ${randomUUID()}`, triggerSpec: { conditions: [] }, ...input } });
  noInternalError(response, 'createRule');
  if (response.errors) throw new Error(`setup: createRule refused: ${show(response.errors)}`);
  return response.data.createRule.id;
}

/** Deletes the case's rules; a failure here (after a failed case) must not hide that case's error. */
async function cleanUp(app: AppProcess, ruleIds: string[]) {
  for (const id of ruleIds) await app.gql(`mutation($id: ID!) { deleteRule(id: $id) }`, { id }).catch(() => undefined);
}

const webhookTo = (sink: Sink, path: string, extra: Record<string, unknown> = {}) => ({
  type: 'webhook',
  endpoint: `${sink.url}${path}`,
  method: 'POST',
  body: '{{payload}}',
  timeoutMs: 2000,
  ...extra,
});

/** Logs what it is given and returns a value built from its input (SPEC "API scripts"). */
const ECHO_SCRIPT = `
function main(params, input, ctx) {
  const p = input && typeof input === 'object' ? input : {};
  const text = Array.isArray(p.codes) ? String.fromCharCode.apply(null, p.codes) : '';
  for (const line of Array.isArray(p.logs) ? p.logs : []) {
    const level = ['debug', 'info', 'warn', 'error'].includes(line && line.level) ? line.level : 'info';
    ctx.log[level]((line && typeof line.message === 'string' ? line.message : '') + text, line ? line.data : undefined);
  }
  let out = p.out === undefined ? null : p.out;
  if (text) out = { text, out };
  for (let i = 0; i < (p.deep | 0); i++) out = [out];
  switch (p.kind) {
    case 'undefined': return undefined;
    case 'nonFinite': return [NaN, Infinity, -0];
    case 'function': return { f: function () {} };
    case 'big': return text + 'x'.repeat(p.n | 0);
    case 'throw': throw new Error('boom ' + text);
    case 'throwValue': throw { text, out };
    case 'cyclic': { const o = { text }; o.self = o; return o; }
    case 'bigint': return 10n;
    case 'symbol': return Symbol(text);
    case 'async': return Promise.resolve(out);
    case 'reject': return Promise.reject(text);
    default: return out;
  }
}`;

// ---------------------------------------------------------------------------------------------
// Arbitraries of the cases
// ---------------------------------------------------------------------------------------------

const scriptInput: fc.Arbitrary<Json> = fc
  .record(
    {
      out: fc.oneof({ weight: 4, arbitrary: jsonValue({ maxDepth: 3 }) }, { weight: 1, arbitrary: jsonValue({ maxDepth: 2, nonFinite: true }) }),
      codes: fc.array(fc.oneof(fc.constantFrom(0, 0xd800, 0xdc00, 0xdbff, 0xfffe, 0xffff, 0x2028, 65, 0x1f), fc.integer({ min: 0, max: 0xffff })), {
        maxLength: 8,
      }),
      deep: fc.oneof(fc.constant(0), fc.integer({ min: 60, max: 70 }), fc.integer({ min: 100, max: 3000 })),
      logs: fc.array(fc.record({ level: fc.constantFrom('debug', 'info', 'warn', 'error'), message: hostileString(20), data: jsonValue({ maxDepth: 2 }) }), {
        maxLength: 3,
      }),
      kind: fc.constantFrom(
        'value',
        'value',
        'value',
        'undefined',
        'nonFinite',
        'function',
        'big',
        'throw',
        'throwValue',
        'cyclic',
        'bigint',
        'symbol',
        'async',
        'reject',
      ),
      n: fc.constantFrom(10, 70_000, 2_000_000),
    },
    { requiredKeys: ['out', 'kind'] },
  )
  .map((r) => r as unknown as Json);

interface EventsCase {
  channel: 'publishEvent' | 'publishEvents' | 'POST json' | 'POST json single' | 'POST ndjson';
  events: Json[];
  /** NDJSON only: lines that are not JSON, with their positions among the event lines. */
  garbage: { at: number; line: string }[];
}

const eventsCase: fc.Arbitrary<EventsCase> = fc.record({
  channel: fc.constantFrom('publishEvent', 'publishEvents', 'POST json', 'POST json single', 'POST ndjson'),
  events: fc.array(hostileEvent, { minLength: 1, maxLength: 5 }),
  garbage: fc.array(
    fc.record({ at: fc.nat(6), line: fc.constantFrom('{', 'nul', '\u0000', '[1,', '"\ud800', '{"a":1}}', '', '   ', '\r', '{"a":01}', "{'a':1}") }),
    { maxLength: 3 },
  ),
});

// ---------------------------------------------------------------------------------------------
// The properties, per database
// ---------------------------------------------------------------------------------------------

describe.each(backends())('hostile input at the public API (%s)', (backend) => {
  let app: AppProcess;
  let sink: Sink;
  let apiId: string;
  /** trigger_rule specs name this id; each case swaps in a rule of its own. */
  const TARGET_SENTINEL = 'e3b0c442-98fc-4c14-9afb-f4c8996fb924';

  beforeAll(async () => {
    sink = await startSink({ '/ok': { status: 200, body: { ok: true } } });
    app = await startAppProcess(backend);
    const api = await app.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
      input: { name: 'echo', kind: 'SCRIPT', source: ECHO_SCRIPT, runtimePolicy: { timeoutMs: 2000 } },
    });
    if (api.errors) throw new Error(`setup: createApiDefinition refused: ${show(api.errors)}`);
    apiId = api.data.createApiDefinition.id;
  }, 240_000);

  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  }, 60_000);

  it(
    'trigger specs: refused with a specPath naming the wrong part, or accepted and run to the end',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.triggerSpecs);
      await check(
        'trigger specs',
        fc.tuple(triggerSpec, smallPayload),
        async ([generated, payload]) => {
          const response = await app.gql(CREATE_RULE, {
            input: { name: `spec ${randomUUID()}`, triggerSpec: generated.spec, actionSpec: webhookTo(sink, '/ok') },
          });
          noInternalError(response, 'createRule');
          if (response.errors) return checkSpecRefusal(response, generated, 'triggerSpec');
          const ruleId = response.data.createRule.id as string;
          try {
            const must = generated.defects.filter((d) => !d.maybe);
            if (must.length > 0) violation(`accepted a triggerSpec that SPEC.md refuses: ${describeDefects(must)}`);
            const run = await app.gql(TRIGGER, { ruleId, payload });
            noInternalError(run, 'triggerRule');
            if (run.errors) violation(`triggerRule of an accepted rule with a payload within the limits was refused: ${show(run.errors)}`);
            await executionsFinal(app, [ruleId], 'triggerRule');
            await notBlocked(app, ruleId, 'triggerRule');
          } finally {
            await cleanUp(app, [ruleId]);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.triggerSpecs)),
  );

  it(
    'action specs: refused with a specPath naming the wrong part, or accepted and run to the end',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.actionSpecs);
      await check(
        'action specs',
        fc.tuple(actionSpec({ sinkUrl: sink.url, ruleId: TARGET_SENTINEL, apiId }), smallPayload),
        async ([generated, payload]) => {
          const rules: string[] = [];
          try {
            let spec = generated.spec as Record<string, unknown>;
            if (isObject(spec) && spec.rule_id === TARGET_SENTINEL) {
              const target = await createRule(app, { actionSpec: webhookTo(sink, '/ok') });
              rules.push(target);
              spec = { ...spec, rule_id: target };
            }
            const response = await app.gql(CREATE_RULE, { input: { name: `action ${randomUUID()}`, triggerSpec: { conditions: [] }, actionSpec: spec } });
            noInternalError(response, 'createRule');
            if (response.errors) return checkSpecRefusal(response, generated, 'actionSpec');
            const ruleId = response.data.createRule.id as string;
            rules.unshift(ruleId);
            const must = generated.defects.filter((d) => !d.maybe);
            if (must.length > 0) violation(`accepted an actionSpec that SPEC.md refuses: ${describeDefects(must)}`);
            const run = await app.gql(TRIGGER, { ruleId, payload });
            noInternalError(run, 'triggerRule');
            if (run.errors) violation(`triggerRule of an accepted rule with a payload within the limits was refused: ${show(run.errors)}`);
            await executionsFinal(app, rules, 'triggerRule');
            await apiExecutionsFinal(app, apiId, 'triggerRule');
            for (const id of rules) await notBlocked(app, id, 'triggerRule');
          } finally {
            await cleanUp(app, rules);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.actionSpecs)),
  );

  it(
    'payloads: refused naming payload when over the limits, else run to the end by every action type',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.payloads);
      const payloads = fc.oneof({ weight: 6, arbitrary: hostilePayload }, { weight: 1, arbitrary: jsonValue({ maxDepth: 2, nonFinite: true }) });
      await check(
        'payloads',
        fc.tuple(fc.constantFrom('webhook', 'trigger_rule', 'api_script'), payloads),
        async ([kind, payload]) => {
          const rules: string[] = [];
          try {
            if (kind === 'webhook') rules.push(await createRule(app, { actionSpec: webhookTo(sink, '/ok') }));
            if (kind === 'trigger_rule') {
              const target = await createRule(app, { actionSpec: webhookTo(sink, '/ok') });
              rules.push(await createRule(app, { actionSpec: { type: 'trigger_rule', rule_id: target } }), target);
            }
            if (kind === 'api_script') rules.push(await createRule(app, { actionSpec: { type: 'api_script', api_id: apiId } }));
            const run = await app.gql(TRIGGER, { ruleId: rules[0], payload });
            noInternalError(run, 'triggerRule');
            if (mustRefuseInput(payload)) return checkInputRefusal(run, 'payload', payload);
            if (run.errors) {
              if (isObject(payload)) violation(`refused an object payload within the limits: ${show(run.errors)}`);
              return checkInputRefusal(run, 'payload', payload);
            }
            await executionsFinal(app, rules, `triggerRule (${kind})`);
            if (kind === 'api_script') await apiExecutionsFinal(app, apiId, 'triggerRule (api_script)');
            for (const id of rules) await notBlocked(app, id, `triggerRule (${kind})`);
          } finally {
            await cleanUp(app, rules);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.payloads)),
  );

  it(
    'events: each refused event has its index, the others run to the end, never a 500',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.events);
      await check(
        'events',
        eventsCase,
        async ({ channel, events, garbage }) => {
          const ruleId = await createRule(app, { actionSpec: webhookTo(sink, '/ok') });
          try {
            const refusedEvent = (event: Json) => !isObject(event) || mustRefuseInput(event);
            if (channel === 'publishEvent') {
              const event = events[0]!;
              const query = `mutation($event: JSON!) { publishEvent(event: $event) { eventId matched executions { id status } } }`;
              const response = await app.gql(query, { event });
              noInternalError(response, 'publishEvent');
              if (overBodyCap(query, { event })) return expectTooLarge(response);
              if (refusedEvent(event)) checkInputRefusal(response, 'event', event);
              else if (response.errors) violation(`publishEvent refused an object event within the limits: ${show(response.errors)}`);
            } else {
              let expected = events.map((event, index) => (refusedEvent(event) ? index : -1)).filter((i) => i >= 0);
              let result: { accepted: number; refused: { index: number; reason: string }[] };
              let count = events.length;
              if (channel === 'publishEvents') {
                const query = `mutation($events: [JSON!]!) { publishEvents(events: $events) { accepted matched refused { index reason } } }`;
                const response = await app.gql(query, { events });
                noInternalError(response, 'publishEvents');
                if (overBodyCap(query, { events })) return expectTooLarge(response);
                if (response.errors) violation(`publishEvents refused the whole call instead of the events one by one: ${show(response.errors)}`);
                result = response.data.publishEvents;
              } else {
                let body: string;
                let contentType = 'application/json';
                if (channel === 'POST json') body = `[${events.map(jsonText).join(',')}]`;
                else if (channel === 'POST json single') {
                  body = jsonText(events[0]);
                  if (Array.isArray(events[0])) {
                    expected = (events[0] as Json[]).map((event, index) => (refusedEvent(event) ? index : -1)).filter((i) => i >= 0);
                    count = (events[0] as Json[]).length;
                  } else {
                    expected = refusedEvent(events[0]!) ? [0] : [];
                    count = 1;
                  }
                } else {
                  contentType = 'application/x-ndjson';
                  const lines: { text: string; refused: boolean }[] = events.map((event) => ({ text: jsonText(event), refused: refusedEvent(event) }));
                  for (const { at, line } of garbage) lines.splice(Math.min(at, lines.length), 0, { text: line, refused: true });
                  const nonBlank = lines.filter((l) => l.text.trim() !== '');
                  expected = nonBlank.map((l, index) => (l.refused ? index : -1)).filter((i) => i >= 0);
                  count = nonBlank.length;
                  body = lines.map((l) => l.text).join('\n');
                }
                const response = await app.request('/events', { headers: { 'content-type': contentType }, body }, `POST /events (${channel})`);
                if (response.status >= 500) violation(`POST /events answered HTTP ${response.status}: ${show(response.text)}`);
                // Every event line parses (1e400 too), so the answer is 200 (SPEC: 400 only when nothing parses).
                if (response.status !== 200) violation(`POST /events answered ${response.status}: ${show(response.text)}`);
                result = response.json;
              }
              const refused = result.refused.map((r) => r.index).sort((a, b) => a - b);
              if (jsonText(refused) !== jsonText(expected))
                violation(`refused the events at ${jsonText(refused)}, SPEC.md refuses those at ${jsonText(expected)}: ${show(result.refused)}`);
              const silent = result.refused.find((r) => typeof r.reason !== 'string' || r.reason.trim() === '');
              if (silent) violation(`a refused event without a reason: ${show(silent)}`);
              if (result.accepted !== count - expected.length) violation(`accepted ${result.accepted} of ${count} events, ${expected.length} refused`);
            }
            await executionsFinal(app, [ruleId], channel);
            await notBlocked(app, ruleId, channel);
          } finally {
            await cleanUp(app, [ruleId]);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.events)),
  );

  it(
    'webhook answers: whatever the receiver answers, the run ends final and the rule is free',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.answers);
      await check(
        'webhook answers',
        fc.tuple(webhookAnswer, fc.constantFrom('GET', 'POST')),
        async ([answer, method]) => {
          const path = `/answer-${randomUUID()}`;
          sink.route(path, { status: answer.status, body: answer.body, contentType: answer.contentType, headers: answer.headers });
          const ruleId = await createRule(app, { actionSpec: webhookTo(sink, path, { method }) });
          try {
            const run = await app.gql(TRIGGER, { ruleId, payload: { a: 1 } });
            noInternalError(run, 'triggerRule');
            if (run.errors) violation(`triggerRule was refused: ${show(run.errors)}`);
            await executionsFinal(app, [ruleId], 'a webhook answered so');
            await notBlocked(app, ruleId, 'a webhook answered so');
          } finally {
            await cleanUp(app, [ruleId]);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.answers)),
  );

  it(
    'script outputs and logs: executeApi and api_script runs end final whatever the script returns or logs',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.scripts);
      await check(
        'script outputs',
        scriptInput,
        async (input) => {
          const direct = await app.gql(
            `mutation($apiId: ID!, $input: JSON) { executeApi(apiId: $apiId, input: $input) { id status error { code message } } }`,
            { apiId, input },
          );
          noInternalError(direct, 'executeApi');
          if (mustRefuseInput(input)) checkInputRefusal(direct, 'input', input);
          else if (direct.errors) {
            violation(`executeApi refused an input within the limits: ${show(direct.errors)}`);
          }
          await apiExecutionsFinal(app, apiId, 'executeApi');
          const ruleId = await createRule(app, { actionSpec: { type: 'api_script', api_id: apiId } });
          try {
            const run = await app.gql(TRIGGER, { ruleId, payload: input });
            noInternalError(run, 'triggerRule (api_script)');
            if (mustRefuseInput(input)) return checkInputRefusal(run, 'payload', input);
            if (run.errors) violation(`triggerRule was refused: ${show(run.errors)}`);
            await executionsFinal(app, [ruleId], 'api_script');
            await apiExecutionsFinal(app, apiId, 'api_script');
            await notBlocked(app, ruleId, 'api_script');
          } finally {
            await cleanUp(app, [ruleId]);
          }
        },
        { numRuns },
      );
    },
    deadline(runs(DEFAULT_RUNS.scripts)),
  );

  // Last: on an engine that backtracks, a catastrophic pattern blocks the service for good.
  it(
    'matches: every pattern SPEC.md accepts runs in linear time on hostile text (the service keeps answering)',
    async () => {
      const numRuns = runs(DEFAULT_RUNS.regex);
      const subject = fc.record({
        unit: fc.constantFrom('a', 'ab', 'x1', 'a ', 'aaaaaaaaaa!'),
        count: fc.integer({ min: 2_000, max: 40_000 }),
        tail: fc.constantFrom('!', '', '\u0000', 'b', ' '),
      });
      await check(
        'regex linear time',
        fc.tuple(acceptedPattern, subject),
        async ([pattern, { unit, count, tail }]) => {
          const response = await app.gql(CREATE_RULE, {
            input: { name: `regex ${randomUUID()}`, triggerSpec: { field: 's', op: 'matches', value: pattern }, actionSpec: webhookTo(sink, '/ok') },
          });
          noInternalError(response, 'createRule');
          if (response.errors) violation(`refused a pattern SPEC.md accepts: ${show(response.errors)}`);
          const ruleId = response.data.createRule.id as string;
          try {
            const run = await app.gql(TRIGGER, { ruleId, payload: { s: unit.repeat(count) + tail } });
            noInternalError(run, 'triggerRule');
            if (run.errors) violation(`triggerRule was refused: ${show(run.errors)}`);
            await executionsFinal(app, [ruleId], 'matches');
          } finally {
            await cleanUp(app, [ruleId]);
          }
        },
        {
          numRuns,
          endOnFailure: true,
          examples: [['(a|a)*$', { unit: 'a', count: 30_000, tail: '!' }] as [string, { unit: string; count: number; tail: string }]],
        },
      );
    },
    deadline(runs(DEFAULT_RUNS.regex)),
  );
});

import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ok, startFreshApp, unique, type Backend, type GraphQLResponse, type TestApp } from './harness.js';
import { startSink, type Sink } from './sink.js';
import { poll } from './wait.js';

/** Shared helpers of the engine suites (real server, real database). */

export type FreshApp = Awaited<ReturnType<typeof startFreshApp>>;

/**
 * A suite's fresh app (the sink's 127.0.0.1 allowed by the outbound guard, plus `env`) and a
 * local webhook sink, started before its tests and stopped after them; the sink forgets its
 * requests before each test. `bind` hands both to the suite.
 */
export function appWithSink(backend: Backend, env: Record<string, string>, bind: (app: FreshApp, sink: Sink) => void): void {
  let app: FreshApp | undefined;
  let sink: Sink | undefined;
  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '127.0.0.1', ...env });
    bind(app, sink);
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });
  beforeEach(() => sink!.reset());
}

export const EXECUTION_FIELDS = `id ruleId status conditionMet executedBy payload actionType result references
  error { code message } skipReason durationMs startedAt finishedAt cascadeId parentId depth`;

export interface ExecutionData {
  id: string;
  ruleId: string;
  status: string;
  conditionMet: boolean;
  executedBy: string;
  payload: any;
  actionType: string | null;
  result: any;
  references: any;
  error: { code: string; message: string } | null;
  skipReason: string | null;
  durationMs: number | null;
  startedAt: string;
  finishedAt: string | null;
  cascadeId: string;
  parentId: string | null;
  depth: number;
  logs?: { seq: number; level: string; message: string; data: any; executionId: string; ruleId: string | null; cascadeId: string | null }[];
  children?: ExecutionData[];
}

export const LOG_FIELDS = 'executionId cascadeId ruleId seq level message data';

export interface RuleInput {
  name?: string;
  triggerType?: 'EVENT' | 'SCHEDULE' | 'METRIC';
  triggerSpec?: unknown;
  actionSpec: unknown;
  active?: boolean;
}

/** An EVENT condition that every object payload meets. */
export const ALWAYS = { conditions: [] };

export async function createRule(app: Pick<TestApp, 'gql'>, input: RuleInput): Promise<{ id: string; name: string }> {
  const res = await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id name } }`, {
    input: { name: unique('rule'), triggerSpec: ALWAYS, ...input },
  });
  return ok(res).createRule;
}

export async function updateRule(app: TestApp, id: string, input: Record<string, unknown>) {
  return ok(await app.gql(`mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id active } }`, { id, input })).updateRule;
}

export const TRIGGER = `mutation($ruleId: ID!, $payload: JSON, $executedBy: String, $wait: Boolean) {
  triggerRule(ruleId: $ruleId, payload: $payload, executedBy: $executedBy, wait: $wait) { ${EXECUTION_FIELDS} logs { ${LOG_FIELDS} } }
}`;

export function triggerRaw(
  app: TestApp,
  ruleId: string,
  payload?: unknown,
  options: { wait?: boolean; executedBy?: string } = {},
): Promise<GraphQLResponse<{ triggerRule: ExecutionData }>> {
  return app.gql(TRIGGER, { ruleId, payload, ...options });
}

export async function trigger(app: TestApp, ruleId: string, payload?: unknown, options: { wait?: boolean; executedBy?: string } = {}): Promise<ExecutionData> {
  return ok(await triggerRaw(app, ruleId, payload, options)).triggerRule;
}

export async function getExecution(app: TestApp, id: string, extra = ''): Promise<ExecutionData | null> {
  return ok(await app.gql(`query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} ${extra} } }`, { id })).execution;
}

export async function countExecutions(app: TestApp, args: Record<string, unknown> = {}): Promise<number> {
  const res = await app.gql(
    `query($ruleId: ID, $cascadeId: ID, $status: ExecutionStatus) { executions(ruleId: $ruleId, cascadeId: $cascadeId, status: $status, first: 0) { totalCount } }`,
    args,
  );
  return ok(res).executions.totalCount;
}

/** Waits until the execution has left RUNNING/QUEUED. */
export function waitFinished(app: TestApp, id: string, extra = '', timeoutMs = 10_000) {
  return poll(
    () => getExecution(app, id, extra),
    (e) => e !== null && e.status !== 'RUNNING' && e.status !== 'QUEUED',
    timeoutMs,
  ) as Promise<ExecutionData>;
}

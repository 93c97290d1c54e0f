import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../support/app-process.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/harness.js';
import { poll } from '../support/wait.js';

/**
 * When the sandbox process starts (decisions.md, "The sandbox starts with the first script"):
 * a service with no SCRIPT API holds none, the first script run starts it and succeeds within its
 * timeout, and a service started on a database that has one starts it with itself.
 */

function childProcesses(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

const CREATE_API = 'mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }';
const EXECUTE = 'mutation($apiId: ID!) { executeApi(apiId: $apiId, input: {n: 2}) { status output error { code message } } }';

describe.each(backends())('sandbox start (%s)', (backend) => {
  let app: AppProcess | undefined;
  let again: AppProcess | undefined;
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await again?.stop();
    await app?.stop();
    await database?.drop();
    app = again = database = undefined;
  });

  it('starts with the first script run, and with the service once a SCRIPT API exists', async () => {
    database = await createTestDatabase(backend);
    app = await startAppProcess(backend, {}, { database });
    const rule = await app.gql(
      'mutation { createRule(input: {name: "no-script", triggerSpec: {logic: "AND", conditions: [{field: "n", op: ">", value: 0}]}, actionSpec: {type: "trigger_rule", rule_id: "00000000-0000-4000-8000-000000000000"}}) { id } }',
    );
    expect(rule.errors).toBeUndefined();
    await app.gql('mutation($id: ID!) { triggerRule(ruleId: $id, payload: {n: 1}) { status } }', { id: rule.data.createRule.id });
    expect(childProcesses(app.pid)).toEqual([]);

    const api = await app.gql(CREATE_API, {
      input: { name: 'double', source: 'function main(params, input) { return input.n * 2; }', runtimePolicy: { timeoutMs: 1000 } },
    });
    expect(api.errors).toBeUndefined();
    const run = await app.gql(EXECUTE, { apiId: api.data.createApiDefinition.id });
    expect(run.data.executeApi).toMatchObject({ status: 'SUCCESS', output: 4, error: null });
    expect(childProcesses(app.pid)).toHaveLength(1);

    await app.stop();
    app = undefined;
    again = await startAppProcess(backend, {}, { database });
    const started = again;
    await poll(
      () => childProcesses(started.pid).length,
      (n) => n === 1,
      10_000,
      'the sandbox process started with the service',
    );
    await database.drop();
  });
});

import { access, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, ok, startApp, type TestApp, type TestDatabase } from '../support/harness.js';

/**
 * Data outlives the process: an app stopped and a new one started on the same database (the
 * file-backed PGlite directory, or the same PostgreSQL database) reads back what the first wrote.
 */

const RULE_FIELDS = 'id name description triggerType triggerSpec actionSpec actionType active createdBy createdAt updatedAt';
const API_FIELDS =
  'id name description kind source httpSpec paramSchema active createdBy createdAt updatedAt runtimePolicy { timeoutMs memoryLimitMb allowNetwork allowedHosts }';

const READ_ALL = `{
  rules(first: 100) { totalCount edges { cursor node { ${RULE_FIELDS} } } }
  apiDefinitions(first: 100) { totalCount edges { cursor node { ${API_FIELDS} } } }
}`;

async function snapshot(t: TestApp) {
  return ok(await t.gql(READ_ALL));
}

describe.each(backends())('the app restarted keeps its data (%s)', (backend) => {
  let database: TestDatabase;
  let app: TestApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  let before: any;
  let ruleId: string;
  let apiId: string;
  let deletedId: string;

  it('writes rules and API definitions on the first app', async () => {
    app = await startApp(database);
    const api = ok(
      await app.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { ${API_FIELDS} } }`, {
        input: {
          name: 'enricher',
          description: 'adds a field',
          source: 'function main(params, input) { return { ...input, enriched: true }; }',
          paramSchema: { type: 'object', properties: { n: { type: 'integer' } } },
          runtimePolicy: { timeoutMs: 1234, memoryLimitMb: 48, allowNetwork: true, allowedHosts: ['api.example.com'] },
        },
      }),
    ).createApiDefinition;
    apiId = api.id;
    ok(
      await app.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
        input: { name: 'status page', kind: 'HTTP', httpSpec: { url: 'https://status.example.com/{{params.page}}' } },
      }),
    );
    const rule = ok(
      await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { ${RULE_FIELDS} } }`, {
        input: {
          name: 'High CPU',
          description: 'über 80 % — unicode survives',
          triggerSpec: {
            conditions: [
              { field: 'cpu', op: '>', value: 80 },
              { field: 'tags', op: 'contains', value: 'prod' },
            ],
            logic: 'and',
          },
          actionSpec: { type: 'api_script', api_id: api.id, input: { cpu: '{{payload.cpu}}' } },
          createdBy: 'restart test',
        },
      }),
    ).createRule;
    ruleId = rule.id;
    ok(
      await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: {
          name: 'nightly',
          triggerType: 'SCHEDULE',
          triggerSpec: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
          actionSpec: { endpoint: 'https://example.com' },
          active: false,
        },
      }),
    );
    deletedId = ok(
      await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: { name: 'short-lived', triggerSpec: { field: 'a', op: 'exists' }, actionSpec: { endpoint: 'https://example.com' } },
      }),
    ).createRule.id;
    ok(await app.gql(`mutation($id: ID!) { updateRule(id: $id, input: { description: "edited before the restart" }) { id } }`, { id: ruleId }));
    ok(await app.gql(`mutation($id: ID!) { deleteRule(id: $id) }`, { id: deletedId }));

    before = await snapshot(app);
    expect(before.rules.totalCount).toBe(2);
    expect(before.apiDefinitions.totalCount).toBe(2);
    await app.stop();
    app = undefined;

    if (backend === 'embedded') {
      // The data lives in files under the directory, not in memory.
      const dir = database.env.EMBEDDED_DATA_DIR!;
      await access(dir);
      expect((await readdir(dir)).length).toBeGreaterThan(0);
    }
  });

  it('reads every field back, unchanged, from a new app on the same database', async () => {
    app = await startApp(database);
    const after = await snapshot(app);
    expect(after).toEqual(before);
    const rule = ok(await app.gql(`query($id: ID!) { rule(id: $id) { ${RULE_FIELDS} } }`, { id: ruleId })).rule;
    expect(rule.description).toBe('edited before the restart');
    expect(rule.actionSpec).toEqual({ type: 'api_script', api_id: apiId, params: {}, input: { cpu: '{{payload.cpu}}' } });
    expect(ok(await app.gql(`query($id: ID!) { rule(id: $id) { id } }`, { id: deletedId })).rule).toBeNull();
    const api = ok(await app.gql(`query($id: ID!) { apiDefinition(id: $id) { ${API_FIELDS} } }`, { id: apiId })).apiDefinition;
    expect(api.runtimePolicy).toEqual({ timeoutMs: 1234, memoryLimitMb: 48, allowNetwork: true, allowedHosts: ['api.example.com'] });
    // Cursors handed out before the restart still work.
    const firstCursor = before.rules.edges[0].cursor;
    const next = ok(await app.gql(`query($after: String) { rules(first: 10, after: $after) { edges { node { id } } } }`, { after: firstCursor })).rules;
    expect(next.edges.map((e: any) => e.node.id)).toEqual(before.rules.edges.slice(1).map((e: any) => e.node.id));
  });

  it('keeps enforcing names and writing after the restart, and across a second restart', async () => {
    const duplicate = await app!.gql(
      `mutation { createRule(input: { name: "High CPU", triggerSpec: { field: "a", op: "exists" }, actionSpec: { endpoint: "https://example.com" } }) { id } }`,
    );
    expect(duplicate.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(duplicate.errors?.[0]?.message).toContain('input.name');
    ok(await app!.gql(`mutation($id: ID!) { updateRule(id: $id, input: { active: false }) { id } }`, { id: ruleId }));
    ok(await app!.gql(`mutation($id: ID!) { deleteApiDefinition(id: $id) }`, { id: apiId }));
    const written = await snapshot(app!);
    await app!.stop();
    app = await startApp(database);
    expect(await snapshot(app)).toEqual(written);
    expect(written.apiDefinitions.totalCount).toBe(1);
    expect(written.rules.edges.find((e: any) => e.node.id === ruleId).node.active).toBe(false);
    // /ready answers 200 once the database and migrations are ready.
    const ready = await fetch(`${app.base}/ready`);
    expect(ready.status).toBe(200);
  });
});

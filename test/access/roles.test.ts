/**
 * Roles (SPEC.md, 'Access'): every field of the schema states who may use it, and every query,
 * mutation and subscription answers each role as the role table says.
 */
import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.js';
import { fieldScopes } from '../../src/schema/fieldScopes.js';
import { backends, ok, startFreshApp, unique, type GraphQLResponse, type TestApp } from '../support/harness.js';
import { gqlWith, rawWs, TEST_ADMIN_KEY } from '../support/keys.js';
import { sleep } from '../support/wait.js';

const NO_ID = '00000000-0000-7000-8000-000000000000';
type Role = 'ADMIN' | 'EDITOR' | 'VIEWER' | 'PUBLISHER';
const ALL: Role[] = ['ADMIN', 'EDITOR', 'VIEWER', 'PUBLISHER'];
const READERS: Role[] = ['ADMIN', 'EDITOR', 'VIEWER'];
const EDITORS: Role[] = ['ADMIN', 'EDITOR'];
const PUBLISHERS: Role[] = ['ADMIN', 'EDITOR', 'PUBLISHER'];

/** Each root field: who may use it, and a call of it. */
const operations: Record<string, { roles: Role[]; query: string }> = {
  'Query.rules': { roles: READERS, query: '{ rules { totalCount } }' },
  'Query.rule': { roles: READERS, query: `{ rule(id: "${NO_ID}") { id } }` },
  'Query.apiDefinitions': { roles: READERS, query: '{ apiDefinitions { totalCount } }' },
  'Query.apiDefinition': { roles: READERS, query: `{ apiDefinition(id: "${NO_ID}") { id } }` },
  'Query.execution': { roles: READERS, query: `{ execution(id: "${NO_ID}") { id } }` },
  'Query.executions': { roles: READERS, query: '{ executions { totalCount } }' },
  'Query.cascade': { roles: READERS, query: `{ cascade(id: "${NO_ID}") { id } }` },
  'Query.viewer': { roles: ALL, query: '{ viewer { name } }' },
  'Query.apiKeys': { roles: ['ADMIN'], query: '{ apiKeys { id } }' },
  'Query.secrets': { roles: EDITORS, query: '{ secrets { name } }' },
  'Query.auditLog': { roles: ['ADMIN'], query: '{ auditLog { totalCount } }' },
  'Mutation.createRule': {
    roles: EDITORS,
    query: `mutation { createRule(input: { name: "NAME", triggerSpec: { conditions: [] }, actionSpec: { endpoint: "http://127.0.0.1:9/" } }) { id } }`,
  },
  'Mutation.updateRule': { roles: EDITORS, query: `mutation { updateRule(id: "${NO_ID}", input: { active: false }) { id } }` },
  'Mutation.deleteRule': { roles: EDITORS, query: `mutation { deleteRule(id: "${NO_ID}") }` },
  'Mutation.createApiDefinition': {
    roles: EDITORS,
    query: `mutation { createApiDefinition(input: { name: "NAME", kind: SCRIPT, source: "function main() { return 1 }" }) { id } }`,
  },
  'Mutation.updateApiDefinition': { roles: EDITORS, query: `mutation { updateApiDefinition(id: "${NO_ID}", input: { active: false }) { id } }` },
  'Mutation.deleteApiDefinition': { roles: EDITORS, query: `mutation { deleteApiDefinition(id: "${NO_ID}") }` },
  'Mutation.triggerRule': { roles: EDITORS, query: `mutation { triggerRule(ruleId: "${NO_ID}") { id } }` },
  'Mutation.simulateRule': { roles: EDITORS, query: `mutation { simulateRule(ruleId: "${NO_ID}") { conditionMet } }` },
  'Mutation.executeApi': { roles: EDITORS, query: `mutation { executeApi(apiId: "${NO_ID}") { id } }` },
  'Mutation.publishEvent': { roles: PUBLISHERS, query: 'mutation { publishEvent(event: { matrix: 1 }) { eventId matched } }' },
  'Mutation.publishEvents': { roles: PUBLISHERS, query: 'mutation { publishEvents(events: [{ matrix: 1 }]) { accepted refused { index } } }' },
  'Mutation.createApiKey': { roles: ['ADMIN'], query: 'mutation { createApiKey(input: { name: "NAME", role: VIEWER }) { secret } }' },
  'Mutation.revokeApiKey': { roles: ['ADMIN'], query: `mutation { revokeApiKey(id: "${NO_ID}") { id } }` },
  'Mutation.setSecret': { roles: EDITORS, query: 'mutation { setSecret(name: "MATRIX_SECRET", value: "matrix-value-1") { name } }' },
  'Mutation.deleteSecret': { roles: EDITORS, query: 'mutation { deleteSecret(name: "MATRIX_SECRET") }' },
  'Mutation.redeliver': { roles: EDITORS, query: `mutation { redeliver(executionId: "${NO_ID}") { id } }` },
  'Mutation.redeliverFailed': { roles: EDITORS, query: `mutation { redeliverFailed(ruleId: "${NO_ID}", since: "2026-01-01T00:00:00Z") }` },
  'Subscription.actionLogs': { roles: READERS, query: 'subscription { actionLogs { seq } }' },
  'Subscription.cascadeProgress': { roles: READERS, query: `subscription { cascadeProgress(cascadeId: "${NO_ID}") { seq } }` },
  'Subscription.executionUpdates': { roles: READERS, query: 'subscription { executionUpdates { id } }' },
};

const schema = buildSchema();
const rootFields = (['Query', 'Mutation', 'Subscription'] as const).flatMap((root) =>
  Object.keys(schema.getType(root) && isObjectType(schema.getType(root)) ? (schema.getType(root) as any).getFields() : {}).map((f) => `${root}.${f}`),
);

describe('every field states its role', () => {
  it('has scopes on every field of every object type, and on each root field itself', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      const root = ['Query', 'Mutation', 'Subscription'].includes(type.name);
      for (const field of Object.values(type.getFields())) {
        const scopes = root ? fieldScopes(type, field) && ((field.extensions?.pothosOptions as any)?.authScopes ? true : null) : fieldScopes(type, field);
        if (!scopes) missing.push(`${type.name}.${field.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('has a line of the role matrix for every query, mutation and subscription', () => {
    expect(rootFields.filter((coordinate) => !(coordinate in operations))).toEqual([]);
  });
});

const isForbidden = (response: GraphQLResponse, field: string) =>
  (response.errors ?? []).some((e) => e.extensions?.code === 'FORBIDDEN' && e.path?.[0] === field);

describe.each(backends())('the role matrix (%s)', (backend) => {
  let app: TestApp;
  const keys = {} as Record<Role, string>;

  beforeAll(async () => {
    app = await startFreshApp(backend, { ADMIN_KEY: TEST_ADMIN_KEY, SHUTDOWN_GRACE_MS: '500' });
    for (const role of ALL) {
      const created = ok(
        await gqlWith(app.url, TEST_ADMIN_KEY, 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }', {
          input: { name: unique(`matrix ${role}`), role },
        }),
      );
      keys[role] = created.createApiKey.secret;
    }
  });

  afterAll(async () => {
    await app?.stop();
  });

  const queriesAndMutations = () =>
    Object.entries(operations).filter(([coordinate]) => rootFields.includes(coordinate) && !coordinate.startsWith('Subscription.'));

  it.each(ALL)('answers %s as the role table says, on every query and mutation', async (role) => {
    const wrong: string[] = [];
    for (const [coordinate, { roles, query }] of queriesAndMutations()) {
      const field = coordinate.split('.')[1]!;
      const response = await gqlWith(app.url, keys[role], query.replace('"NAME"', JSON.stringify(unique(`matrix ${role}`))));
      const forbidden = isForbidden(response, field);
      if (forbidden === roles.includes(role)) wrong.push(`${coordinate}: ${forbidden ? 'refused' : 'allowed'} ${JSON.stringify(response.errors ?? null)}`);
    }
    expect(wrong).toEqual([]);
  });

  it.each(ALL)('answers %s as the role table says, on every subscription', async (role) => {
    const ws = rawWs(app.url, { authorization: `Bearer ${keys[role]}` });
    expect(await ws.acknowledged).toBe('ack');
    const subscriptions = Object.entries(operations).filter(([coordinate]) => rootFields.includes(coordinate) && coordinate.startsWith('Subscription.'));
    for (const [i, [, { query }]] of subscriptions.entries()) ws.subscribe(String(i), query);
    await sleep(500);
    const wrong: string[] = [];
    subscriptions.forEach(([coordinate, { roles }], i) => {
      const answers = ws.messages.filter((m) => m.id === String(i));
      const forbidden = answers.some((m) => (m.type === 'error' ? m.payload : (m.payload?.errors ?? [])).some((e: any) => e.extensions?.code === 'FORBIDDEN'));
      if (forbidden === roles.includes(role)) wrong.push(`${coordinate}: ${forbidden ? 'refused' : 'allowed'} ${JSON.stringify(answers)}`);
    });
    ws.socket.close();
    expect(wrong).toEqual([]);
  });

  it('lets a refused mutation change nothing, checking the role before the arguments', async () => {
    const count = async () => ok(await gqlWith(app.url, TEST_ADMIN_KEY, '{ rules { totalCount } }')).rules.totalCount;
    const before = await count();
    const refused = await gqlWith(
      app.url,
      keys.VIEWER,
      'mutation ($spec: JSON!) { createRule(input: { name: "refused", triggerSpec: $spec, actionSpec: { endpoint: "http://127.0.0.1:9/" } }) { id } }',
      // Nested deeper than any input may be: refused as BAD_USER_INPUT were the role allowed.
      { spec: JSON.parse(`${'['.repeat(80)}${']'.repeat(80)}`) },
    );
    expect(isForbidden(refused, 'createRule')).toBe(true);
    expect(refused.errors).toHaveLength(1);
    expect(await count()).toBe(before);
  });

  it('lets a PUBLISHER read of publishEvent only eventId, matched and the ids and status of executions', async () => {
    const rule = ok(
      await gqlWith(app.url, TEST_ADMIN_KEY, 'mutation ($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
        input: {
          name: unique('publisher reads'),
          triggerSpec: { conditions: [{ field: 'publisherReads', op: '==', value: true }] },
          actionSpec: { type: 'trigger_rule', rule_id: NO_ID },
        },
      }),
    ).createRule;
    const allowed = ok(
      await gqlWith(app.url, keys.PUBLISHER, 'mutation { publishEvent(event: { publisherReads: true }) { eventId matched executions { id ruleId status } } }'),
    ).publishEvent;
    // The matrix's own rules (empty conditions) match every event too.
    expect(allowed.matched).toBeGreaterThanOrEqual(1);
    expect(allowed.executions.map((e: { ruleId: string }) => e.ruleId)).toContain(rule.id);
    const more = await gqlWith(app.url, keys.PUBLISHER, 'mutation { publishEvent(event: { publisherReads: true }) { eventId executions { id payload } } }');
    expect(more.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(more.errors?.[0]?.path).toEqual(['publishEvent', 'executions', 0, 'payload']);
    const batch = ok(
      await gqlWith(app.url, keys.PUBLISHER, 'mutation { publishEvents(events: [{ publisherReads: true }]) { accepted matched refused { index reason } } }'),
    ).publishEvents;
    expect(batch).toMatchObject({ accepted: 1, refused: [] });
    expect(batch.matched).toBe(allowed.matched);
  });
});

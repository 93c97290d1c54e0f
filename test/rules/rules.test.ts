import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, ok, refusal as refusalWithCode, startFreshApp, unique, type GraphQLResponse, type TestApp } from '../support/harness.js';
import { sleep } from '../support/wait.js';

/**
 * Rule CRUD, lists and spec validation over real HTTP against a real database (SPEC.md "Ids,
 * names, lists", "Trigger specs", "Action specs", "Error codes").
 */

type FreshApp = Awaited<ReturnType<typeof startFreshApp>>;

const RULE_FIELDS = 'id name description triggerType triggerSpec actionSpec actionType active createdBy createdAt updatedAt';

const CREATE = `mutation($input: CreateRuleInput!) { createRule(input: $input) { ${RULE_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { ${RULE_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteRule(id: $id) }`;
const GET = `query($id: ID!) { rule(id: $id) { ${RULE_FIELDS} } }`;
const LIST = `query($filter: RuleFilter, $first: Int, $after: String) {
  rules(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name createdAt active triggerType } }
  }
}`;

const WEBHOOK = { endpoint: 'https://example.com/hook' };
const WEBHOOK_NORMALISED = { type: 'webhook', endpoint: 'https://example.com/hook', method: 'GET', params: {}, headers: {}, timeoutMs: 5000 };
const CPU_HIGH = { field: 'cpu', op: '>', value: 80 };

interface RuleData {
  id: string;
  name: string;
  description: string | null;
  triggerType: string;
  triggerSpec: any;
  actionSpec: any;
  actionType: string;
  active: boolean;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

interface ListData {
  rules: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    edges: { cursor: string; node: { id: string; name: string; createdAt: string; active: boolean; triggerType: string } }[];
  };
}

/** A refusal whose errors show no stack trace nor SQL. */
function refusal(response: GraphQLResponse, code: string) {
  const error = refusalWithCode(response, code);
  expect(JSON.stringify(response.errors)).not.toMatch(/\n\s+at |stack|SELECT|INSERT|UPDATE "|insert into|select /i);
  return error;
}

async function createRule(t: TestApp, input: Record<string, unknown>): Promise<RuleData> {
  return ok<{ createRule: RuleData }>(await t.gql(CREATE, { input: { triggerSpec: CPU_HIGH, actionSpec: WEBHOOK, ...input } })).createRule;
}

async function getRule(t: TestApp, id: string): Promise<RuleData | null> {
  return ok<{ rule: RuleData | null }>(await t.gql(GET, { id })).rule;
}

async function list(t: TestApp, variables: Record<string, unknown> = {}) {
  return ok<ListData>(await t.gql(LIST, variables)).rules;
}

/** Newest first: createdAt desc, then id desc. */
function newestFirst(rows: { id: string; createdAt: string }[]) {
  return [...rows].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
}

function cursorOf(iso: string, id: string) {
  return Buffer.from(`${iso}|${id}`, 'utf8').toString('base64url');
}

describe.each(backends())('rules: CRUD over HTTP (%s)', (backend) => {
  let t: FreshApp;
  beforeAll(async () => {
    t = await startFreshApp(backend);
  });
  afterAll(() => t?.stop());

  it('creates a rule and reads back every field, specs normalised', async () => {
    const before = Date.now();
    const created = await createRule(t, {
      name: 'High CPU',
      description: 'cpu over 80 or a host flag',
      triggerType: 'EVENT',
      triggerSpec: {
        logic: 'or',
        conditions: [
          { field: 'cpu', op: '=', value: 80 },
          { field: 'host.flag', op: 'EXISTS' },
          { logic: 'not', conditions: [{ field: 'env', op: 'in', value: ['dev', 'test'] }] },
        ],
        throttle: { cooldownSeconds: 60, key: ['host'] },
        concurrency: { mode: 'QUEUE' },
      },
      actionSpec: {
        type: 'WEBHOOK',
        endpoint: 'https://example.com/hook/{{ payload.host }}',
        method: 'post',
        body: { msg: 'cpu is {{payload.cpu}}' },
        timeoutMs: null,
      },
      createdBy: 'tester',
    });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(created).toMatchObject({
      name: 'High CPU',
      description: 'cpu over 80 or a host flag',
      triggerType: 'EVENT',
      actionType: 'WEBHOOK',
      active: true,
      createdBy: 'tester',
    });
    expect(created.triggerSpec).toEqual({
      logic: 'OR',
      conditions: [
        { field: 'cpu', op: '==', value: 80 },
        { field: 'host.flag', op: 'exists' },
        { logic: 'NOT', conditions: [{ field: 'env', op: 'in', value: ['dev', 'test'] }] },
      ],
      throttle: { cooldownSeconds: 60, key: ['host'] },
      concurrency: { mode: 'queue', maxQueued: 100 },
    });
    expect(created.actionSpec).toEqual({
      type: 'webhook',
      endpoint: 'https://example.com/hook/{{ payload.host }}',
      method: 'POST',
      params: {},
      body: { msg: 'cpu is {{payload.cpu}}' },
      headers: {},
      timeoutMs: 5000,
    });
    expect(created.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(created.updatedAt).toBe(created.createdAt);
    expect(Date.parse(created.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(created.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);

    // Read back from the database: exactly what create answered.
    expect(await getRule(t, created.id)).toEqual(created);
    const listed = await list(t, { first: 100 });
    expect(listed.edges.map((e) => e.node.id)).toContain(created.id);
  });

  it('fills in defaults: EVENT, active, webhook without type, createdBy null', async () => {
    const created = await createRule(t, { name: unique('defaults'), triggerSpec: { field: 'status', op: 'exists', value: null }, actionSpec: WEBHOOK });
    expect(created).toMatchObject({ triggerType: 'EVENT', active: true, actionType: 'WEBHOOK', description: null, createdBy: null });
    expect(created.triggerSpec).toEqual({ field: 'status', op: 'exists' });
    expect(created.actionSpec).toEqual(WEBHOOK_NORMALISED);
    expect(await getRule(t, created.id)).toEqual(created);
  });

  it('stores every action type, with forward references to rules and APIs that do not exist yet', async () => {
    const missing = randomUUID();
    const apiScript = await createRule(t, {
      name: unique('api script'),
      actionSpec: { type: 'Api_Script', api_id: missing, input: { cpu: '{{ payload.cpu }}', rule: '{{rule.name}}' } },
    });
    expect(apiScript.actionType).toBe('API_SCRIPT');
    expect(apiScript.actionSpec).toEqual({ type: 'api_script', api_id: missing, params: {}, input: { cpu: '{{ payload.cpu }}', rule: '{{rule.name}}' } });

    const chained = await createRule(t, {
      name: unique('chain'),
      actionSpec: { type: 'TRIGGER_RULE', rule_id: missing, payload: { from: '{{ execution.id }}', cascade: '{{cascade.id}}' } },
    });
    expect(chained.actionType).toBe('TRIGGER_RULE');
    expect(chained.actionSpec).toEqual({ type: 'trigger_rule', rule_id: missing, payload: { from: '{{ execution.id }}', cascade: '{{cascade.id}}' } });
    // A loop onto itself can be saved too.
    const self = ok(await t.gql(UPDATE, { id: chained.id, input: { actionSpec: { type: 'trigger_rule', rule_id: chained.id } } })).updateRule as RuleData;
    expect(self.actionSpec).toEqual({ type: 'trigger_rule', rule_id: chained.id });
    expect((await getRule(t, chained.id))!.actionSpec).toEqual({ type: 'trigger_rule', rule_id: chained.id });
  });

  it('stores SCHEDULE and METRIC specs normalised', async () => {
    const cron = await createRule(t, { name: unique('cron'), triggerType: 'SCHEDULE', triggerSpec: { cron: '*/5 * * * *', payload: { k: 1 } } });
    expect(cron.triggerType).toBe('SCHEDULE');
    expect(cron.triggerSpec).toEqual({ cron: '*/5 * * * *', timezone: 'UTC', payload: { k: 1 } });
    const interval = await createRule(t, { name: unique('interval'), triggerType: 'SCHEDULE', triggerSpec: {} });
    expect(interval.triggerSpec).toEqual({ intervalSeconds: 300 });
    const metric = await createRule(t, {
      name: unique('metric'),
      triggerType: 'METRIC',
      triggerSpec: { endpoint: 'https://metrics.example.com/cpu', valuePath: 'data.cpu', op: '=', threshold: 80 },
    });
    expect(metric.triggerType).toBe('METRIC');
    expect(metric.triggerSpec).toEqual({
      endpoint: 'https://metrics.example.com/cpu',
      method: 'GET',
      headers: {},
      params: {},
      valuePath: 'data.cpu',
      op: '==',
      threshold: 80,
      pollIntervalSeconds: 60,
    });
    for (const rule of [cron, interval, metric]) expect(await getRule(t, rule.id)).toEqual(rule);
  });

  it('stores the stream forms (window, sequence, absence)', async () => {
    const window = await createRule(t, {
      name: unique('window'),
      triggerSpec: {
        filter: { field: 'type', op: '==', value: 'request' },
        window: { type: 'SLIDING', sizeSeconds: 60 },
        aggregate: { fn: 'percentile', field: 'latency_ms', percentile: 95 },
        groupBy: ['host'],
        op: '>',
        value: 100,
        timeField: 'ts',
      },
    });
    expect(window.triggerSpec).toEqual({
      filter: { field: 'type', op: '==', value: 'request' },
      window: { type: 'sliding', sizeSeconds: 60 },
      aggregate: { fn: 'percentile', field: 'latency_ms', percentile: 95 },
      groupBy: ['host'],
      op: '>',
      value: 100,
      timeField: 'ts',
      allowedLatenessSeconds: 0,
    });
    const sequence = await createRule(t, {
      name: unique('sequence'),
      triggerSpec: {
        sequence: [
          { field: 'step', op: '==', value: 'a' },
          { field: 'step', op: '==', value: 'b' },
        ],
        within: 60,
        by: ['user'],
      },
    });
    expect(sequence.triggerSpec).toEqual({
      sequence: [
        { field: 'step', op: '==', value: 'a' },
        { field: 'step', op: '==', value: 'b' },
      ],
      within: 60,
      by: ['user'],
    });
    const absence = await createRule(t, {
      name: unique('absence'),
      triggerSpec: {
        absence: { after: { field: 'kind', op: '==', value: 'order' }, expect: { field: 'kind', op: '==', value: 'paid' }, within: 30, by: ['order_id'] },
      },
    });
    expect(absence.triggerSpec).toEqual({
      absence: { after: { field: 'kind', op: '==', value: 'order' }, expect: { field: 'kind', op: '==', value: 'paid' }, within: 30, by: ['order_id'] },
    });
    for (const rule of [window, sequence, absence]) expect(await getRule(t, rule.id)).toEqual(rule);
  });

  it('updates: fields given replace the stored ones, the rest stays, updatedAt moves', async () => {
    const created = await createRule(t, { name: unique('to update'), description: 'before', createdBy: 'someone' });
    await sleep(5);
    const updated = ok<{ updateRule: RuleData }>(
      await t.gql(UPDATE, { id: created.id, input: { description: 'after', active: false, triggerSpec: { field: 'mem', op: 'between', value: [10, 20] } } }),
    ).updateRule;
    expect(updated).toMatchObject({
      id: created.id,
      name: created.name,
      description: 'after',
      active: false,
      triggerType: 'EVENT',
      actionSpec: created.actionSpec,
      actionType: 'WEBHOOK',
      createdBy: 'someone',
      createdAt: created.createdAt,
    });
    expect(updated.triggerSpec).toEqual({ field: 'mem', op: 'between', value: [10, 20] });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    expect(await getRule(t, created.id)).toEqual(updated);

    // An empty update changes nothing but updatedAt.
    const again = ok<{ updateRule: RuleData }>(await t.gql(UPDATE, { id: created.id, input: {} })).updateRule;
    expect({ ...again, updatedAt: null }).toEqual({ ...updated, updatedAt: null });
    expect(Date.parse(again.updatedAt)).toBeGreaterThan(Date.parse(updated.updatedAt));

    // actionSpec replaced whole: keys of the old one do not survive, actionType follows.
    const action = ok<{ updateRule: RuleData }>(
      await t.gql(UPDATE, { id: created.id, input: { actionSpec: { type: 'trigger_rule', rule_id: created.id }, active: true } }),
    ).updateRule;
    expect(action.actionSpec).toEqual({ type: 'trigger_rule', rule_id: created.id });
    expect(action.actionType).toBe('TRIGGER_RULE');
    expect(action.active).toBe(true);
    expect(await getRule(t, created.id)).toEqual(action);

    // Renaming to another free name works; renaming to its own name is not a duplicate.
    const renamed = ok<{ updateRule: RuleData }>(await t.gql(UPDATE, { id: created.id, input: { name: `${created.name} renamed` } })).updateRule;
    expect(renamed.name).toBe(`${created.name} renamed`);
    const same = ok<{ updateRule: RuleData }>(await t.gql(UPDATE, { id: created.id, input: { name: `${created.name} renamed` } })).updateRule;
    expect(same.name).toBe(`${created.name} renamed`);
  });

  it('update validates the merged rule: a new triggerType needs a spec that fits it', async () => {
    const created = await createRule(t, { name: unique('merged') });
    const refused = refusal(await t.gql(UPDATE, { id: created.id, input: { triggerType: 'SCHEDULE' } }), 'BAD_USER_INPUT');
    expect(refused.extensions?.specPath).toMatch(/^triggerSpec/);
    expect(refused.message.startsWith(refused.extensions?.specPath)).toBe(true);
    // Nothing was written.
    expect(await getRule(t, created.id)).toEqual(created);

    const metric = refusal(await t.gql(UPDATE, { id: created.id, input: { triggerType: 'METRIC' } }), 'BAD_USER_INPUT');
    expect(metric.extensions?.specPath).toMatch(/^triggerSpec/);

    // A SCHEDULE spec on an EVENT rule is refused the other way round.
    const wrongSpec = refusal(await t.gql(UPDATE, { id: created.id, input: { triggerSpec: { cron: '* * * * *' } } }), 'BAD_USER_INPUT');
    expect(wrongSpec.extensions?.specPath).toBe('triggerSpec.cron');
    expect(await getRule(t, created.id)).toEqual(created);

    // Both together are fine.
    const schedule = ok<{ updateRule: RuleData }>(
      await t.gql(UPDATE, { id: created.id, input: { triggerType: 'SCHEDULE', triggerSpec: { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' } } }),
    ).updateRule;
    expect(schedule.triggerType).toBe('SCHEDULE');
    expect(schedule.triggerSpec).toEqual({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris' });
    expect(await getRule(t, created.id)).toEqual(schedule);

    // A bad spec in an update names its path and changes nothing.
    const bad = refusal(
      await t.gql(UPDATE, { id: created.id, input: { triggerType: 'EVENT', triggerSpec: { conditions: [CPU_HIGH, { field: 'x', op: 'like', value: 1 }] } } }),
      'BAD_USER_INPUT',
    );
    expect(bad.extensions?.specPath).toBe('triggerSpec.conditions[1].op');
    const badAction = refusal(await t.gql(UPDATE, { id: created.id, input: { actionSpec: { type: 'sms' } } }), 'BAD_USER_INPUT');
    expect(badAction.extensions?.specPath).toBe('actionSpec.type');
    expect(badAction.message).toContain('Unsupported action type: sms');
    expect(await getRule(t, created.id)).toEqual(schedule);
  });

  it('deletes: answers the id, then the rule is gone from get and list; a second delete is NOT_FOUND', async () => {
    const created = await createRule(t, { name: unique('to delete') });
    expect(ok<{ deleteRule: string }>(await t.gql(DELETE, { id: created.id })).deleteRule).toBe(created.id);
    expect(await getRule(t, created.id)).toBeNull();
    const listed = await list(t, { first: 100 });
    expect(listed.edges.map((e) => e.node.id)).not.toContain(created.id);
    const again = refusal(await t.gql(DELETE, { id: created.id }), 'NOT_FOUND');
    expect(again.path).toEqual(['deleteRule']);
    refusal(await t.gql(UPDATE, { id: created.id, input: { description: 'x' } }), 'NOT_FOUND');
    // Its name is free again.
    const reused = await createRule(t, { name: created.name });
    expect(reused.id).not.toBe(created.id);
  });

  describe('duplicate names', () => {
    it('refuses a second rule of the same name with BAD_USER_INPUT naming input.name', async () => {
      const name = unique('Dup');
      await createRule(t, { name });
      const error = refusal(await t.gql(CREATE, { input: { name, triggerSpec: CPU_HIGH, actionSpec: WEBHOOK } }), 'BAD_USER_INPUT');
      expect(error.message).toContain('input.name');
      expect(error.message).toContain(name);
      expect((await list(t, { filter: { search: name } })).totalCount).toBe(1);
    });

    it('names are case-sensitive', async () => {
      const name = unique('CaseName');
      await createRule(t, { name });
      const other = await createRule(t, { name: name.toLowerCase() });
      expect(other.name).toBe(name.toLowerCase());
    });

    it('refuses a rename onto another rule name', async () => {
      const a = await createRule(t, { name: unique('rename a') });
      const b = await createRule(t, { name: unique('rename b') });
      const error = refusal(await t.gql(UPDATE, { id: b.id, input: { name: a.name, description: 'changed' } }), 'BAD_USER_INPUT');
      expect(error.message).toContain('input.name');
      expect(await getRule(t, b.id)).toEqual(b);
    });

    it('concurrent creates of one name: exactly one wins, the others are BAD_USER_INPUT', async () => {
      const name = unique('race');
      const responses = await Promise.all(Array.from({ length: 6 }, () => t.gql(CREATE, { input: { name, triggerSpec: CPU_HIGH, actionSpec: WEBHOOK } })));
      const won = responses.filter((r) => !r.errors);
      expect(won).toHaveLength(1);
      for (const r of responses.filter((x) => x.errors)) expect(refusal(r, 'BAD_USER_INPUT').message).toContain('input.name');
      expect((await list(t, { filter: { search: name } })).totalCount).toBe(1);
    });

    it('refuses an empty or padded name', async () => {
      for (const name of ['', '   ', ' padded ']) {
        const error = refusal(await t.gql(CREATE, { input: { name, triggerSpec: CPU_HIGH, actionSpec: WEBHOOK } }), 'BAD_USER_INPUT');
        expect(error.message).toContain('input.name');
      }
    });
  });

  describe('unknown and malformed ids', () => {
    const ids = [randomUUID(), 'not-a-uuid', '', '12345', "' or 1=1 --", '00000000-0000-0000-0000-00000000000g', `${randomUUID()}x`];

    it.each(ids)('rule(id: %j) answers null without errors', async (id) => {
      const response = await t.gql(GET, { id });
      expect(response.errors).toBeUndefined();
      expect(response.data).toEqual({ rule: null });
    });

    it.each(ids)('updateRule(id: %j) is NOT_FOUND', async (id) => {
      const response = await t.gql(UPDATE, { id, input: { description: 'x' } });
      refusal(response, 'NOT_FOUND');
      expect(response.data).toBeNull();
    });

    it.each(ids)('deleteRule(id: %j) is NOT_FOUND', async (id) => {
      const response = await t.gql(DELETE, { id });
      refusal(response, 'NOT_FOUND');
      expect(response.data).toBeNull();
    });

    it('an integer id literal is coerced to a string and not found', async () => {
      const response = await t.gql('{ rule(id: 42) { id } }');
      expect(response.errors).toBeUndefined();
      expect(response.data).toEqual({ rule: null });
    });
  });

  specRefusals(() => t);
});

describe.each(backends())('rules: lists and pagination (%s)', (backend) => {
  let t: FreshApp;
  /** Every rule of this app, in creation order. */
  const created: RuleData[] = [];

  beforeAll(async () => {
    t = await startFreshApp(backend);
    const names = ['Disk 100% full', 'disk_usage', 'diskXusage', 'DISK back\\slash', 'Memory pressure', 'memory leak', 'nightly report', 'hourly report'];
    for (let i = 0; i < 25; i++) {
      const name = names[i] ?? `filler ${String(i).padStart(2, '0')}`;
      const schedule = name.endsWith('report');
      created.push(
        await createRule(t, {
          name,
          active: i % 3 !== 0,
          triggerType: schedule ? 'SCHEDULE' : 'EVENT',
          triggerSpec: schedule ? { intervalSeconds: 3600 } : CPU_HIGH,
        }),
      );
      // Distinct timestamps for most rows, so "newest first" is visible; a few share a millisecond.
      if (i % 5 !== 0) await sleep(3);
    }
  });
  afterAll(() => t?.stop());

  it('lists newest first (createdAt desc, id desc) with totalCount', async () => {
    const all = await list(t, { first: 100 });
    expect(all.totalCount).toBe(25);
    expect(all.edges.map((e) => e.node.id)).toEqual(newestFirst(created).map((r) => r.id));
    // The newest rule created is first.
    expect(all.edges[0]!.node.id).toBe(newestFirst(created)[0]!.id);
    expect(all.edges.at(-1)!.node.id).toBe(created[0]!.id);
    expect(all.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: all.edges[0]!.cursor,
      endCursor: all.edges.at(-1)!.cursor,
    });
  });

  it('first defaults to 20', async () => {
    const page = await list(t);
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.totalCount).toBe(25);
  });

  it('walks the pages: first page, middle, last page with hasNextPage false, then past the end', async () => {
    const expected = newestFirst(created).map((r) => r.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: ListData['rules'] = await list(t, { first: 7, after });
      pages++;
      expect(page.totalCount).toBe(25);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) {
        expect(page.edges).toHaveLength(25 - 7 * 3);
        after = page.pageInfo.endCursor;
        break;
      }
      expect(page.edges).toHaveLength(7);
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(expected);

    // After the last row: no edges, no next page, no cursors.
    const past = await list(t, { first: 7, after });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
    expect(past.totalCount).toBe(25);
  });

  it('a page that ends exactly at the last row says hasNextPage false', async () => {
    const page = await list(t, { first: 25 });
    expect(page.edges).toHaveLength(25);
    expect(page.pageInfo.hasNextPage).toBe(false);
    const short = await list(t, { first: 24 });
    expect(short.pageInfo.hasNextPage).toBe(true);
  });

  it('a well-formed cursor before every row gives an empty page', async () => {
    const past = await list(t, { first: 5, after: cursorOf('2000-01-01T00:00:00.000Z', '00000000-0000-0000-0000-000000000000') });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
    expect(past.totalCount).toBe(25);
    // And one after every row gives everything.
    const future = await list(t, { first: 100, after: cursorOf('2999-01-01T00:00:00.000Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff') });
    expect(future.edges).toHaveLength(25);
  });

  it('a cursor stays valid when its row is deleted (keyset)', async () => {
    const first = await list(t, { first: 3 });
    const extra = await createRule(t, { name: unique('temp') });
    // The new rule is newest, so it is not after any old cursor.
    const all = await list(t, { first: 100 });
    expect(all.edges[0]!.node.id).toBe(extra.id);
    const cursorRow = first.edges[2]!.node.id;
    const next = await list(t, { first: 3, after: first.pageInfo.endCursor });
    ok(await t.gql(DELETE, { id: cursorRow }));
    const afterDelete = await list(t, { first: 3, after: first.pageInfo.endCursor });
    expect(afterDelete.edges.map((e) => e.node.id)).toEqual(next.edges.map((e) => e.node.id));
    // Put things back as they were for the other tests: one extra deleted, the deleted one recreated.
    ok(await t.gql(DELETE, { id: extra.id }));
    const index = created.findIndex((r) => r.id === cursorRow);
    const gone = created[index]!;
    created.splice(index, 1);
    created.push(await createRule(t, { name: gone.name, active: gone.active, triggerType: gone.triggerType, triggerSpec: gone.triggerSpec }));
  });

  it('first: 0 gives no edges and hasNextPage = totalCount > 0', async () => {
    const zero = await list(t, { first: 0 });
    expect(zero.edges).toEqual([]);
    expect(zero.totalCount).toBe(25);
    expect(zero.pageInfo.hasNextPage).toBe(true);
    expect(zero.pageInfo.startCursor).toBeNull();
    expect(zero.pageInfo.endCursor).toBeNull();
    const none = await list(t, { first: 0, filter: { search: 'no rule is called this' } });
    expect(none.edges).toEqual([]);
    expect(none.totalCount).toBe(0);
    expect(none.pageInfo.hasNextPage).toBe(false);
  });

  it('first: 100 is accepted, first: 101 and first: -1 are BAD_USER_INPUT', async () => {
    expect((await list(t, { first: 100 })).edges).toHaveLength(25);
    for (const first of [101, -1, 1000, -100]) {
      const response = await t.gql(LIST, { first });
      refusal(response, 'BAD_USER_INPUT');
      expect(response.data).toBeNull();
    }
    refusal(await t.gql('{ rules(first: 101) { totalCount } }'), 'BAD_USER_INPUT');
  });

  it('a cursor that does not decode is BAD_USER_INPUT', async () => {
    const garbage = [
      'garbage',
      'not a cursor!',
      '%%%',
      '',
      Buffer.from('hello').toString('base64url'),
      Buffer.from('not-a-date|00000000-0000-0000-0000-000000000000').toString('base64url'),
      Buffer.from('2024-01-01T00:00:00.000Z|not-a-uuid').toString('base64url'),
      Buffer.from('2024-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000|extra').toString('base64url'),
      'x'.repeat(5000),
    ];
    for (const after of garbage) {
      const response = await t.gql(LIST, { first: 5, after });
      refusal(response, 'BAD_USER_INPUT');
      expect(response.data).toBeNull();
    }
  });

  it('filters by active and triggerType, with totalCount of the filtered list', async () => {
    const inactive = await list(t, { first: 100, filter: { active: false } });
    const expectedInactive = newestFirst(created.filter((r) => !r.active)).map((r) => r.id);
    expect(inactive.edges.map((e) => e.node.id)).toEqual(expectedInactive);
    expect(inactive.totalCount).toBe(expectedInactive.length);
    expect(inactive.edges.every((e) => !e.node.active)).toBe(true);

    const active = await list(t, { first: 100, filter: { active: true } });
    expect(active.totalCount).toBe(25 - expectedInactive.length);

    const schedule = await list(t, { first: 100, filter: { triggerType: 'SCHEDULE' } });
    expect(schedule.edges.map((e) => e.node.name).sort()).toEqual(['hourly report', 'nightly report']);
    expect(schedule.totalCount).toBe(2);
    expect((await list(t, { filter: { triggerType: 'METRIC' } })).totalCount).toBe(0);

    const both = await list(t, { first: 100, filter: { triggerType: 'EVENT', active: true } });
    expect(both.totalCount).toBe(created.filter((r) => r.triggerType === 'EVENT' && r.active).length);

    // Null filter fields mean no filter.
    expect((await list(t, { filter: { active: null, triggerType: null, search: null } })).totalCount).toBe(25);
  });

  it('search is a case-insensitive substring of the name; % _ and \\ are literal', async () => {
    const names = async (search: string) => (await list(t, { first: 100, filter: { search } })).edges.map((e) => e.node.name).sort();
    expect(await names('disk')).toEqual(['DISK back\\slash', 'Disk 100% full', 'diskXusage', 'disk_usage'].sort());
    expect(await names('MEMORY')).toEqual(['Memory pressure', 'memory leak'].sort());
    expect(await names('%')).toEqual(['Disk 100% full']);
    expect(await names('100%')).toEqual(['Disk 100% full']);
    expect(await names('_')).toEqual(['disk_usage']);
    expect(await names('k_u')).toEqual(['disk_usage']);
    expect(await names('\\')).toEqual(['DISK back\\slash']);
    expect(await names('%full')).toEqual([]);
    expect(await names('report')).toEqual(['hourly report', 'nightly report']);
    expect(await names("'; drop table rules; --")).toEqual([]);
    expect((await list(t)).totalCount).toBe(25);
  });

  it('pages through a filtered list', async () => {
    const filter = { search: 'FILLER' };
    const expected = newestFirst(created.filter((r) => r.name.startsWith('filler'))).map((r) => r.id);
    expect(expected.length).toBe(17);
    const first = await list(t, { first: 10, filter });
    expect(first.totalCount).toBe(17);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await list(t, { first: 10, filter, after: first.pageInfo.endCursor });
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect([...first.edges, ...second.edges].map((e) => e.node.id)).toEqual(expected);
  });
});

/** [name of the case, triggerType, triggerSpec, actionSpec, specPath, text the message holds] */
type SpecCase = [string, string, unknown, unknown, string, string?];

const SPEC_CASES: SpecCase[] = [
  // EVENT conditions
  ['unknown key on a leaf', 'EVENT', { field: 'cpu', op: '>', value: 1, extra: true }, WEBHOOK, 'triggerSpec.extra', 'unknown key'],
  [
    'unknown key in a nested leaf',
    'EVENT',
    { conditions: [{ field: 'a', op: '>', value: 1, bogus: 1 }] },
    WEBHOOK,
    'triggerSpec.conditions[0].bogus',
    'unknown key',
  ],
  ['unknown key on a group', 'EVENT', { conditions: [], logic: 'AND', mode: 'x' }, WEBHOOK, 'triggerSpec.mode', 'unknown key'],
  ['bad operator', 'EVENT', { conditions: [CPU_HIGH, { field: 'b', op: '~~', value: 1 }] }, WEBHOOK, 'triggerSpec.conditions[1].op', 'operator'],
  ['operator that is not a string', 'EVENT', { field: 'b', op: 5, value: 1 }, WEBHOOK, 'triggerSpec.op'],
  ['missing op', 'EVENT', { field: 'b', value: 1 }, WEBHOOK, 'triggerSpec.op', 'required'],
  ['missing field', 'EVENT', { op: '>', value: 1 }, WEBHOOK, 'triggerSpec.field', 'required'],
  ['empty path segment in field', 'EVENT', { field: 'a..b', op: 'exists' }, WEBHOOK, 'triggerSpec.field'],
  ['missing value', 'EVENT', { field: 'cpu', op: '>' }, WEBHOOK, 'triggerSpec.value', 'required'],
  ['in without a list', 'EVENT', { field: 'env', op: 'in', value: 'prod' }, WEBHOOK, 'triggerSpec.value', 'list'],
  ['between backwards', 'EVENT', { field: 'x', op: 'between', value: [5, 1] }, WEBHOOK, 'triggerSpec.value'],
  ['between of one bound', 'EVENT', { field: 'x', op: 'between', value: [5] }, WEBHOOK, 'triggerSpec.value'],
  ['exists with a value', 'EVENT', { field: 'x', op: 'exists', value: 1 }, WEBHOOK, 'triggerSpec.value'],
  ['ordering against an object', 'EVENT', { field: 'x', op: '>', value: { a: 1 } }, WEBHOOK, 'triggerSpec.value'],
  [
    'bad operator in a nested group',
    'EVENT',
    {
      conditions: [
        { field: 'a', op: 'exists' },
        { logic: 'or', conditions: [{ field: 'b', op: 'nope', value: 1 }] },
      ],
    },
    WEBHOOK,
    'triggerSpec.conditions[1].conditions[0].op',
  ],
  [
    'missing value deep down',
    'EVENT',
    { conditions: [CPU_HIGH, { conditions: [CPU_HIGH, { conditions: [{ field: 'z', op: 'starts_with' }] }] }] },
    WEBHOOK,
    'triggerSpec.conditions[1].conditions[1].conditions[0].value',
  ],
  ['bad logic', 'EVENT', { conditions: [], logic: 'XOR' }, WEBHOOK, 'triggerSpec.logic'],
  ['conditions not a list', 'EVENT', { conditions: { field: 'a' } }, WEBHOOK, 'triggerSpec.conditions'],
  ['leaf and group at once', 'EVENT', { field: 'a', op: 'exists', conditions: [] }, WEBHOOK, 'triggerSpec'],
  ['a condition that is not an object', 'EVENT', { conditions: [CPU_HIGH, 'cpu > 80'] }, WEBHOOK, 'triggerSpec.conditions[1]'],
  ['triggerSpec not an object', 'EVENT', 'cpu > 80', WEBHOOK, 'triggerSpec'],
  ['triggerSpec a list', 'EVENT', [CPU_HIGH], WEBHOOK, 'triggerSpec'],
  ['empty triggerSpec', 'EVENT', {}, WEBHOOK, 'triggerSpec'],
  ['bad regex', 'EVENT', { field: 'msg', op: 'matches', value: '(unclosed' }, WEBHOOK, 'triggerSpec.value', 'regular expression'],
  ['regex with a backreference', 'EVENT', { field: 'msg', op: 'matches', value: '(\\w)\\1' }, WEBHOOK, 'triggerSpec.value', 'backreferences'],
  ['regex too long', 'EVENT', { field: 'msg', op: 'matches', value: 'a'.repeat(257) }, WEBHOOK, 'triggerSpec.value', '256'],
  ['regex not a string', 'EVENT', { conditions: [{ field: 'msg', op: 'matches', value: 5 }] }, WEBHOOK, 'triggerSpec.conditions[0].value'],
  // throttle and concurrency
  ['throttle cooldown 0', 'EVENT', { ...CPU_HIGH, throttle: { cooldownSeconds: 0 } }, WEBHOOK, 'triggerSpec.throttle.cooldownSeconds'],
  ['throttle unknown key', 'EVENT', { ...CPU_HIGH, throttle: { cooldownSeconds: 5, per: 'host' } }, WEBHOOK, 'triggerSpec.throttle.per'],
  ['concurrency mode', 'EVENT', { ...CPU_HIGH, concurrency: { mode: 'drop' } }, WEBHOOK, 'triggerSpec.concurrency.mode'],
  ['concurrency maxQueued 0', 'SCHEDULE', { intervalSeconds: 60, concurrency: { mode: 'queue', maxQueued: 0 } }, WEBHOOK, 'triggerSpec.concurrency.maxQueued'],
  // SCHEDULE
  ['cron in words', 'SCHEDULE', { cron: 'every minute' }, WEBHOOK, 'triggerSpec.cron', 'cron'],
  ['cron out of range', 'SCHEDULE', { cron: '61 * * * *' }, WEBHOOK, 'triggerSpec.cron'],
  ['cron of four fields', 'SCHEDULE', { cron: '* * * *' }, WEBHOOK, 'triggerSpec.cron'],
  ['cron of seven fields', 'SCHEDULE', { cron: '* * * * * * *' }, WEBHOOK, 'triggerSpec.cron'],
  ['unknown timezone', 'SCHEDULE', { cron: '* * * * *', timezone: 'Mars/Olympus' }, WEBHOOK, 'triggerSpec.timezone'],
  ['intervalSeconds 0', 'SCHEDULE', { intervalSeconds: 0 }, WEBHOOK, 'triggerSpec.intervalSeconds'],
  ['intervalSeconds fractional', 'SCHEDULE', { intervalSeconds: 1.5 }, WEBHOOK, 'triggerSpec.intervalSeconds'],
  ['cron and interval', 'SCHEDULE', { cron: '* * * * *', intervalSeconds: 60 }, WEBHOOK, 'triggerSpec'],
  ['schedule unknown key', 'SCHEDULE', { every: '5m' }, WEBHOOK, 'triggerSpec.every', 'unknown key'],
  ['schedule payload not an object', 'SCHEDULE', { intervalSeconds: 60, payload: 'x' }, WEBHOOK, 'triggerSpec.payload'],
  // METRIC
  ['metric without endpoint', 'METRIC', { valuePath: 'cpu', op: '>', threshold: 1 }, WEBHOOK, 'triggerSpec.endpoint', 'required'],
  ['metric endpoint not http', 'METRIC', { endpoint: 'ftp://x.example.com', valuePath: 'cpu', op: '>', threshold: 1 }, WEBHOOK, 'triggerSpec.endpoint'],
  ['metric method', 'METRIC', { endpoint: 'https://m.example.com', method: 'PUT', valuePath: 'cpu', op: '>', threshold: 1 }, WEBHOOK, 'triggerSpec.method'],
  ['metric non-comparison op', 'METRIC', { endpoint: 'https://m.example.com', valuePath: 'cpu', op: 'contains', threshold: 1 }, WEBHOOK, 'triggerSpec.op'],
  ['metric threshold string', 'METRIC', { endpoint: 'https://m.example.com', valuePath: 'cpu', op: '>', threshold: 'high' }, WEBHOOK, 'triggerSpec.threshold'],
  ['metric without valuePath', 'METRIC', { endpoint: 'https://m.example.com', op: '>', threshold: 1 }, WEBHOOK, 'triggerSpec.valuePath'],
  [
    'metric poll interval 0',
    'METRIC',
    { endpoint: 'https://m.example.com', valuePath: 'cpu', op: '>', threshold: 1, pollIntervalSeconds: 0 },
    WEBHOOK,
    'triggerSpec.pollIntervalSeconds',
  ],
  ['metric unknown key', 'METRIC', { endpoint: 'https://m.example.com', valuePath: 'cpu', op: '>', threshold: 1, every: 5 }, WEBHOOK, 'triggerSpec.every'],
  [
    'metric header name',
    'METRIC',
    { endpoint: 'https://m.example.com', valuePath: 'cpu', op: '>', threshold: 1, headers: { 'bad header': 'x' } },
    WEBHOOK,
    'triggerSpec.headers["bad header"]',
  ],
  // Windows, sequences, absence
  [
    'tumbling window with gapSeconds',
    'EVENT',
    { window: { type: 'tumbling', gapSeconds: 30 }, aggregate: { fn: 'count' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.window.gapSeconds',
  ],
  [
    'session window with sizeSeconds',
    'EVENT',
    { window: { type: 'session', sizeSeconds: 30 }, aggregate: { fn: 'count' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.window.sizeSeconds',
  ],
  [
    'unknown window type',
    'EVENT',
    { window: { type: 'hopping', sizeSeconds: 30 }, aggregate: { fn: 'count' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.window.type',
  ],
  [
    'window size 0',
    'EVENT',
    { window: { type: 'sliding', sizeSeconds: 0 }, aggregate: { fn: 'count' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.window.sizeSeconds',
  ],
  ['window without window', 'EVENT', { aggregate: { fn: 'count' }, op: '>', value: 1 }, WEBHOOK, 'triggerSpec.window', 'required'],
  [
    'sum without field',
    'EVENT',
    { window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'sum' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.aggregate.field',
  ],
  [
    'unknown aggregate fn',
    'EVENT',
    { window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'median', field: 'x' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.aggregate.fn',
  ],
  [
    'percentile over 100',
    'EVENT',
    { window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'percentile', field: 'x', percentile: 120 }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.aggregate.percentile',
  ],
  [
    'window value not a number',
    'EVENT',
    { window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'count' }, op: '>', value: 'many' },
    WEBHOOK,
    'triggerSpec.value',
  ],
  [
    'window filter bad op',
    'EVENT',
    { filter: { field: 'a', op: '??' }, window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'count' }, op: '>', value: 1 },
    WEBHOOK,
    'triggerSpec.filter.op',
  ],
  [
    'window unknown key',
    'EVENT',
    { window: { type: 'tumbling', sizeSeconds: 60 }, aggregate: { fn: 'count' }, op: '>', value: 1, every: 1 },
    WEBHOOK,
    'triggerSpec.every',
  ],
  ['window and sequence at once', 'EVENT', { window: { type: 'tumbling', sizeSeconds: 60 }, sequence: [CPU_HIGH, CPU_HIGH] }, WEBHOOK, 'triggerSpec'],
  ['sequence of one step', 'EVENT', { sequence: [CPU_HIGH], within: 60 }, WEBHOOK, 'triggerSpec.sequence'],
  ['sequence bad step', 'EVENT', { sequence: [CPU_HIGH, { field: 'b', op: 'xx', value: 1 }], within: 60 }, WEBHOOK, 'triggerSpec.sequence[1].op'],
  ['sequence without within', 'EVENT', { sequence: [CPU_HIGH, CPU_HIGH] }, WEBHOOK, 'triggerSpec.within'],
  ['absence without expect', 'EVENT', { absence: { after: CPU_HIGH, within: 60 } }, WEBHOOK, 'triggerSpec.absence.expect'],
  ['absence unknown key', 'EVENT', { absence: { after: CPU_HIGH, expect: CPU_HIGH, within: 60, until: 5 } }, WEBHOOK, 'triggerSpec.absence.until'],
  ['absence within 0', 'EVENT', { absence: { after: CPU_HIGH, expect: CPU_HIGH, within: 0 } }, WEBHOOK, 'triggerSpec.absence.within'],
  // Action specs
  ['unsupported action type', 'EVENT', CPU_HIGH, { type: 'email', to: 'x@example.com' }, 'actionSpec.type', 'Unsupported action type: email'],
  ['action type not a string', 'EVENT', CPU_HIGH, { type: 5 }, 'actionSpec.type', 'Unsupported action type'],
  ['webhook unknown key', 'EVENT', CPU_HIGH, { endpoint: 'https://example.com', retries: 3 }, 'actionSpec.retries', 'unknown key'],
  ['webhook without endpoint', 'EVENT', CPU_HIGH, { type: 'webhook', method: 'POST' }, 'actionSpec.endpoint', 'required'],
  ['webhook endpoint not http', 'EVENT', CPU_HIGH, { endpoint: 'file:///etc/passwd' }, 'actionSpec.endpoint'],
  ['webhook endpoint not a URL', 'EVENT', CPU_HIGH, { endpoint: 'example.com/hook' }, 'actionSpec.endpoint'],
  ['webhook method', 'EVENT', CPU_HIGH, { endpoint: 'https://example.com', method: 'FETCH' }, 'actionSpec.method'],
  ['webhook timeout 0', 'EVENT', CPU_HIGH, { endpoint: 'https://example.com', timeoutMs: 0 }, 'actionSpec.timeoutMs'],
  [
    'webhook header value with a line break',
    'EVENT',
    CPU_HIGH,
    { endpoint: 'https://example.com', headers: { 'X-A': 'a\r\nX-B: b' } },
    'actionSpec.headers.X-A',
  ],
  ['webhook params not an object', 'EVENT', CPU_HIGH, { endpoint: 'https://example.com', params: [1] }, 'actionSpec.params'],
  [
    'bad template root',
    'EVENT',
    CPU_HIGH,
    { endpoint: 'https://example.com', method: 'POST', body: { msg: 'home is {{ env.HOME }}' } },
    'actionSpec.body.msg',
    'unknown template root',
  ],
  [
    'bad template root deep in a list',
    'EVENT',
    CPU_HIGH,
    { endpoint: 'https://example.com', method: 'POST', body: { list: [{ a: '{{payload.a}}' }, { b: '{{ process.env }}' }] } },
    'actionSpec.body.list[1].b',
  ],
  [
    'unclosed placeholder',
    'EVENT',
    CPU_HIGH,
    { endpoint: 'https://example.com', headers: { 'X-Cpu': '{{ payload.cpu' } },
    'actionSpec.headers.X-Cpu',
    'unclosed',
  ],
  ['template root in the endpoint', 'EVENT', CPU_HIGH, { endpoint: 'https://example.com/{{ env.token }}' }, 'actionSpec.endpoint', 'unknown template root'],
  ['api_script without api_id', 'EVENT', CPU_HIGH, { type: 'api_script', input: {} }, 'actionSpec.api_id', 'required'],
  ['api_script unknown key', 'EVENT', CPU_HIGH, { type: 'api_script', api_id: 'x', endpoint: 'https://example.com' }, 'actionSpec.endpoint', 'unknown key'],
  [
    'api_script bad template root',
    'EVENT',
    CPU_HIGH,
    { type: 'api_script', api_id: 'x', params: { p: '{{ params.x }}' } },
    'actionSpec.params.p',
    'unknown template root',
  ],
  ['trigger_rule without rule_id', 'EVENT', CPU_HIGH, { type: 'trigger_rule', payload: {} }, 'actionSpec.rule_id', 'required'],
  ['trigger_rule payload not an object', 'EVENT', CPU_HIGH, { type: 'trigger_rule', rule_id: 'x', payload: 'p' }, 'actionSpec.payload'],
  ['actionSpec not an object', 'EVENT', CPU_HIGH, 'https://example.com', 'actionSpec'],
];

/** Spec refusals, run inside the CRUD suite of each backend (one app per backend). */
function specRefusals(app: () => TestApp) {
  describe('spec refusals carry their specPath', () => {
    let t: TestApp;
    beforeAll(() => {
      t = app();
    });

    it.each(SPEC_CASES)('%s', async (_label, triggerType, triggerSpec, actionSpec, specPath, text) => {
      const response = await t.gql(CREATE, { input: { name: unique('refused'), triggerType, triggerSpec, actionSpec } });
      const error = refusal(response, 'BAD_USER_INPUT');
      expect(response.data).toBeNull();
      expect(error.extensions?.specPath).toBe(specPath);
      expect(error.message.startsWith(`${specPath}: `), error.message).toBe(true);
      if (text) expect(error.message).toContain(text);
      expect(error.path).toEqual(['createRule']);
    });

    it('the same refusals come from updateRule, and leave the rule as it was', async () => {
      const rule = await createRule(t, { name: unique('update target') });
      const schedule = await createRule(t, { name: unique('update target schedule'), triggerType: 'SCHEDULE', triggerSpec: { intervalSeconds: 60 } });
      for (const [label, triggerType, triggerSpec, actionSpec, specPath] of SPEC_CASES) {
        const target = triggerType === 'SCHEDULE' ? schedule : rule;
        const input = specPath.startsWith('actionSpec') ? { actionSpec } : { triggerType, triggerSpec };
        const error = refusal(await t.gql(UPDATE, { id: target.id, input }), 'BAD_USER_INPUT');
        expect(error.extensions?.specPath, label).toBe(specPath);
      }
      expect(await getRule(t, rule.id)).toEqual(rule);
      expect(await getRule(t, schedule.id)).toEqual(schedule);
    });

    it('nothing refused was stored', async () => {
      expect((await list(t, { filter: { search: 'refused' } })).totalCount).toBe(0);
    });

    it('a bad enum or a missing required input is BAD_USER_INPUT or a validation error, never INTERNAL', async () => {
      const badEnum = await t.gql(CREATE, { input: { name: unique('enum'), triggerType: 'CRON', triggerSpec: CPU_HIGH, actionSpec: WEBHOOK } });
      refusal(badEnum, 'BAD_USER_INPUT');
      const missing = await t.gql(CREATE, { input: { name: unique('missing'), actionSpec: WEBHOOK } });
      refusal(missing, 'BAD_USER_INPUT');
      const nullSpec = await t.gql(CREATE, { input: { name: unique('null'), triggerSpec: null, actionSpec: WEBHOOK } });
      refusal(nullSpec, 'BAD_USER_INPUT');
    });
  });
}

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, ok, refusal as refusalWithCode, startFreshApp, unique, type GraphQLResponse, type TestApp } from '../support/harness.js';
import { sleep } from '../support/wait.js';

/**
 * API definition CRUD, lists and validation over real HTTP against a real database (SPEC.md "Ids,
 * names, lists", "API scripts", "Error codes"). The app runs with lowered script limits, so the
 * runtimePolicy ranges are shown to follow SCRIPT_MAX_TIMEOUT_MS and SCRIPT_MAX_MEMORY_MB.
 */

type FreshApp = Awaited<ReturnType<typeof startFreshApp>>;

const MAX_TIMEOUT_MS = 20_000;
const MAX_MEMORY_MB = 128;
const LIMITS = { SCRIPT_MAX_TIMEOUT_MS: String(MAX_TIMEOUT_MS), SCRIPT_MAX_MEMORY_MB: String(MAX_MEMORY_MB) };

const API_FIELDS = `id name description kind source httpSpec paramSchema active createdBy createdAt updatedAt
  runtimePolicy { timeoutMs memoryLimitMb allowNetwork allowedHosts }`;

const CREATE = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { ${API_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateApiDefinitionInput!) { updateApiDefinition(id: $id, input: $input) { ${API_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteApiDefinition(id: $id) }`;
const GET = `query($id: ID!) { apiDefinition(id: $id) { ${API_FIELDS} } }`;
const LIST = `query($first: Int, $after: String) {
  apiDefinitions(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name createdAt } }
  }
}`;

const SOURCE = 'function main(params, input, ctx) {\n  return { sum: params.a + params.b, input };\n}\n';
const DEFAULT_POLICY = { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] };

interface ApiData {
  id: string;
  name: string;
  description: string | null;
  kind: 'SCRIPT' | 'HTTP';
  source: string | null;
  httpSpec: any;
  paramSchema: any;
  active: boolean;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  runtimePolicy: { timeoutMs: number; memoryLimitMb: number; allowNetwork: boolean; allowedHosts: string[] };
}

interface ListData {
  apiDefinitions: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    edges: { cursor: string; node: { id: string; name: string; createdAt: string } }[];
  };
}

function refusal(response: GraphQLResponse, code: string) {
  const error = refusalWithCode(response, code);
  expect(JSON.stringify(response.errors)).not.toMatch(/\n\s+at |insert into|select /i);
  return error;
}

async function createApi(t: TestApp, input: Record<string, unknown>): Promise<ApiData> {
  const kind = input.kind ?? 'SCRIPT';
  const body = kind === 'SCRIPT' ? { source: SOURCE } : {};
  return ok<{ createApiDefinition: ApiData }>(await t.gql(CREATE, { input: { ...body, ...input } })).createApiDefinition;
}

async function getApi(t: TestApp, id: string): Promise<ApiData | null> {
  return ok<{ apiDefinition: ApiData | null }>(await t.gql(GET, { id })).apiDefinition;
}

async function list(t: TestApp, variables: Record<string, unknown> = {}) {
  return ok<ListData>(await t.gql(LIST, variables)).apiDefinitions;
}

function newestFirst(rows: { id: string; createdAt: string }[]) {
  return [...rows].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
}

describe.each(backends())('API definitions: CRUD over HTTP (%s)', (backend) => {
  let t: FreshApp;
  beforeAll(async () => {
    t = await startFreshApp(backend, LIMITS);
  });
  afterAll(() => t?.stop());

  it('an empty database lists nothing; first: 0 says hasNextPage false', async () => {
    const empty = await list(t);
    expect(empty).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
    const zero = await list(t, { first: 0 });
    expect(zero.edges).toEqual([]);
    expect(zero.pageInfo.hasNextPage).toBe(false);
  });

  it('creates a SCRIPT definition and reads back every field', async () => {
    const paramSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    };
    const created = await createApi(t, {
      name: 'adder',
      description: 'adds a and b',
      source: SOURCE,
      paramSchema,
      runtimePolicy: {
        timeoutMs: 1500,
        memoryLimitMb: 32,
        allowNetwork: true,
        allowedHosts: ['API.Example.com', '*.example.org', 'localhost:8080', 'api.example.com'],
      },
      createdBy: 'tester',
    });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(created).toMatchObject({
      name: 'adder',
      description: 'adds a and b',
      kind: 'SCRIPT',
      source: SOURCE,
      httpSpec: null,
      paramSchema,
      active: true,
      createdBy: 'tester',
      // Hosts are lower-cased and de-duplicated.
      runtimePolicy: { timeoutMs: 1500, memoryLimitMb: 32, allowNetwork: true, allowedHosts: ['api.example.com', '*.example.org', 'localhost:8080'] },
    });
    expect(created.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(created.updatedAt).toBe(created.createdAt);
    expect(await getApi(t, created.id)).toEqual(created);
    expect((await list(t, { first: 100 })).edges.map((e) => e.node.id)).toContain(created.id);
  });

  it('fills in defaults: SCRIPT, active, the default runtimePolicy, no paramSchema', async () => {
    const created = await createApi(t, { name: unique('defaults') });
    expect(created).toMatchObject({
      kind: 'SCRIPT',
      active: true,
      description: null,
      paramSchema: null,
      httpSpec: null,
      createdBy: null,
      runtimePolicy: DEFAULT_POLICY,
    });
    // runtimePolicy null, and an empty one, are every default too.
    const nulled = await createApi(t, { name: unique('null policy'), runtimePolicy: null, active: false });
    expect(nulled.runtimePolicy).toEqual(DEFAULT_POLICY);
    expect(nulled.active).toBe(false);
    const emptyPolicy = await createApi(t, { name: unique('empty policy'), runtimePolicy: {} });
    expect(emptyPolicy.runtimePolicy).toEqual(DEFAULT_POLICY);
    expect(await getApi(t, nulled.id)).toEqual(nulled);
  });

  it('creates an HTTP definition with its httpSpec normalised', async () => {
    const created = await createApi(t, {
      name: unique('http'),
      kind: 'HTTP',
      httpSpec: {
        method: 'post',
        url: 'https://api.example.com/items/{{ params.id }}',
        headers: { Authorization: 'Bearer {{params.token}}' },
        body: { item: '{{ input }}', note: 'for {{input.user}}' },
      },
      runtimePolicy: { timeoutMs: 2500 },
    });
    expect(created.kind).toBe('HTTP');
    expect(created.source).toBeNull();
    expect(created.httpSpec).toEqual({
      method: 'POST',
      url: 'https://api.example.com/items/{{ params.id }}',
      headers: { Authorization: 'Bearer {{params.token}}' },
      params: {},
      body: { item: '{{ input }}', note: 'for {{input.user}}' },
    });
    expect(created.runtimePolicy).toEqual({ ...DEFAULT_POLICY, timeoutMs: 2500 });
    expect(await getApi(t, created.id)).toEqual(created);

    const get = await createApi(t, { name: unique('http get'), kind: 'HTTP', httpSpec: { url: 'http://example.com/status' } });
    expect(get.httpSpec).toEqual({ method: 'GET', url: 'http://example.com/status', headers: {}, params: {} });
  });

  it('updates: fields given replace the stored ones; a runtimePolicy given is merged key by key', async () => {
    const created = await createApi(t, {
      name: unique('to update'),
      description: 'before',
      runtimePolicy: { timeoutMs: 1000, memoryLimitMb: 16, allowNetwork: true, allowedHosts: ['a.example.com'] },
      createdBy: 'someone',
    });
    await sleep(5);
    const source = 'const main = async (params) => ({ doubled: params.n * 2 });';
    const updated = ok<{ updateApiDefinition: ApiData }>(
      await t.gql(UPDATE, {
        id: created.id,
        input: { description: 'after', source, active: false, runtimePolicy: { timeoutMs: 3000 }, paramSchema: { type: 'object' } },
      }),
    ).updateApiDefinition;
    expect(updated).toMatchObject({
      id: created.id,
      name: created.name,
      kind: 'SCRIPT',
      description: 'after',
      source,
      active: false,
      paramSchema: { type: 'object' },
      createdBy: 'someone',
      createdAt: created.createdAt,
      runtimePolicy: { timeoutMs: 3000, memoryLimitMb: 16, allowNetwork: true, allowedHosts: ['a.example.com'] },
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    expect(await getApi(t, created.id)).toEqual(updated);

    const policy = ok<{ updateApiDefinition: ApiData }>(
      await t.gql(UPDATE, {
        id: created.id,
        input: { runtimePolicy: { allowNetwork: false, allowedHosts: [], memoryLimitMb: MAX_MEMORY_MB, timeoutMs: MAX_TIMEOUT_MS } },
      }),
    ).updateApiDefinition;
    expect(policy.runtimePolicy).toEqual({ timeoutMs: MAX_TIMEOUT_MS, memoryLimitMb: MAX_MEMORY_MB, allowNetwork: false, allowedHosts: [] });
    expect(policy.source).toBe(source);
    expect(await getApi(t, created.id)).toEqual(policy);

    const renamed = ok<{ updateApiDefinition: ApiData }>(await t.gql(UPDATE, { id: created.id, input: { name: `${created.name} v2` } })).updateApiDefinition;
    expect(renamed.name).toBe(`${created.name} v2`);
    const same = ok<{ updateApiDefinition: ApiData }>(await t.gql(UPDATE, { id: created.id, input: { name: `${created.name} v2` } })).updateApiDefinition;
    expect(same.name).toBe(`${created.name} v2`);
  });

  it('updates an HTTP definition: the httpSpec is replaced whole and validated', async () => {
    const created = await createApi(t, {
      name: unique('http update'),
      kind: 'HTTP',
      httpSpec: { method: 'POST', url: 'https://a.example.com', body: { x: 1 } },
    });
    const updated = ok<{ updateApiDefinition: ApiData }>(
      await t.gql(UPDATE, { id: created.id, input: { httpSpec: { url: 'https://b.example.com/{{params.p}}' } } }),
    ).updateApiDefinition;
    expect(updated.httpSpec).toEqual({ method: 'GET', url: 'https://b.example.com/{{params.p}}', headers: {}, params: {} });
    const bad = refusal(await t.gql(UPDATE, { id: created.id, input: { httpSpec: { url: 'https://b.example.com/{{ payload.x }}' } } }), 'BAD_USER_INPUT');
    expect(bad.extensions?.specPath).toBe('input.httpSpec.url');
    // A source on an HTTP definition is refused.
    const source = refusal(await t.gql(UPDATE, { id: created.id, input: { source: SOURCE } }), 'BAD_USER_INPUT');
    expect(source.message).toContain('input.source');
    expect(await getApi(t, created.id)).toEqual(updated);
  });

  it('deletes: answers the id, then it is gone from get and list; a second delete is NOT_FOUND', async () => {
    const created = await createApi(t, { name: unique('to delete') });
    expect(ok<{ deleteApiDefinition: string }>(await t.gql(DELETE, { id: created.id })).deleteApiDefinition).toBe(created.id);
    expect(await getApi(t, created.id)).toBeNull();
    expect((await list(t, { first: 100 })).edges.map((e) => e.node.id)).not.toContain(created.id);
    refusal(await t.gql(DELETE, { id: created.id }), 'NOT_FOUND');
    refusal(await t.gql(UPDATE, { id: created.id, input: { description: 'x' } }), 'NOT_FOUND');
    const reused = await createApi(t, { name: created.name });
    expect(reused.id).not.toBe(created.id);
  });

  describe('duplicate names', () => {
    it('refuses a second definition of the same name with BAD_USER_INPUT naming input.name', async () => {
      const name = unique('Dup');
      await createApi(t, { name });
      const error = refusal(await t.gql(CREATE, { input: { name, source: SOURCE } }), 'BAD_USER_INPUT');
      expect(error.message).toContain('input.name');
      // Also across kinds: names are unique per kind of object, not per ApiKind.
      const http = refusal(await t.gql(CREATE, { input: { name, kind: 'HTTP', httpSpec: { url: 'https://example.com' } } }), 'BAD_USER_INPUT');
      expect(http.message).toContain('input.name');
    });

    it('names are case-sensitive, and a rule may share a name with an API definition', async () => {
      const name = unique('Shared');
      await createApi(t, { name });
      expect((await createApi(t, { name: name.toUpperCase() })).name).toBe(name.toUpperCase());
      const rule = await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { name } }`, {
        input: { name, triggerSpec: { field: 'a', op: 'exists' }, actionSpec: { endpoint: 'https://example.com' } },
      });
      expect(ok(rule).createRule.name).toBe(name);
    });

    it('refuses a rename onto another definition name', async () => {
      const a = await createApi(t, { name: unique('rename a') });
      const b = await createApi(t, { name: unique('rename b') });
      const error = refusal(await t.gql(UPDATE, { id: b.id, input: { name: a.name, description: 'changed' } }), 'BAD_USER_INPUT');
      expect(error.message).toContain('input.name');
      expect(await getApi(t, b.id)).toEqual(b);
    });

    it('concurrent creates of one name: exactly one wins, the others are BAD_USER_INPUT', async () => {
      const name = unique('race');
      const responses = await Promise.all(Array.from({ length: 6 }, () => t.gql(CREATE, { input: { name, source: SOURCE } })));
      expect(responses.filter((r) => !r.errors)).toHaveLength(1);
      for (const r of responses.filter((x) => x.errors)) expect(refusal(r, 'BAD_USER_INPUT').message).toContain('input.name');
    });
  });

  describe('unknown and malformed ids', () => {
    const ids = [randomUUID(), 'not-a-uuid', '', '12345', "'; drop table api_definitions; --", `${randomUUID()}0`];

    it.each(ids)('apiDefinition(id: %j) answers null without errors', async (id) => {
      const response = await t.gql(GET, { id });
      expect(response.errors).toBeUndefined();
      expect(response.data).toEqual({ apiDefinition: null });
    });

    it.each(ids)('updateApiDefinition(id: %j) is NOT_FOUND', async (id) => {
      const response = await t.gql(UPDATE, { id, input: { description: 'x' } });
      refusal(response, 'NOT_FOUND');
      expect(response.data).toBeNull();
    });

    it.each(ids)('deleteApiDefinition(id: %j) is NOT_FOUND', async (id) => {
      const response = await t.gql(DELETE, { id });
      refusal(response, 'NOT_FOUND');
      expect(response.data).toBeNull();
    });
  });

  refusals(() => t);
});

/** [name of the case, input (besides name), specPath or null when the refusal names a field without a specPath, text in the message] */
type ApiCase = [string, Record<string, unknown>, string | null, string];

const API_CASES: ApiCase[] = [
  ['timeoutMs 0', { source: SOURCE, runtimePolicy: { timeoutMs: 0 } }, 'input.runtimePolicy.timeoutMs', 'input.runtimePolicy.timeoutMs'],
  ['timeoutMs negative', { source: SOURCE, runtimePolicy: { timeoutMs: -5 } }, 'input.runtimePolicy.timeoutMs', 'input.runtimePolicy.timeoutMs'],
  [
    'timeoutMs above SCRIPT_MAX_TIMEOUT_MS',
    { source: SOURCE, runtimePolicy: { timeoutMs: MAX_TIMEOUT_MS + 1 } },
    'input.runtimePolicy.timeoutMs',
    String(MAX_TIMEOUT_MS),
  ],
  ['memoryLimitMb below 8', { source: SOURCE, runtimePolicy: { memoryLimitMb: 7 } }, 'input.runtimePolicy.memoryLimitMb', 'input.runtimePolicy.memoryLimitMb'],
  [
    'memoryLimitMb above SCRIPT_MAX_MEMORY_MB',
    { source: SOURCE, runtimePolicy: { memoryLimitMb: MAX_MEMORY_MB + 1 } },
    'input.runtimePolicy.memoryLimitMb',
    String(MAX_MEMORY_MB),
  ],
  [
    'allowedHosts with a URL',
    { source: SOURCE, runtimePolicy: { allowedHosts: ['ok.example.com', 'https://x.example.com/path'] } },
    'input.runtimePolicy.allowedHosts[1]',
    'host',
  ],
  [
    'allowedHosts with an empty host',
    { source: SOURCE, runtimePolicy: { allowedHosts: [''] } },
    'input.runtimePolicy.allowedHosts[0]',
    'input.runtimePolicy.allowedHosts[0]',
  ],
  ['paramSchema with a bad type', { source: SOURCE, paramSchema: { type: 'nope' } }, 'input.paramSchema', 'JSON Schema'],
  ['paramSchema not an object', { source: SOURCE, paramSchema: 5 }, 'input.paramSchema', 'input.paramSchema'],
  ['paramSchema with a bad keyword value', { source: SOURCE, paramSchema: { type: 'object', required: 'a' } }, 'input.paramSchema', 'input.paramSchema'],
  ['paramSchema with a bad pattern', { source: SOURCE, paramSchema: { type: 'string', pattern: '(' } }, 'input.paramSchema', 'input.paramSchema'],
  ['HTTP without httpSpec', { kind: 'HTTP' }, 'input.httpSpec', 'input.httpSpec'],
  ['HTTP httpSpec unknown key', { kind: 'HTTP', httpSpec: { url: 'https://example.com', timeout: 5 } }, 'input.httpSpec.timeout', 'unknown key'],
  ['HTTP httpSpec without url', { kind: 'HTTP', httpSpec: { method: 'GET' } }, 'input.httpSpec.url', 'required'],
  ['HTTP httpSpec url not http', { kind: 'HTTP', httpSpec: { url: 'gopher://example.com' } }, 'input.httpSpec.url', 'input.httpSpec.url'],
  ['HTTP httpSpec method', { kind: 'HTTP', httpSpec: { url: 'https://example.com', method: 'TRACE' } }, 'input.httpSpec.method', 'input.httpSpec.method'],
  [
    'HTTP httpSpec bad template root',
    { kind: 'HTTP', httpSpec: { url: 'https://example.com', method: 'POST', body: { a: '{{ payload.x }}' } } },
    'input.httpSpec.body.a',
    'unknown template root',
  ],
  [
    'HTTP httpSpec unclosed placeholder',
    { kind: 'HTTP', httpSpec: { url: 'https://example.com', params: { q: '{{ params.q' } } },
    'input.httpSpec.params.q',
    'unclosed',
  ],
  ['HTTP httpSpec not an object', { kind: 'HTTP', httpSpec: 'https://example.com' }, 'input.httpSpec', 'input.httpSpec'],
  [
    'HTTP with a policy out of range',
    { kind: 'HTTP', httpSpec: { url: 'https://example.com' }, runtimePolicy: { timeoutMs: 0 } },
    'input.runtimePolicy.timeoutMs',
    'input.runtimePolicy.timeoutMs',
  ],
  ['SCRIPT with an httpSpec', { source: SOURCE, httpSpec: { url: 'https://example.com' } }, 'input.httpSpec', 'input.httpSpec'],
  ['SCRIPT without source', {}, null, 'input.source'],
  ['SCRIPT with a blank source', { source: '   \n ' }, null, 'input.source'],
  ['HTTP with a source', { kind: 'HTTP', source: SOURCE, httpSpec: { url: 'https://example.com' } }, null, 'input.source'],
  ['empty name', { name: '', source: SOURCE }, null, 'input.name'],
];

/** Refusals, run inside the CRUD suite of each backend (one app per backend). */
function refusals(app: () => TestApp) {
  describe('refusals', () => {
    let t: TestApp;
    beforeAll(() => {
      t = app();
    });

    it.each(API_CASES)('%s', async (_label, input, specPath, text) => {
      const response = await t.gql(CREATE, { input: { name: unique('refused'), ...input } });
      const error = refusal(response, 'BAD_USER_INPUT');
      expect(response.data).toBeNull();
      expect(error.message).toContain(text);
      if (specPath) {
        expect(error.extensions?.specPath).toBe(specPath);
        expect(error.message.startsWith(`${specPath}: `), error.message).toBe(true);
      }
    });

    it('the limits themselves are accepted', async () => {
      const edge = await createApi(t, { name: unique('edges'), runtimePolicy: { timeoutMs: 1, memoryLimitMb: 8 } });
      expect(edge.runtimePolicy).toMatchObject({ timeoutMs: 1, memoryLimitMb: 8 });
      const top = await createApi(t, { name: unique('top'), runtimePolicy: { timeoutMs: MAX_TIMEOUT_MS, memoryLimitMb: MAX_MEMORY_MB } });
      expect(top.runtimePolicy).toMatchObject({ timeoutMs: MAX_TIMEOUT_MS, memoryLimitMb: MAX_MEMORY_MB });
    });

    it('updates are validated as a whole and leave the definition as it was when refused', async () => {
      const api = await createApi(t, { name: unique('update target'), runtimePolicy: { timeoutMs: 1000 } });
      for (const [label, input, specPath, text] of API_CASES) {
        if ('kind' in input || 'name' in input) continue;
        if (label === 'SCRIPT without source') continue; // an update without source keeps the stored one
        const error = refusal(await t.gql(UPDATE, { id: api.id, input }), 'BAD_USER_INPUT');
        expect(error.message, label).toContain(text);
        if (specPath) expect(error.extensions?.specPath, label).toBe(specPath);
      }
      const zero = refusal(await t.gql(UPDATE, { id: api.id, input: { runtimePolicy: { timeoutMs: 0 } } }), 'BAD_USER_INPUT');
      expect(zero.extensions?.specPath).toBe('input.runtimePolicy.timeoutMs');
      expect(await getApi(t, api.id)).toEqual(api);
    });

    it('nothing refused was stored', async () => {
      const all = await list(t, { first: 100 });
      expect(all.edges.filter((e) => e.node.name.startsWith('refused'))).toEqual([]);
    });

    it('an unknown kind is BAD_USER_INPUT', async () => {
      refusal(await t.gql(CREATE, { input: { name: unique('kind'), kind: 'WASM', source: SOURCE } }), 'BAD_USER_INPUT');
    });
  });
}

describe.each(backends())('API definitions: lists and pagination (%s)', (backend) => {
  let t: FreshApp;
  const created: ApiData[] = [];
  beforeAll(async () => {
    t = await startFreshApp(backend, LIMITS);
    for (let i = 0; i < 23; i++) {
      created.push(await createApi(t, { name: `api ${String(i).padStart(2, '0')}` }));
      if (i % 4 !== 0) await sleep(3);
    }
  });
  afterAll(() => t?.stop());

  it('lists newest first (createdAt desc, id desc); first defaults to 20', async () => {
    const all = await list(t, { first: 100 });
    expect(all.totalCount).toBe(23);
    expect(all.edges.map((e) => e.node.id)).toEqual(newestFirst(created).map((a) => a.id));
    expect(all.edges.at(-1)!.node.name).toBe('api 00');
    expect(all.pageInfo.hasNextPage).toBe(false);
    const page = await list(t);
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it('walks first page, last page and past the end', async () => {
    const first = await list(t, { first: 10 });
    expect(first.edges).toHaveLength(10);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: first.edges[0]!.cursor, endCursor: first.edges[9]!.cursor });
    const second = await list(t, { first: 10, after: first.pageInfo.endCursor });
    expect(second.edges).toHaveLength(10);
    expect(second.pageInfo.hasNextPage).toBe(true);
    expect(second.pageInfo.hasPreviousPage).toBe(true);
    const last = await list(t, { first: 10, after: second.pageInfo.endCursor });
    expect(last.edges).toHaveLength(3);
    expect(last.pageInfo.hasNextPage).toBe(false);
    expect([...first.edges, ...second.edges, ...last.edges].map((e) => e.node.id)).toEqual(newestFirst(created).map((a) => a.id));
    const past = await list(t, { first: 10, after: last.pageInfo.endCursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
    expect(past.totalCount).toBe(23);
  });

  it('first: 0 gives no edges and hasNextPage true when there are rows', async () => {
    const zero = await list(t, { first: 0 });
    expect(zero.edges).toEqual([]);
    expect(zero.totalCount).toBe(23);
    expect(zero.pageInfo.hasNextPage).toBe(true);
  });

  it('first: 101, first: -1 and cursors that do not decode are BAD_USER_INPUT', async () => {
    for (const first of [101, -1]) refusal(await t.gql(LIST, { first }), 'BAD_USER_INPUT');
    for (const after of ['garbage', '!!!', Buffer.from('2024-01-01|x').toString('base64url')]) {
      const response = await t.gql(LIST, { first: 5, after });
      refusal(response, 'BAD_USER_INPUT');
      expect(response.data).toBeNull();
    }
    expect((await list(t, { first: 100 })).edges).toHaveLength(23);
  });

  it('a well-formed cursor before every row gives an empty page', async () => {
    const cursor = Buffer.from('2000-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000').toString('base64url');
    const past = await list(t, { first: 5, after: cursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
  });
});

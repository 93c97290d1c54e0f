/**
 * Request limits: graphql-armor (depth, aliases, cost, tokens) and the body cap. The defaults
 * must refuse abusive documents yet let the contract's own queries through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, startFreshApp, type TestApp } from '../support/harness.js';

const RULE_FIELDS = 'id name description triggerType triggerSpec actionType actionSpec active createdBy createdAt updatedAt';
const API_FIELDS =
  'id name description kind source httpSpec paramSchema runtimePolicy { timeoutMs memoryLimitMb allowNetwork allowedHosts } active createdBy createdAt updatedAt';

/** `{ __type(name: "Rule") { ofType { ofType { ... name } } } }`: `depth` fields deep, no lists (so cost stays low). */
function deepQuery(depth: number): string {
  let inner = 'name';
  for (let i = 0; i < depth - 1; i++) inner = `ofType { ${inner} }`;
  return `{ __type(name: "Rule") { ${inner} } }`;
}

describe('limits with the default settings', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp('embedded');
    for (let i = 0; i < 3; i++) {
      ok(
        await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
          input: {
            name: `limits-${i}`,
            description: 'a rule for the limits test',
            triggerSpec: {
              conditions: [
                { field: 'cpu', op: '>', value: 80 },
                { conditions: [{ field: 'host', op: 'starts_with', value: 'web' }], logic: 'OR' },
              ],
            },
            actionSpec: { type: 'webhook', endpoint: 'http://127.0.0.1:9/hook', method: 'POST', body: { cpu: '{{payload.cpu}}' } },
          },
        }),
      );
    }
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('lets a page of rules with every Rule field through', async () => {
    const response = await app.gql(
      `query Rules($first: Int, $after: String) {
        rules(first: $first, after: $after) {
          totalCount
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { cursor node { ${RULE_FIELDS} } }
        }
      }`,
      { first: 100 },
    );
    const data = ok(response);
    expect(data.rules.totalCount).toBe(3);
    expect(data.rules.edges).toHaveLength(3);
  });

  it('lets a page of API definitions and single lookups through', async () => {
    const data = ok(
      await app.gql(`{
        apiDefinitions(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${API_FIELDS} } } }
        rule(id: "00000000-0000-4000-8000-000000000000") { ${RULE_FIELDS} }
        apiDefinition(id: "00000000-0000-4000-8000-000000000000") { ${API_FIELDS} }
      }`),
    );
    expect(data.rule).toBeNull();
  });

  it('lets the GraphiQL introspection query through', async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const data = ok(
      await app.gql(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true })),
    );
    expect(data.__schema.queryType.name).toBe('Query');
  });

  it('refuses a query deeper than MAX_QUERY_DEPTH (12)', async () => {
    ok(await app.gql(deepQuery(10)));
    const response = await app.gql(deepQuery(14));
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toMatch(/depth/i);
  });

  it('refuses more aliases than MAX_ALIASES (30)', async () => {
    // armor does not count aliases of __typename, so these alias a real field.
    const aliases = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: rule(id: "00000000-0000-4000-8000-00000000000${i % 10}") { id }`).join(' ')} }`;
    ok(await app.gql(aliases(10)));
    const response = await app.gql(aliases(40));
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toMatch(/alias/i);
  });

  it('refuses a document over MAX_TOKENS (2000)', async () => {
    const response = await app.gql(`{ ${Array.from({ length: 2500 }, () => '__typename').join(' ')} }`);
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toMatch(/token/i);
  });

  it('never leaks field suggestions', async () => {
    const response = await app.gql('{ rulez { totalCount } }');
    expect(response.errors?.[0]?.message).not.toMatch(/did you mean/i);
  });
});

describe('body cap (MAX_REQUEST_BYTES=2048)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp('embedded', { MAX_REQUEST_BYTES: '2048' });
  });

  afterAll(async () => {
    await app?.stop();
  });

  const bigBody = () => JSON.stringify({ query: `{ __typename }`, variables: { padding: 'x'.repeat(4000) } });

  it('answers a body with a Content-Length over the cap with 413', async () => {
    const response = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bigBody() });
    expect(response.status).toBe(413);
    await response.arrayBuffer();
  });

  it('answers a chunked body that grows over the cap with 413', async () => {
    const bytes = new TextEncoder().encode(bigBody());
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
        controller.close();
      },
    });
    const response = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    await response.arrayBuffer();
  });

  const chunked = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
        controller.close();
      },
    });
  };

  it('serves a chunked JSON body under the cap', async () => {
    const json = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunked(JSON.stringify({ query: '{ __typename }' })),
      duplex: 'half',
    } as RequestInit);
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a chunked body of any other type with 415 before reading it (GraphQL text, form, multipart)', async () => {
    const big = `{ __typename ${' '.repeat(4000)}}`;
    for (const type of ['application/graphql', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await fetch(app.url, { method: 'POST', headers: { 'content-type': type }, body: chunked(big), duplex: 'half' } as RequestInit);
      expect(response.status, type).toBe(415);
      await response.arrayBuffer();
    }
  });

  it('still serves a body under the cap', async () => {
    const response = await app.gql('{ __typename }');
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ __typename: 'Query' });
  });
});

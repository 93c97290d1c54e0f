/**
 * GraphiQL in a real Chromium: it works under its Content-Security-Policy (every script and
 * worker from the service, no violation, no page error), and in KEYS mode the key typed in the
 * headers tab goes with queries (HTTP Authorization) and subscriptions (graphql-ws
 * connection_init payload), and is written to no storage of the browser.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_QUERY } from '../../src/server/graphiql/defaultQuery.js';
import { findChromium, withoutChromium } from '../support/chromium.js';
import { startFreshApp, type TestApp } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { describeUnless } from '../support/skips.js';

const ADMIN_KEY = 'browser-test-admin-key-0123456789abcdef';
/** The key typed in the headers tab: a valid one, so the service answers what it sends. */
const TYPED_KEY = ADMIN_KEY;

/** A GraphQL request with the admin key (the app runs in KEYS mode). */
async function gql(app: TestApp, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Replaces the text of one of GraphiQL's Monaco editors (query, variables, headers). */
async function setEditor(page: Page, selector: string, text: string) {
  await page.locator(`${selector} .monaco-editor`).filter({ visible: true }).click();
  await page.keyboard.press('ControlOrMeta+KeyA');
  await page.keyboard.press('Delete');
  // insertText types no key strokes, so Monaco adds no closing brackets or quotes.
  await page.keyboard.insertText(text);
}

const responseText = async (page: Page) => (await page.locator('.graphiql-response .view-lines').textContent()) ?? '';

describeUnless(withoutChromium(), 'GraphiQL in Chromium (KEYS mode)', () => {
  vi.setConfig({ testTimeout: 60_000 });
  let app: TestApp;
  let sink: Sink;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];
  const problems: string[] = [];
  const httpAuthorizations: (string | undefined)[] = [];
  const socketFramesSent: string[] = [];
  const socketFramesReceived: string[] = [];

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp('embedded', { ADMIN_KEY, OUTBOUND_ALLOWLIST: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: findChromium()!, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    page.on('request', (request) => {
      requested.push(request.url());
      if (request.method() === 'POST' && request.url() === app.url) httpAuthorizations.push(request.headers().authorization);
    });
    page.on('console', (message) => {
      // Before a key is typed, GraphiQL's introspection is answered 401 (KEYS mode): expected.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('websocket', (socket) => {
      socket.on('framesent', (frame) => socketFramesSent.push(String(frame.payload)));
      socket.on('framereceived', (frame) => socketFramesReceived.push(String(frame.payload)));
    });
    await page.goto(app.url);
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await sink?.close();
  });

  it('loads every script, style and worker from the service itself', async () => {
    // The editors' workers are running once GraphiQL has validated the opening document.
    await expect.poll(() => requested.filter((url) => url.endsWith('.worker.js')).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const origin = new URL(app.url).origin;
    const elsewhere = requested.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
    expect(elsewhere).toEqual([]);
    expect(requested).toContain(`${origin}/graphiql/graphiql.js`);
  });

  it('opens on the Cepheus example query, which runs once a key is typed', async () => {
    const queryText = async () => (await page.locator('.graphiql-query-editor .view-lines').first().textContent()) ?? '';
    await expect.poll(queryText, { timeout: 20_000 }).toMatch(/rules\(first:\s10\)/);
    await setEditor(page, '.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${TYPED_KEY}` }));
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => responseText(page), { timeout: 20_000 }).toMatch(/"authMode":\s*"KEYS"/);
    expect(await responseText(page)).not.toContain('"errors"');
  });

  it('sends the typed key with queries, over HTTP', async () => {
    await setEditor(page, '.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${TYPED_KEY}` }));
    await setEditor(page, '.graphiql-query-editor', '{ __typename }');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => responseText(page), { timeout: 20_000 }).toContain('Query');
    expect(httpAuthorizations.at(-1)).toBe(`Bearer ${TYPED_KEY}`);
  });

  it('sends the typed key with subscriptions, in the graphql-ws connection_init payload', async () => {
    const created = await gql(app, 'mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
      input: { name: 'browser probe', triggerSpec: { conditions: [] }, actionSpec: { type: 'webhook', endpoint: `${sink.url}/json`, method: 'GET' } },
    });
    await setEditor(page, '.graphiql-query-editor', 'subscription Updates { executionUpdates { ruleId status } }');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => socketFramesReceived.some((frame) => frame.includes('connection_ack')), { timeout: 20_000 }).toBe(true);
    const init = JSON.parse(socketFramesSent.find((frame) => frame.includes('connection_init'))!);
    expect(init).toEqual({ type: 'connection_init', payload: { authorization: `Bearer ${TYPED_KEY}` } });
    await expect.poll(() => socketFramesSent.some((frame) => frame.includes('"subscribe"')), { timeout: 20_000 }).toBe(true);
    await gql(app, 'mutation($id: ID!) { triggerRule(ruleId: $id, payload: {}, wait: true) { id } }', { id: created.createRule.id });
    await expect.poll(() => responseText(page), { timeout: 20_000 }).toContain(created.createRule.id);
    await page.locator('.graphiql-execute-button').click(); // stops the subscription
  });

  it('keeps the key in no storage of the browser', async () => {
    // GraphiQL writes tabs and history a moment after a run: wait until both hold the subscription.
    const stored = () => page.evaluate(() => ({ ...localStorage }) as Record<string, string>);
    await expect
      .poll(async () => Object.values(await stored()).filter((value) => value.includes('executionUpdates')).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    const everything = JSON.stringify([await stored(), await page.evaluate(() => ({ ...sessionStorage })), await page.context().cookies()]);
    expect(everything).not.toContain(TYPED_KEY);
  });

  it('raised no Content-Security-Policy violation and no page error', () => {
    expect(problems).toEqual([]);
  });
});

describe('GraphiQL page (no browser)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp('embedded');
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('is served with a Content-Security-Policy allowing same-origin scripts only, and has no inline script', async () => {
    const response = await fetch(app.url, { headers: { accept: 'text/html' } });
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
        .map(([name, ...values]) => [name, values]),
    );
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('worker-src')).toEqual(["'self'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)].map((m) => ({ attrs: m[1]!, body: m[2]!.trim() }));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      // Either a same-origin file, or a JSON data block (which the browser does not run).
      if (/\ssrc="\/graphiql\/[a-z.-]+\.js"/.test(script.attrs)) expect(script.body).toBe('');
      else expect(script.attrs).toMatch(/type="application\/json"/);
    }
  });

  it('hands GraphiQL the Cepheus example as its opening document', async () => {
    const html = await (await fetch(app.url, { headers: { accept: 'text/html' } })).text();
    const data = /<script type="application\/json" id="graphiql-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
    expect(JSON.parse(data!).graphiql.defaultQuery).toBe(DEFAULT_QUERY);
  });

  it('serves its assets with the same policy, and answers a revalidation with 304', async () => {
    const first = await fetch(`${app.base}/graphiql/start.js`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(first.headers.get('content-security-policy')).toContain("script-src 'self'");
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${app.base}/graphiql/start.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });
});

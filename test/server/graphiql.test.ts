/**
 * GraphiQL is served by the service itself, with every script, style and worker, so it works
 * with no internet (SPEC.md "Operations"). Also /health and /ready.
 *
 * What the service serves: a page of markup, a JSON data block and same-origin scripts under
 * /graphiql/ (the graphql-ws client, start.js, and @graphql-yoga/render-graphiql's GraphiQL
 * bundle), its CSS, and Monaco's workers as files of their own. The bundles mention many
 * http(s) URLs in strings and comments (licences, docs links, XML namespaces): those load
 * nothing, so the check looks at the places that do load something.
 * browser-graphiql.test.ts runs the page in Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFreshApp, type TestApp } from '../support/harness.js';

/** Hosts of public CDNs that GraphiQL builds load from when not bundled. */
const CDN_HOSTS = [
  'unpkg.com',
  'cdn.jsdelivr.net',
  'esm.sh',
  'cdnjs.cloudflare.com',
  'cdn.skypack.dev',
  'fonts.googleapis.com',
  'fonts.gstatic.com',
  'ga.jspm.io',
  'cdn.graphql-yoga.com',
];

const REMOTE = String.raw`(?:https?:)?\/\/`;

interface Parts {
  markup: string;
  scripts: string[];
  styles: string[];
}

function split(html: string): Parts {
  const scripts: string[] = [];
  const styles: string[] = [];
  const markup = html
    .replace(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi, (_m, attrs: string, body: string) => {
      scripts.push(body);
      return `<script${attrs}></script>`;
    })
    .replace(/<style\b([^>]*)>([\s\S]*?)<\/style>/gi, (_m, attrs: string, body: string) => {
      styles.push(body);
      return `<style${attrs}></style>`;
    });
  return { markup, scripts, styles };
}

/** Every URL the markup would load or link: attribute values of src, href, srcset, action, poster, data, content (meta refresh). */
function markupUrls(markup: string): string[] {
  const urls: string[] = [];
  for (const m of markup.matchAll(/\s(?:src|href|srcset|action|poster|data|formaction|manifest)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    urls.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return urls;
}

function isExternal(url: string, origin: string): boolean {
  const value = url.trim();
  if (/^(data|blob|about|javascript):/i.test(value)) return false;
  if (!new RegExp(`^${REMOTE}`, 'i').test(value)) return false; // relative: the service itself
  const absolute = new URL(value.startsWith('//') ? `http:${value}` : value);
  return absolute.origin !== origin;
}

describe('GraphiQL', () => {
  let app: TestApp;
  let html = '';
  let contentType = '';
  /** The page's inline scripts and the text of every script it loads. */
  let scriptTexts: string[] = [];
  let css = '';

  beforeAll(async () => {
    app = await startFreshApp('embedded');
    const response = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    contentType = response.headers.get('content-type') ?? '';
    html = await response.text();
    const sources = [...html.matchAll(/<script\b[^>]*\ssrc="([^"]+)"/gi)].map((m) => m[1]!);
    const workers = ['editor', 'json', 'graphql'].map((name) => `/graphiql/${name}.worker.js`);
    scriptTexts = [...split(html).scripts];
    for (const source of [...sources, ...workers]) {
      const asset = await fetch(new URL(source, app.url));
      expect(asset.status, source).toBe(200);
      scriptTexts.push(await asset.text());
    }
    css = await (await fetch(new URL('/graphiql/graphiql.css', app.url))).text();
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('is served on GET /graphql with Accept: text/html', () => {
    expect(contentType).toMatch(/^text\/html/);
    expect(scriptTexts.join('\n')).toContain('renderYogaGraphiQL');
    expect(html).toContain('<title>Cepheus</title>');
    // Subscriptions over graphql-ws on the same path.
    expect(html).toMatch(/"subscriptionsProtocol":\s*"WS"/);
  });

  it('loads no script, style or link from another host', () => {
    const { markup } = split(html);
    const external = markupUrls(markup).filter((url) => isExternal(url, new URL(app.url).origin));
    expect(external).toEqual([]);
  });

  it('has styles that fetch nothing remote', () => {
    const { markup, styles } = split(html);
    const allCss = [css, ...styles, ...[...markup.matchAll(/\sstyle\s*=\s*"([^"]*)"/gi)].map((m) => m[1] ?? '')].join('\n');
    expect(css.length).toBeGreaterThan(0);
    expect(allCss.match(new RegExp(String.raw`url\(\s*["']?${REMOTE}[^)]*\)`, 'gi')) ?? []).toEqual([]);
    expect(allCss.match(/@import\b[^;]*/gi) ?? []).toEqual([]);
  });

  it('has scripts that load nothing from another host', () => {
    const js = scriptTexts.join('\n');
    const str = String.raw`\s*["'\x60]${REMOTE}`;
    const loaders: [string, RegExp][] = [
      ['dynamic import', new RegExp(String.raw`\bimport\(${str}`, 'g')],
      ['static import', new RegExp(String.raw`\bfrom${str}`, 'g')],
      ['importScripts', new RegExp(String.raw`\bimportScripts\(${str}`, 'g')],
      ['worker', new RegExp(String.raw`\bnew\s+(?:Shared)?Worker\(${str}`, 'g')],
      ['fetch', new RegExp(String.raw`\bfetch\(${str}`, 'g')],
      ['script/link src', new RegExp(String.raw`\.(?:src|href)\s*=${str}`, 'g')],
      ['serviceWorker', new RegExp(String.raw`serviceWorker\.register\(${str}`, 'g')],
    ];
    const found = loaders.flatMap(([what, re]) => [...js.matchAll(re)].map((m) => `${what}: ${js.slice(m.index!, m.index! + 120)}`));
    expect(found).toEqual([]);
    const cdn = CDN_HOSTS.filter((host) => js.includes(host) || html.includes(`//${host}`));
    expect(cdn).toEqual([]);
  });

  it('starts its Monaco workers from files of the service itself', () => {
    const js = scriptTexts.join('\n');
    expect(js).toMatch(/MonacoEnvironment/);
    expect(js).toContain("graphql: '/graphiql/graphql.worker.js'");
  });

  it('GET /health and GET /ready answer 200 once started', async () => {
    const health = await fetch(`${app.base}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${app.base}/ready`);
    expect(ready.status).toBe(200);
  });
});

describe('GraphiQL switched off (GRAPHIQL=false)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp('embedded', { GRAPHIQL: 'false' });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('serves no GraphiQL page: 404', async () => {
    const response = await fetch(app.url, { headers: { accept: 'text/html' } });
    const body = await response.text();
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type') ?? '').not.toMatch(/^text\/html/);
    expect(body).not.toContain('renderYogaGraphiQL');
  });

  it('still answers GraphQL', async () => {
    const response = await app.gql('{ __typename }');
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ __typename: 'Query' });
  });
});

/**
 * GraphQL over HTTP conformance: graphql-http's server audits against the live server,
 * with every plugin the service runs (armor, body cap, error masking). Every audit (MUST,
 * SHOULD and MAY) must pass.
 */
import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startFreshApp, type TestApp } from '../support/harness.js';
import { TEST_ADMIN_KEY } from '../support/keys.js';

async function describeFailure(result: Extract<AuditResult, { status: 'notice' | 'warn' | 'error' }>): Promise<string> {
  let body = '';
  try {
    body = (await result.response.clone().text()).slice(0, 500);
  } catch {
    body = '(body unreadable)';
  }
  const contentType = result.response.headers.get('content-type') ?? '-';
  return `${result.name}\n    reason: ${result.reason}\n    response: ${result.response.status} ${contentType} ${body}`;
}

/** In KEYS mode every request of the audit carries the key. */
const withKey: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${TEST_ADMIN_KEY}`);
  return fetch(input, { ...init, headers });
};

const cases = backends().flatMap((backend) => [[backend, 'OPEN mode'] as const, [backend, 'KEYS mode, with a key'] as const]);

describe.each(cases)('graphql-http server audits (%s, %s)', (backend, mode) => {
  let app: TestApp;
  let results: AuditResult[] = [];
  const keyed = mode !== 'OPEN mode';

  beforeAll(async () => {
    app = await startFreshApp(backend, keyed ? { ADMIN_KEY: TEST_ADMIN_KEY } : {});
    const audits = serverAudits({ url: app.url, fetchFn: keyed ? withKey : fetch });
    results = [];
    for (const audit of audits) results.push(await audit.fn());
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('runs the whole audit list (61 audits)', () => {
    expect(results.length).toBe(61);
  });

  it('passes every audit, MUST, SHOULD and MAY', async () => {
    const failing = results.filter((r) => r.status !== 'ok');
    const report = await Promise.all(failing.map((r) => describeFailure(r as Extract<AuditResult, { status: 'error' }>)));
    expect(report, `failing audits:\n${report.join('\n')}`).toEqual([]);
  });
});

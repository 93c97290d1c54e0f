/**
 * GraphQL over HTTP conformance: graphql-http's server audits against the live server,
 * with every plugin the service runs (armor, body cap, error masking). Every audit (MUST,
 * SHOULD and MAY) must pass.
 */
import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startFreshApp, type TestApp } from '../support/harness.js';

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

describe.each(backends())('graphql-http server audits (%s)', (backend) => {
  let app: TestApp;
  let results: AuditResult[] = [];

  beforeAll(async () => {
    app = await startFreshApp(backend);
    const audits = serverAudits({ url: app.url, fetchFn: fetch });
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

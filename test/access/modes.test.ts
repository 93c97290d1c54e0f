/**
 * The two modes (SPEC.md, 'Access'): the start log says which is on, and OPEN mode asks for no
 * key and acts as ADMIN `local`, whatever a request sends.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { backends, ok, startFreshApp, type TestApp } from '../support/harness.js';
import { gqlWith, rawWs, TEST_ADMIN_KEY } from '../support/keys.js';

function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ logLevel: 'info', logPretty: false }, stream), lines };
}

describe.each(backends())('access modes (%s)', (backend) => {
  let app: (TestApp & { stop(): Promise<void> }) | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it('OPEN: says so at start, asks for no key and acts as ADMIN "local"', async () => {
    const { logger, lines } = capturedLogger();
    app = await startFreshApp(backend, { SHUTDOWN_GRACE_MS: '500' }, { logger });
    const serving = lines.map((line) => JSON.parse(line)).find((entry) => entry.authMode);
    expect(serving).toMatchObject({ authMode: 'OPEN', msg: expect.stringContaining('OPEN mode') });
    expect(ok(await gqlWith(app.url, null, '{ viewer { name role authMode } }')).viewer).toEqual({ name: 'local', role: 'ADMIN', authMode: 'OPEN' });
    // A key sent anyway changes nothing.
    expect(ok(await gqlWith(app.url, `cep_${'q'.repeat(43)}`, '{ viewer { name } }')).viewer.name).toBe('local');
    const ws = rawWs(app.url, undefined);
    expect(await ws.acknowledged).toBe('ack');
    ws.socket.close();
    const rule = ok(
      await gqlWith(app.url, null, 'mutation ($input: CreateRuleInput!) { createRule(input: $input) { createdBy } }', {
        input: { name: 'open mode rule', createdBy: 'someone', triggerSpec: { conditions: [] }, actionSpec: { endpoint: 'http://127.0.0.1:9/' } },
      }),
    ).createRule;
    expect(rule.createdBy).toBe('someone');
    const audit = ok(await gqlWith(app.url, null, '{ auditLog { edges { node { actor action } } } }')).auditLog.edges;
    expect(audit[0].node).toEqual({ actor: 'local', action: 'createRule' });
  });

  it('KEYS: says so at start', async () => {
    const { logger, lines } = capturedLogger();
    app = await startFreshApp(backend, { ADMIN_KEY: TEST_ADMIN_KEY, SHUTDOWN_GRACE_MS: '500' }, { logger });
    const serving = lines.map((line) => JSON.parse(line)).find((entry) => entry.authMode);
    expect(serving).toMatchObject({ authMode: 'KEYS', msg: expect.stringContaining('KEYS mode') });
    expect(lines.join('\n')).not.toContain(TEST_ADMIN_KEY);
  });
});

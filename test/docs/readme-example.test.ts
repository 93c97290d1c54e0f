/**
 * README.md's "A first example", run as a reader would: the shipped receiver (`npm run receiver`'s build)
 * as its own process, the service with the README's OUTBOUND_ALLOWLIST, the README's actionLogs
 * subscription open, and the README's shell blocks run by bash with curl, as written (only the
 * ports 4000 and 4001 are swapped for free ones). So the example cannot rot: the rule it
 * creates is accepted, its webhook reaches the receiver, which prints it, and the example
 * leaves no rule behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, ok, startFreshApp, type TestApp } from '../support/harness.js';
import { codeBlocks, section } from '../support/markdown.js';
import { poll } from '../support/wait.js';
import { subscribeWs } from '../support/ws.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Receiver {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** npm run receiver's script, on a free port; resolves once it says where it listens. */
async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = spawn(process.execPath, ['dist/receiver.js', '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const listening = await poll(
    () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output),
    (match) => match !== null || child.exitCode !== null,
    20_000,
    'the receiver to listen',
  );
  if (!listening) throw new Error(`the receiver exited: ${output}`);
  return {
    port: Number(listening[1]),
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs a shell script with bash; resolves with its exit code and output. */
function runBash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
const example = codeBlocks('README.md', section(readme, 'A first example'));
const shellBlocks = example.filter((b) => b.lang === 'sh');
/** What the reader runs in the third terminal: every shell block but those starting the receiver and the service. */
const commands = shellBlocks.filter((b) => !/\bnpm (run|start)\b/.test(b.text)).map((b) => b.text);

describe.each(backends())("README.md's first example (%s)", (backend) => {
  let receiver: Receiver;
  let app: TestApp;

  beforeAll(async () => {
    const startLine = shellBlocks.map((b) => b.text).find((text) => /\bnpm start\b/.test(text));
    const allowlist = /OUTBOUND_ALLOWLIST=(\S+)/.exec(startLine ?? '')?.[1];
    expect(allowlist, 'the README starts the service with OUTBOUND_ALLOWLIST').toBeDefined();
    expect(shellBlocks.some((b) => b.text.trim() === 'npm run receiver')).toBe(true);
    receiver = await startReceiver();
    app = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: allowlist! });
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.stop();
  });

  it('runs as written: the rule is created, fired by triggerRule and an event, reaches the receiver, and is deleted', async () => {
    const subscription = example.find((b) => b.lang === 'graphql' && /\bsubscription\b/.test(b.text));
    expect(subscription).toBeDefined();
    const logs = subscribeWs<{ message: string; level: string }>(app.url, subscription!.text, {}, 60_000);
    try {
      // The socket is subscribed once a run's lines arrive; a probe rule makes one before the example starts.
      const probe = ok(
        await app.gql('mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
          input: { name: 'subscription probe', triggerSpec: { conditions: [] }, actionSpec: { endpoint: `http://127.0.0.1:${receiver.port}/probe` } },
        }),
      ).createRule.id as string;
      await poll(
        async () => {
          ok(await app.gql('mutation($id: ID!) { triggerRule(ruleId: $id) { id } }', { id: probe }));
          return logs.events.length;
        },
        (n) => n > 0,
        20_000,
        'the subscription to see the probe',
        200,
      );
      ok(await app.gql('mutation($id: ID!) { deleteRule(id: $id) }', { id: probe }));
      const seen = logs.events.length;

      const script = commands.join('\n').replaceAll('127.0.0.1:4000', `127.0.0.1:${app.port}`).replaceAll('127.0.0.1:4001', `127.0.0.1:${receiver.port}`);
      const run = await runBash(script);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);

      const lines = run.stdout.trim().split('\n');
      const ruleId = /^rule (\S+)$/.exec(lines[0]!)?.[1];
      expect(ruleId).toMatch(/^[0-9a-f-]{36}$/);
      const answers = lines.slice(1).map((line) => JSON.parse(line));
      const triggered = answers[0].data.triggerRule;
      expect(triggered).toMatchObject({ status: 'SUCCESS', result: { status: 200, body: { received: true } }, error: null });
      expect(triggered.logs).toEqual([{ seq: 1, level: 'INFO', message: `POST http://127.0.0.1:${receiver.port}/oncall -> 200` }]);
      expect(answers[1]).toEqual({ accepted: 2, matched: 1, refused: [] });
      expect(answers[2].data.executions.totalCount).toBeGreaterThanOrEqual(1);
      expect(answers[3]).toEqual({ data: { deleteRule: ruleId } });

      // The receiver printed both requests: method and path, the webhook's headers, the body as indented JSON.
      const printed = await poll(
        () => receiver.output(),
        (text) => (text.match(/POST \/oncall/g) ?? []).length === 2,
        20_000,
        'the receiver to print both webhooks',
      );
      expect(printed).toContain(`webhook-id: ${triggered.id}`);
      expect(printed).toContain('"text": "web-1 is at 91% CPU"');
      expect(printed).toContain('"text": "web-2 is at 95% CPU"');
      expect(printed).toContain('"rule": "cpu-high"');

      // The subscription of the README saw the runs' log lines live.
      await logs.waitFor((events) => events.slice(seen).filter((e) => /\/oncall -> 200$/.test(e.message)).length === 2, 20_000);

      // Nothing of the example is left to match later examples' events.
      expect(ok(await app.gql('{ rules { totalCount } }')).rules.totalCount).toBe(0);
    } finally {
      logs.dispose();
    }
  }, 90_000);
});

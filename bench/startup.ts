import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freshDatabase } from './engine.js';

/**
 * Start-up time and idle memory of the compiled service against floors started in the same
 * run: a bare graphql-yoga + pg server (PostgreSQL) and a bare PGlite behind pglite-socket
 * (embedded), each the median of several starts. Every process is started by plain node, as
 * `npm start` ends up doing, and measured from spawn to its first 200 from /ready; memory is
 * the resident set of the process and its children (the sandbox) after a few idle seconds.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const IDLE_MS = 3000;

export interface StartSample {
  readyMs: number;
  rssMb: number;
}

export interface StartupResult {
  starts: number;
  postgres: { floor: StartSample; cepheus: StartSample };
  embeddedNew: { floor: StartSample; cepheus: StartSample };
  embeddedExisting: { floor: StartSample; cepheus: StartSample };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function medianSample(samples: StartSample[]): StartSample {
  return { readyMs: median(samples.map((s) => s.readyMs)), rssMb: median(samples.map((s) => s.rssMb)) };
}

/** VmRSS of a process and all its descendants, from /proc. */
function treeRssMb(pid: number): number {
  let kb = 0;
  const visit = (p: number) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      for (const child of children ? children.split(/\s+/) : []) visit(Number(child));
    } catch {
      // The process ended between the reads.
    }
  };
  visit(pid);
  return kb / 1024;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitReady(child: ChildProcess, base: string, errors: () => string): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the process exited (${child.exitCode}) before /ready: ${errors()}`);
    const ok = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(1000) }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status === 200;
      },
      () => false,
    );
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`not ready within 120 s: ${errors()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function gql(base: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

/** Starts `args` with node, times it to /ready, runs `exercise`, waits, reads its memory, stops it. */
async function measure(args: string[], env: Record<string, string>, exercise: (base: string) => Promise<void>): Promise<StartSample> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let stderr = '';
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitReady(child, base, () => stderr);
    const readyMs = performance.now() - started;
    await exercise(base);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return { readyMs, rssMb: treeRssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
}

async function startSink(): Promise<{ url: string; stop(): void }> {
  const child = fork(path.join(import.meta.dirname, 'support', 'sink.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return { url: `http://127.0.0.1:${port}/hook`, stop: () => child.kill() };
}

/** One rule calling the sink, created and triggered once: the service has then loaded what a run needs. */
function triggerOnce(sinkUrl: string) {
  return async (base: string) => {
    const rule = await gql(base, 'mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
      input: {
        name: `startup-${Date.now()}`,
        triggerSpec: { logic: 'AND', conditions: [{ field: 'n', op: '>', value: 0 }] },
        actionSpec: { type: 'webhook', endpoint: sinkUrl },
      },
    });
    const run = await gql(base, 'mutation($id: ID!) { triggerRule(ruleId: $id, payload: {n: 1}) { status } }', { id: rule.createRule.id });
    if (run.triggerRule.status !== 'SUCCESS') throw new Error(`the start-up bench's run ended ${run.triggerRule.status}`);
  };
}

const floorQuery = async (base: string) => {
  await gql(base, '{ now }');
};

const CEPHEUS = ['--no-node-snapshot', 'dist/main.js'];
const YOGA_FLOOR = [path.join('bench', 'startup', 'yogaPgFloor.mjs')];
const PGLITE_FLOOR = [path.join('bench', 'startup', 'pgliteFloor.mjs')];

export async function runStartupBench(adminUrl: string, options: { starts: number }): Promise<StartupResult> {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  const sink = await startSink();
  const allow = { OUTBOUND_ALLOWLIST: '127.0.0.1' };
  const scratch = await mkdtemp(path.join(tmpdir(), 'cepheus-startup-'));
  const samples = {
    pgFloor: [] as StartSample[],
    pgCepheus: [] as StartSample[],
    newFloor: [] as StartSample[],
    newCepheus: [] as StartSample[],
    oldFloor: [] as StartSample[],
    oldCepheus: [] as StartSample[],
  };
  try {
    // Alternating floor and service, so a busy moment of the shared machine hits both.
    for (let i = 0; i < options.starts; i++) {
      const floorDb = await freshDatabase(adminUrl);
      samples.pgFloor.push(await measure(YOGA_FLOOR, { DATABASE_URL: floorDb.url }, floorQuery));
      await floorDb.drop();
      const db = await freshDatabase(adminUrl);
      samples.pgCepheus.push(await measure(CEPHEUS, { DATABASE_URL: db.url, ...allow }, triggerOnce(sink.url)));
      await db.drop();

      const floorDir = path.join(scratch, `floor-${i}`);
      const dir = path.join(scratch, `cepheus-${i}`);
      samples.newFloor.push(await measure(PGLITE_FLOOR, { DATA_DIR: floorDir }, async () => undefined));
      samples.newCepheus.push(await measure(CEPHEUS, { EMBEDDED_DATA_DIR: dir, ...allow }, triggerOnce(sink.url)));
      // The same directories again, now existing; the bare PGlite opens the service's own.
      samples.oldFloor.push(await measure(PGLITE_FLOOR, { DATA_DIR: dir }, async () => undefined));
      samples.oldCepheus.push(await measure(CEPHEUS, { EMBEDDED_DATA_DIR: dir, ...allow }, triggerOnce(sink.url)));
      await rm(floorDir, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    sink.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return {
    starts: options.starts,
    postgres: { floor: medianSample(samples.pgFloor), cepheus: medianSample(samples.pgCepheus) },
    embeddedNew: { floor: medianSample(samples.newFloor), cepheus: medianSample(samples.newCepheus) },
    embeddedExisting: { floor: medianSample(samples.oldFloor), cepheus: medianSample(samples.oldCepheus) },
  };
}

/**
 * The script sandbox, parent side. Scripts run in isolated-vm isolates held by a child process
 * (worker.ts), so that an allocation that aborts V8 kills that process and not the service; the
 * child is restarted when it dies and the runs that were in it fail (SCRIPT_MEMORY_LIMIT when it
 * died of an abort or out-of-memory, SCRIPT_ERROR otherwise).
 *
 * Runs queue here and go to the child while fewer than poolSize are in it (the child keeps one
 * isolate per in-flight run, each run in a fresh context). At most maxQueued runs wait; one more
 * fails at once with SANDBOX_BUSY. Log lines and ctx.http requests come back while the run is
 * going: onLog is called as lines are written, onHttp answers requests.
 *
 * Limits (see the constants below): timeoutMs wall clock per run, counted from run(): the wait for
 * a free isolate is part of it (a run still waiting at its deadline fails SCRIPT_TIMEOUT without
 * running; one that starts late gets what is left), and so is awaited ctx.http time (enforced in
 * the child by disposing the isolate, and here as a backstop that kills the child);
 * memoryLimitMb per isolate; output outputMaxBytes of JSON text (UTF-8); LOG_MAX_LINES lines a run
 * (a WARN line then says how many were dropped), LOG_MAX_MESSAGE_CHARS per message,
 * LOG_MAX_DATA_BYTES of JSON per line's data; HTTP_MAX_REQUESTS ctx.http requests a run.
 *
 * ctx.http: when policy.allowNetwork is false, ctx.http rejects (in the child, before anything
 * reaches onHttp) with an Error whose code is HTTP_BLOCKED; a script may catch it, and if it does
 * not, the run fails with HTTP_BLOCKED. A `{blocked}` answer from onHttp (the outbound guard or
 * allowedHosts, applied by the caller) behaves the same; `{failed}` becomes an Error with code
 * HTTP_FAILED, and an uncaught one fails the run with SCRIPT_ERROR. policy.allowedHosts is not
 * checked here: onHttp owns it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../../../logger.js';
import { keptAsTextWhenMisshapen } from '../../../shared/jsonShape.js';
import { DEFAULT_RUNTIME_POLICY, MIN_MEMORY_LIMIT_MB } from '../../rules/spec/api.js';
import type { ChildMessage, HttpAnswer, LogLevel, ParentMessage, RunOutcome, WorkerConfig } from './protocol.js';

export const LOG_MAX_LINES = 1000;
export const LOG_MAX_MESSAGE_CHARS = 4096;
export const LOG_MAX_DATA_BYTES = 16 * 1024;
export const HTTP_MAX_REQUESTS = 100;
/** The child answers a run within timeoutMs; past this much more, it is killed. */
const BACKSTOP_GRACE_MS = 3000;
/** A child that does not say ready within this is killed and restarted. */
const START_TIMEOUT_MS = 30_000;
/** Children that die before ready this many times in a row make the sandbox unavailable. */
const MAX_START_FAILURES = 3;
/** SCRIPT_MAX_QUEUED's default. */
const DEFAULT_MAX_QUEUED = 1000;

export interface ScriptLogLine {
  level: LogLevel;
  message: string;
  data: unknown;
}

export interface ScriptHttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export type ScriptHttpResponse =
  | { status: number; headers: Record<string, string>; body: unknown }
  | { blocked: true; message: string }
  | { failed: true; message: string };

export interface ScriptRun {
  /** The definition's id and updatedAt: the compiled script is cached under them. */
  key: { id: string; updatedAt: number };
  source: string;
  params: unknown;
  input: unknown;
  context: {
    payload: unknown;
    rule: { id: string; name: string } | null;
    execution: { id: string; cascadeId: string; depth: number } | null;
  };
  policy: { timeoutMs: number; memoryLimitMb: number; allowNetwork: boolean; allowedHosts: string[] };
  onLog(line: ScriptLogLine): void;
  onHttp(request: ScriptHttpRequest): Promise<ScriptHttpResponse>;
}

export type ScriptFailureCode =
  | 'SCRIPT_ERROR'
  | 'SCRIPT_TIMEOUT'
  | 'SCRIPT_MEMORY_LIMIT'
  | 'OUTPUT_TOO_LARGE'
  | 'HTTP_BLOCKED'
  | 'SANDBOX_UNAVAILABLE'
  | 'SANDBOX_BUSY';

/** durationMs: from run() to the answer, the wait for a free isolate included. */
export type ScriptResult = { ok: true; output: unknown; durationMs: number } | { ok: false; code: ScriptFailureCode; message: string; durationMs: number };

export interface SandboxOptions {
  /** Runs in the child at once (one isolate each); more wait here. Default: CPUs, 2..8. */
  poolSize?: number;
  /** Runs that may wait for a free isolate (SCRIPT_MAX_QUEUED); one more fails at once with SANDBOX_BUSY. 0: none wait. Default 1000. */
  maxQueued?: number;
  /** Cap on a run's output, as UTF-8 JSON text. */
  outputMaxBytes: number;
  logger: Logger;
}

interface Pending {
  id: number;
  run: ScriptRun;
  paramsJson: string;
  inputJson: string;
  contextJson: string;
  timeoutMs: number;
  memoryLimitMb: number;
  resolve(result: ScriptResult): void;
  /** performance.now() at run(): the timeout counts from here. */
  queuedAt: number;
  /** queuedAt + timeoutMs. */
  deadline: number;
  /** 0 while waiting for a free isolate. */
  startedAt: number;
  child?: ChildProcess;
  /** While waiting: fails the run at its deadline. Once sent: kills a child that misses the deadline. */
  timer?: NodeJS.Timeout;
  settled: boolean;
}

/** Signals a child that ran out of memory dies of (V8's fatal OOM aborts; some builds trap). */
const OOM_SIGNALS = new Set<string>(['SIGABRT', 'SIGTRAP', 'SIGILL']);
const OOM_TEXT = /out of memory|heap limit|allocation failed|OOM|memory limit/i;

export class Sandbox {
  private readonly poolSize: number;
  private readonly maxQueued: number;
  private readonly outputMaxBytes: number;
  private readonly logger: Logger;
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<number, Pending>();
  private child: ChildProcess | undefined;
  private ready = false;
  private unavailable: string | undefined;
  private closed = false;
  private nextId = 1;
  private startFailures = 0;
  private startTimer: NodeJS.Timeout | undefined;
  private stderrTail = '';
  private fatalMessage: string | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Whether a child was ever forked; the first is forked by create() or by the first run. */
  private started = false;
  /** Whether a child was ever ready: until then, the start is not counted against a run's timeout. */
  private everReady = false;

  private constructor(options: SandboxOptions) {
    this.poolSize = Math.max(1, Math.floor(options.poolSize ?? Math.min(8, Math.max(2, availableParallelism()))));
    this.maxQueued = Math.max(0, Math.floor(options.maxQueued ?? DEFAULT_MAX_QUEUED));
    this.outputMaxBytes = Math.max(1, Math.floor(options.outputMaxBytes));
    this.logger = options.logger;
  }

  /**
   * With `startNow`, forks the child at once so that the first run finds it warm; without, the
   * first run (or whenReady) forks it, and the process holds no sandbox memory until scripts run.
   */
  static create(options: SandboxOptions & { startNow: boolean }): Sandbox {
    const sandbox = new Sandbox(options);
    if (options.startNow) sandbox.start();
    return sandbox;
  }

  /** Forks the first child unless one was forked already. */
  start(): void {
    if (!this.started) this.spawn();
  }

  /** Runs waiting for a free isolate. */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** The child's process id (tests kill it to check that the sandbox survives). */
  get childPid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves when the child is ready (or the sandbox turned out unavailable); for warm-up waits. */
  async whenReady(): Promise<void> {
    this.start();
    while (!this.ready && !this.unavailable && !this.closed) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  run(run: ScriptRun): Promise<ScriptResult> {
    if (this.closed) return Promise.resolve({ ok: false, code: 'SCRIPT_ERROR', message: 'the sandbox is closed', durationMs: 0 });
    if (this.unavailable) return Promise.resolve({ ok: false, code: 'SANDBOX_UNAVAILABLE', message: this.unavailable, durationMs: 0 });
    let paramsJson: string;
    let inputJson: string;
    let contextJson: string;
    try {
      paramsJson = toJsonText(run.params);
      inputJson = toJsonText(run.input);
      contextJson = toJsonText({ payload: run.context.payload ?? null, rule: run.context.rule ?? null, execution: run.context.execution ?? null });
    } catch (error) {
      return Promise.resolve({ ok: false, code: 'SCRIPT_ERROR', message: `the script's arguments are not JSON: ${(error as Error).message}`, durationMs: 0 });
    }
    this.start();
    // Until the first child is ready, runs that it will take at once (one per isolate) wait too.
    const beyondIsolates = this.everReady ? this.queue.length : this.queue.length - this.poolSize;
    if (!this.hasFreeIsolate() && beyondIsolates >= this.maxQueued) {
      return Promise.resolve({
        ok: false,
        code: 'SANDBOX_BUSY',
        message: `every script isolate is busy and ${this.maxQueued} run(s) are already waiting (SCRIPT_MAX_QUEUED)`,
        durationMs: 0,
      });
    }
    return new Promise<ScriptResult>((resolve) => {
      const timeoutMs = Math.max(1, Math.floor(run.policy.timeoutMs));
      const queuedAt = performance.now();
      const pending: Pending = {
        id: this.nextId++,
        run,
        paramsJson,
        inputJson,
        contextJson,
        timeoutMs,
        memoryLimitMb: Math.max(MIN_MEMORY_LIMIT_MB, Math.floor(run.policy.memoryLimitMb)),
        resolve,
        queuedAt,
        deadline: queuedAt + timeoutMs,
        startedAt: 0,
        settled: false,
      };
      this.queue.push(pending);
      this.pump();
      if (pending.startedAt === 0 && !pending.settled && this.everReady) pending.timer = setTimeout(() => this.onQueueDeadline(pending), timeoutMs);
    });
  }

  private hasFreeIsolate(): boolean {
    return this.child !== undefined && this.ready && this.child.connected && this.inFlight.size < this.poolSize;
  }

  /** Fails queued and running runs (SCRIPT_ERROR) and ends the child. */
  async close(): Promise<void> {
    if (this.closed) return this.exited;
    this.closed = true;
    for (const pending of this.queue.splice(0)) this.settle(pending, { ok: false, code: 'SCRIPT_ERROR', message: 'the sandbox was closed' });
    for (const pending of [...this.inFlight.values()])
      this.settle(pending, { ok: false, code: 'SCRIPT_ERROR', message: 'the sandbox was closed during the run' });
    clearTimeout(this.startTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      // Keep the event loop alive until the exit is seen, so close() settles.
      child.ref();
      child.kill('SIGKILL');
    }
    await this.exited;
  }

  // ---- the child ------------------------------------------------------------------------------
  private spawn(): void {
    if (this.closed || this.unavailable) return;
    this.started = true;
    // The worker runs as the service does: compiled (dist/), or from its sources through tsx.
    const compiled = import.meta.url.endsWith('.js');
    const workerPath = fileURLToPath(new URL(compiled ? './worker.js' : './worker.ts', import.meta.url));
    const execArgv = compiled ? ['--no-node-snapshot'] : ['--no-node-snapshot', '--import', resolveTsx()];
    const config: WorkerConfig = {
      maxIsolates: this.poolSize,
      outputMaxBytes: this.outputMaxBytes,
      logMaxLines: LOG_MAX_LINES,
      logMaxMessageChars: LOG_MAX_MESSAGE_CHARS,
      logMaxDataBytes: LOG_MAX_DATA_BYTES,
      httpMaxRequests: HTTP_MAX_REQUESTS,
      // The isolates warmed at start have the runtimePolicy default size.
      warmMemoryLimitMb: DEFAULT_RUNTIME_POLICY.memoryLimitMb,
    };
    let child: ChildProcess;
    try {
      child = fork(workerPath, [JSON.stringify(config)], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    } catch (error) {
      this.onStartFailure(`the sandbox process could not be started: ${(error as Error).message}`);
      return;
    }
    this.child = child;
    this.ready = false;
    this.stderrTail = '';
    this.fatalMessage = undefined;
    let exitedResolve!: () => void;
    this.exited = new Promise<void>((resolve) => (exitedResolve = resolve));

    // The child never keeps the service alive by itself; runs in flight hold their own timers.
    child.unref();
    (child as ChildProcess & { channel?: { unref(): void } }).channel?.unref();

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-8192);
      this.logger.warn({ stderr: chunk.slice(0, 2000) }, 'script sandbox process wrote to stderr');
    });
    child.on('message', (message: ChildMessage) => this.onMessage(child, message));
    child.on('error', (error) => this.logger.warn({ err: error }, 'script sandbox process error'));
    child.on('exit', (code, signal) => {
      exitedResolve();
      this.onExit(child, code, signal);
    });
    this.startTimer = setTimeout(() => {
      if (this.child === child && !this.ready) {
        this.logger.warn('script sandbox process did not start in time; killing it');
        child.kill('SIGKILL');
      }
    }, START_TIMEOUT_MS);
    this.startTimer.unref();
  }

  private onMessage(child: ChildProcess, message: ChildMessage): void {
    if (child !== this.child) return;
    switch (message.t) {
      case 'ready':
        this.ready = true;
        this.startFailures = 0;
        clearTimeout(this.startTimer);
        this.logger.debug({ package: message.package, pid: child.pid }, 'script sandbox ready');
        if (!this.everReady) this.startQueuedClocks();
        this.pump();
        return;
      case 'unavailable':
        this.markUnavailable(message.reason);
        return;
      case 'fatal':
        this.fatalMessage = message.message;
        return;
      case 'log': {
        const pending = this.inFlight.get(message.id);
        if (!pending || pending.settled) return;
        let data: unknown = null;
        if (message.dataJson !== null) {
          try {
            data = keptAsTextWhenMisshapen(JSON.parse(message.dataJson), message.dataJson);
          } catch {
            data = null;
          }
        }
        this.emitLog(pending, { level: message.level, message: message.message, data });
        return;
      }
      case 'http': {
        const pending = this.inFlight.get(message.id);
        if (!pending || pending.settled) return;
        void this.answerHttp(child, pending, message.reqId, message.request);
        return;
      }
      case 'result': {
        const pending = this.inFlight.get(message.id);
        if (!pending) return;
        this.finish(pending, message.outcome);
        return;
      }
    }
  }

  private async answerHttp(child: ChildProcess, pending: Pending, reqId: number, request: ScriptHttpRequest): Promise<void> {
    let answer: HttpAnswer;
    try {
      const response = await pending.run.onHttp(request);
      if ('blocked' in response && response.blocked) answer = { blocked: String(response.message) };
      else if ('failed' in response && response.failed) answer = { failed: String(response.message) };
      else {
        const ok = response as { status: number; headers: Record<string, string>; body: unknown };
        answer = { ok: { status: ok.status, headers: ok.headers ?? {}, body: ok.body ?? null } };
      }
    } catch (error) {
      answer = { failed: `ctx.http failed: ${(error as Error)?.message ?? String(error)}` };
    }
    if (pending.settled || child !== this.child || !child.connected) return;
    let answerJson: string;
    try {
      answerJson = JSON.stringify(answer);
    } catch {
      answerJson = JSON.stringify({ failed: 'ctx.http: the response is not JSON' });
    }
    this.sendTo(child, { t: 'http-answer', id: pending.id, reqId, answerJson });
  }

  private emitLog(pending: Pending, line: ScriptLogLine): void {
    try {
      pending.run.onLog(line);
    } catch (error) {
      this.logger.warn({ err: error }, 'a script log consumer threw');
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    clearTimeout(this.startTimer);
    this.child = undefined;
    const wasReady = this.ready;
    this.ready = false;
    const memory =
      (signal !== null && OOM_SIGNALS.has(signal)) ||
      code === 134 ||
      OOM_TEXT.test(this.stderrTail) ||
      (this.fatalMessage !== undefined && OOM_TEXT.test(this.fatalMessage));
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    for (const pending of [...this.inFlight.values()]) {
      this.finish(
        pending,
        memory
          ? { ok: false, code: 'SCRIPT_MEMORY_LIMIT', message: `the sandbox process ran out of memory during the run (${how})`, logsDropped: 0 }
          : { ok: false, code: 'SCRIPT_ERROR', message: `the sandbox process died during the run (${how})`, logsDropped: 0 },
      );
    }
    if (this.closed || this.unavailable) return;
    this.logger.warn({ code, signal, pid: child.pid }, 'script sandbox process exited; restarting it');
    if (!wasReady) {
      this.onStartFailure(`the sandbox process exited before it was ready (${how}): ${this.stderrTail.trim().slice(-500)}`);
      return;
    }
    this.spawn();
  }

  private onStartFailure(reason: string): void {
    this.startFailures += 1;
    if (this.startFailures >= MAX_START_FAILURES) {
      this.markUnavailable(reason);
      return;
    }
    const retry = setTimeout(() => this.spawn(), 200 * this.startFailures);
    retry.unref();
  }

  private markUnavailable(reason: string): void {
    if (this.unavailable) return;
    this.unavailable = reason;
    this.logger.warn({ reason }, 'script sandbox unavailable: script runs fail with SANDBOX_UNAVAILABLE');
    for (const pending of this.queue.splice(0)) this.settle(pending, { ok: false, code: 'SANDBOX_UNAVAILABLE', message: reason });
    for (const pending of [...this.inFlight.values()]) this.settle(pending, { ok: false, code: 'SANDBOX_UNAVAILABLE', message: reason });
  }

  // ---- runs -----------------------------------------------------------------------------------
  private pump(): void {
    const child = this.child;
    while (child && this.hasFreeIsolate() && this.queue.length > 0) {
      const pending = this.queue.shift()!;
      const now = performance.now();
      const remainingMs = Math.floor(pending.deadline - now);
      clearTimeout(pending.timer);
      if (remainingMs < 1) {
        this.settle(pending, this.queueTimeout(pending));
        continue;
      }
      pending.child = child;
      pending.startedAt = now;
      this.inFlight.set(pending.id, pending);
      pending.timer = setTimeout(() => this.onBackstop(pending), remainingMs + BACKSTOP_GRACE_MS);
      const sent = this.sendTo(child, {
        t: 'run',
        id: pending.id,
        cacheKey: `${pending.run.key.id}\u0000${pending.run.key.updatedAt}\u0000${pending.run.source.length}`,
        source: pending.run.source,
        paramsJson: pending.paramsJson,
        inputJson: pending.inputJson,
        contextJson: pending.contextJson,
        timeoutMs: pending.timeoutMs,
        remainingMs,
        memoryLimitMb: pending.memoryLimitMb,
        allowNetwork: pending.run.policy.allowNetwork === true,
      });
      if (!sent) {
        // The channel is going away; the exit handler fails what was in flight and restarts.
        return;
      }
    }
  }

  /** Runs queued while the first child started: their timeouts count from now, as if queued now. */
  private startQueuedClocks(): void {
    this.everReady = true;
    const now = performance.now();
    for (const pending of this.queue) {
      pending.queuedAt = now;
      pending.deadline = now + pending.timeoutMs;
      clearTimeout(pending.timer);
      pending.timer = setTimeout(() => this.onQueueDeadline(pending), pending.timeoutMs);
    }
  }

  /** A run still waiting for an isolate at its deadline: it fails without running. */
  private onQueueDeadline(pending: Pending): void {
    const index = this.queue.indexOf(pending);
    if (index < 0 || pending.settled) return;
    this.queue.splice(index, 1);
    this.settle(pending, this.queueTimeout(pending));
  }

  private queueTimeout(pending: Pending): { ok: false; code: 'SCRIPT_TIMEOUT'; message: string } {
    return { ok: false, code: 'SCRIPT_TIMEOUT', message: `the script waited its whole ${pending.timeoutMs} ms timeout for a free isolate and did not run` };
  }

  private onBackstop(pending: Pending): void {
    if (pending.settled) return;
    this.logger.warn({ timeoutMs: pending.timeoutMs }, 'script sandbox process missed a run deadline; killing it');
    this.finish(pending, { ok: false, code: 'SCRIPT_TIMEOUT', message: `the script ran past its ${pending.timeoutMs} ms timeout`, logsDropped: 0 });
    const child = pending.child;
    if (child && child === this.child) child.kill('SIGKILL');
  }

  private finish(pending: Pending, outcome: RunOutcome): void {
    if (pending.settled) return;
    if (outcome.logsDropped !== 0) {
      this.emitLog(pending, {
        level: 'WARN',
        message:
          outcome.logsDropped > 0
            ? `ctx.log: ${outcome.logsDropped} more line(s) were dropped (limit ${LOG_MAX_LINES} per run)`
            : `ctx.log: further lines were dropped (limit ${LOG_MAX_LINES} per run)`,
        data: { limit: LOG_MAX_LINES, dropped: outcome.logsDropped > 0 ? outcome.logsDropped : null },
      });
    }
    if (outcome.ok) {
      let output: unknown;
      try {
        output = keptAsTextWhenMisshapen(JSON.parse(outcome.outputJson), outcome.outputJson);
      } catch {
        this.settle(pending, { ok: false, code: 'SCRIPT_ERROR', message: 'the script returned a value that is not JSON' });
        return;
      }
      this.settle(pending, { ok: true, output });
    } else {
      const waitedMs = Math.round(pending.startedAt - pending.queuedAt);
      const message =
        outcome.code === 'SCRIPT_TIMEOUT' && waitedMs >= 1 ? `${outcome.message} (${waitedMs} ms of it waiting for a free isolate)` : outcome.message;
      this.settle(pending, { ok: false, code: outcome.code, message });
    }
  }

  private settle(pending: Pending, result: { ok: true; output: unknown } | { ok: false; code: ScriptFailureCode; message: string }): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    const wasInFlight = this.inFlight.delete(pending.id);
    const durationMs = Math.round((performance.now() - pending.queuedAt) * 1000) / 1000;
    pending.resolve({ ...result, durationMs } as ScriptResult);
    if (wasInFlight) queueMicrotask(() => this.pump());
  }

  private sendTo(child: ChildProcess, message: ParentMessage): boolean {
    if (!child.connected) return false;
    try {
      child.send(message);
      return true;
    } catch (error) {
      this.logger.warn({ err: error }, 'could not write to the script sandbox process');
      return false;
    }
  }
}

function toJsonText(value: unknown): string {
  if (value === undefined) return 'null';
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
}

let tsxSpecifier: string | undefined;

/** `--import tsx`, resolved from this module so that it works whatever the working directory. */
function resolveTsx(): string {
  if (tsxSpecifier) return tsxSpecifier;
  try {
    tsxSpecifier = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    tsxSpecifier = 'tsx';
  }
  return tsxSpecifier;
}

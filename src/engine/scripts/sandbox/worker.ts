/**
 * The sandbox child process (forked by Sandbox, index.ts). It holds the isolates, so that an
 * allocation that aborts V8 (upstream isolated-vm #527, #107) takes down this process and not
 * the service. The parent sends one run at a time per isolate slot; this process keeps a pool of
 * isolates keyed by memoryLimitMb, runs each script in a fresh context, enforces the wall-clock
 * limit (isolated-vm's own timeout covers only synchronous code, upstream #518, #318) by
 * disposing the isolate, and forwards log lines and ctx.http requests to the parent as they
 * happen.
 */
import { loadIsolatedVm } from './isolatedVm.js';
import type { IsolatedVm, IvmContext, IvmIsolate, IvmReference, IvmScript } from './ivmTypes.js';
import { BOOTSTRAP_FILENAME, readBootstrapSource, SCRIPT_TRAILER, START_GLOBAL, type BootstrapOptions } from './bootstrap.js';
import type { ChildMessage, FailureCode, HttpRequestShape, LogLevel, ParentMessage, RunOutcome, RunRequest, WorkerConfig } from './protocol.js';

/** The filename user scripts are compiled under; error lines come from stack frames in it. */
export const SCRIPT_FILENAME = 'api-script.js';
/** Compiled scripts kept per isolate (least recently used dropped first). */
const SCRIPT_CACHE_PER_ISOLATE = 64;
/** An isolate is replaced after this many runs, or when its heap is past this share of its limit. */
const ISOLATE_MAX_RUNS = 2000;
const ISOLATE_MAX_HEAP_SHARE = 0.6;
const HEAP_CHECK_EVERY = 8;
/** How long an answer waits for log lines the isolate counted but this process has not seen yet. */
const LINES_GRACE_MS = 200;

const LEVELS = new Set<string>(['DEBUG', 'INFO', 'WARN', 'ERROR']);

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const loaded = loadIsolatedVm();
if (!loaded.available) {
  send({ t: 'unavailable', reason: loaded.reason });
  process.disconnect?.();
  process.exit(0);
}
const ivm: IsolatedVm = loaded.ivm;

// The parent going away ends this process. A Ctrl-C or SIGTERM sent to the whole process group
// is the parent's to handle: it stops this process itself once its runs are done.
process.on('disconnect', () => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);

// ---- the isolate pool ------------------------------------------------------------------------------
interface Slot {
  isolate: IvmIsolate;
  memoryLimitMb: number;
  /** The bootstrap, compiled once per isolate: a function taking the hooks and the options. */
  bootstrap: IvmScript;
  scripts: Map<string, IvmScript>;
  busy: boolean;
  retired: boolean;
  runs: number;
  lastUsed: number;
  /** A fresh context with the bootstrap already run, made while the isolate was idle. */
  prepared: Fresh | null;
  /** The making of `prepared`, on the isolate's own thread (this process's loop stays free). */
  preparing: Promise<void> | null;
}

/** A context for one run: never reused, only made ahead of time. */
interface Fresh {
  context: IvmContext;
  /** The bootstrap's bind(paramsJson, inputJson, contextJson, allowNetwork). */
  bind: IvmReference;
  /** The bootstrap's settle(): the answer of a main that returned a thenable. */
  settle: IvmReference;
  /** The run the context's hooks report to, once it is bound. */
  target: { run: RunState | null };
  /** What to release with the context. */
  resources: Array<{ release(): void }>;
}

const OPTIONS_JSON = JSON.stringify({
  outputMaxBytes: config.outputMaxBytes,
  logMaxLines: config.logMaxLines,
  logMaxMessageChars: config.logMaxMessageChars,
  logMaxDataBytes: config.logMaxDataBytes,
  httpMaxRequests: config.httpMaxRequests,
  filename: SCRIPT_FILENAME,
  startGlobal: START_GLOBAL,
} satisfies BootstrapOptions);
const BOOTSTRAP_SOURCE = readBootstrapSource();

async function freshContext(slot: Slot): Promise<Fresh> {
  const context = await slot.isolate.createContext();
  const target: Fresh['target'] = { run: null };
  const resources: Fresh['resources'] = [context];
  try {
    const logHook = new ivm.Callback((level: unknown, message: unknown, dataJson: unknown) => target.run && forwardLog(target.run, level, message, dataJson), {
      ignored: true,
    });
    const httpHook = new ivm.Reference((requestJson: unknown) =>
      target.run ? forwardHttp(target.run, requestJson) : JSON.stringify({ failed: 'the run ended' }),
    );
    resources.push(httpHook);
    const makeHandles = (await slot.bootstrap.run(context, { reference: true })) as IvmReference;
    resources.push(makeHandles);
    const handles = (await makeHandles.apply(undefined, [logHook, httpHook, OPTIONS_JSON], { result: { reference: true } })) as IvmReference;
    resources.push(handles);
    const bind = handles.getSync('bind', { reference: true }) as IvmReference;
    resources.push(bind);
    const settle = handles.getSync('settle', { reference: true }) as IvmReference;
    resources.push(settle);
    return { context, bind, settle, target, resources };
  } catch (error) {
    releaseAll(resources);
    throw error;
  }
}

/** Starts making the slot's next context unless it has one or is making it. */
function prepare(slot: Slot): void {
  if (slot.prepared || slot.preparing || slot.retired || slot.isolate.isDisposed) return;
  slot.preparing = freshContext(slot).then(
    (fresh) => {
      slot.preparing = null;
      if (slot.retired || slot.isolate.isDisposed) releaseFresh(fresh);
      else slot.prepared = fresh;
    },
    () => {
      slot.preparing = null;
    },
  );
}

async function takeFresh(slot: Slot): Promise<Fresh> {
  if (!slot.prepared && slot.preparing) await slot.preparing;
  const fresh = slot.prepared ?? (await freshContext(slot));
  slot.prepared = null;
  return fresh;
}

function releaseFresh(fresh: Fresh | null): void {
  if (fresh) releaseAll(fresh.resources);
}

function releaseAll(resources: Array<{ release(): void }>): void {
  for (const resource of resources) {
    try {
      resource.release();
    } catch {
      /* gone with the isolate */
    }
  }
}

const slots: Slot[] = [];

function newIsolate(memoryLimitMb: number): IvmIsolate {
  return new ivm.Isolate({
    memoryLimit: memoryLimitMb,
    onCatastrophicError: (message: string) => {
      // V8 lost control of an isolate; isolated-vm's advice is to end the process.
      send({ t: 'fatal', message: String(message) });
      process.abort();
    },
  });
}

const idle = (s: Slot, memoryLimitMb: number) => !s.busy && s.memoryLimitMb === memoryLimitMb && !s.isolate.isDisposed;

/**
 * An isolate for one run: an idle one whose next context is ready, else a new one while under
 * the cap (so that back-to-back runs alternate between isolates, each making its next context
 * while another runs), else any idle one of the right size, else a new one in place of the
 * least recently used idle isolate.
 */
function acquire(memoryLimitMb: number): Slot {
  let slot =
    slots.find((s) => idle(s, memoryLimitMb) && s.prepared) ?? (slots.length < config.maxIsolates ? undefined : slots.find((s) => idle(s, memoryLimitMb)));
  if (!slot) {
    while (slots.length >= config.maxIsolates) {
      let victim: Slot | undefined;
      for (const s of slots) if (!s.busy && (!victim || s.lastUsed < victim.lastUsed)) victim = s;
      if (!victim) break;
      retire(victim);
    }
    const isolate = newIsolate(memoryLimitMb);
    const bootstrap = isolate.compileScriptSync(BOOTSTRAP_SOURCE, { filename: BOOTSTRAP_FILENAME });
    slot = { isolate, bootstrap, memoryLimitMb, scripts: new Map(), busy: false, retired: false, runs: 0, lastUsed: 0, prepared: null, preparing: null };
    slots.push(slot);
  }
  slot.busy = true;
  return slot;
}

function retire(slot: Slot): void {
  slot.retired = true;
  const index = slots.indexOf(slot);
  if (index >= 0) slots.splice(index, 1);
  releaseAll([...slot.scripts.values(), slot.bootstrap, ...(slot.prepared?.resources ?? [])]);
  slot.scripts.clear();
  slot.prepared = null;
  try {
    if (!slot.isolate.isDisposed) slot.isolate.dispose();
  } catch {
    /* already disposed */
  }
}

/** After a run: retire the isolate if it hit a limit or grew too big, else make its next context. */
async function release(slot: Slot, limitHit: boolean): Promise<void> {
  slot.runs += 1;
  slot.lastUsed = Date.now();
  if (limitHit || slot.isolate.isDisposed || slot.runs >= ISOLATE_MAX_RUNS) {
    retire(slot);
    return;
  }
  if (slot.runs % HEAP_CHECK_EVERY === 0) {
    try {
      const heap = await slot.isolate.getHeapStatistics();
      if (heap.used_heap_size > slot.memoryLimitMb * 1024 * 1024 * ISOLATE_MAX_HEAP_SHARE) {
        retire(slot);
        return;
      }
    } catch {
      retire(slot);
      return;
    }
  }
  slot.busy = false;
  prepare(slot);
}

async function compiled(slot: Slot, cacheKey: string, source: string): Promise<IvmScript> {
  const cached = slot.scripts.get(cacheKey);
  if (cached) {
    slot.scripts.delete(cacheKey);
    slot.scripts.set(cacheKey, cached);
    return cached;
  }
  const script = await slot.isolate.compileScript(source + SCRIPT_TRAILER, { filename: SCRIPT_FILENAME });
  slot.scripts.set(cacheKey, script);
  if (slot.scripts.size > SCRIPT_CACHE_PER_ISOLATE) {
    const oldest = slot.scripts.keys().next().value as string;
    slot.scripts.get(oldest)?.release();
    slot.scripts.delete(oldest);
  }
  return script;
}

// ---- quick scripts ---------------------------------------------------------------------------------
/**
 * Scripts whose last synchronous part took at most QUICK_MS run on this process's own thread
 * (runSync): no trip to an isolate thread and back, which for a quick script is most of its
 * time. Every other script (and every script the first time) runs on the isolate's thread, so
 * that a slow one never holds up this process; one that turns slow runs there again from its
 * next run. A quick script that turns slow holds this process up at most until its own timeout.
 */
const QUICK_MS = 1;
const QUICK_SCRIPTS_MAX = 4096;
const quickScripts = new Set<string>();

async function runScript(script: IvmScript, context: IvmContext, cacheKey: string, deadline: number): Promise<unknown> {
  const quick = quickScripts.has(cacheKey);
  const began = performance.now();
  let tookMs = Number.POSITIVE_INFINITY;
  try {
    const answer = quick
      ? script.runSync(context, { timeout: remaining(deadline), copy: true })
      : await script.run(context, { timeout: remaining(deadline), copy: true });
    tookMs = performance.now() - began;
    return answer;
  } finally {
    if (tookMs <= QUICK_MS) {
      if (quickScripts.size >= QUICK_SCRIPTS_MAX) quickScripts.clear();
      quickScripts.add(cacheKey);
    } else quickScripts.delete(cacheKey);
  }
}

// ---- runs ------------------------------------------------------------------------------------------
interface RunState {
  id: number;
  done: boolean;
  /** Log lines the script wrote that have reached this process (the hook is called asynchronously). */
  linesSeen: number;
  /** Set while the answer waits for the last of its log lines. */
  linesAwaited: { count: number; resolve(): void } | null;
  linesForwarded: number;
  capReached: boolean;
  httpNext: number;
  httpWaiting: Map<number, (answerJson: string) => void>;
  allowNetwork: boolean;
}

const runs = new Map<number, RunState>();

class LimitHit extends Error {
  constructor(
    readonly code: 'SCRIPT_TIMEOUT',
    message: string,
  ) {
    super(message);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
const FRAME = new RegExp(`${escapeRegExp(SCRIPT_FILENAME)}:(\\d+):(\\d+)`);

/** A message for an error isolated-vm raised in this process: the script's words, no host stack. */
function describeHostError(error: unknown): string {
  if (!(error instanceof Error)) return 'the script failed';
  if (/not an instance of `?Error`?/.test(error.message)) return 'the script threw a value that is not an Error at its top level';
  const text = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  const match = typeof error.stack === 'string' ? FRAME.exec(error.stack) : null;
  return match ? `${text} (line ${match[1]}, column ${match[2]})` : text;
}

function classify(error: unknown, slot: Slot, timeoutMs: number, memoryLimitMb: number): { code: FailureCode; message: string } {
  if (error instanceof LimitHit) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return { code: 'SCRIPT_TIMEOUT', message: `the script ran past its ${timeoutMs} ms timeout` };
  if (/memory limit/i.test(message) || slot.isolate.isDisposed) {
    return { code: 'SCRIPT_MEMORY_LIMIT', message: `the script went over its ${memoryLimitMb} MB memory limit` };
  }
  return { code: 'SCRIPT_ERROR', message: describeHostError(error) };
}

async function execute(request: RunRequest): Promise<RunOutcome> {
  const state: RunState = {
    id: request.id,
    done: false,
    linesSeen: 0,
    linesAwaited: null,
    linesForwarded: 0,
    capReached: false,
    httpNext: 1,
    httpWaiting: new Map(),
    allowNetwork: request.allowNetwork,
  };
  runs.set(request.id, state);
  const slot = acquire(request.memoryLimitMb);
  const deadline = Date.now() + request.remainingMs;
  let limitHit = false;
  let timer: NodeJS.Timeout | undefined;

  const wallClock = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Awaited work is out of reach of isolated-vm's own timeout: end it by disposing the isolate.
      try {
        slot.isolate.dispose();
      } catch {
        /* already disposed */
      }
      reject(new LimitHit('SCRIPT_TIMEOUT', `the script ran past its ${request.timeoutMs} ms timeout`));
    }, request.remainingMs);
  });

  const work = (async (): Promise<RunOutcome> => {
    let fresh: Fresh | null = null;
    try {
      const script = await compiled(slot, request.cacheKey, request.source);
      fresh = await takeFresh(slot);
      fresh.target.run = state;
      fresh.bind.applySync(undefined, [request.paramsJson, request.inputJson, request.contextJson, request.allowNetwork], { timeout: remaining(deadline) });
      // The script ends by calling start() (SCRIPT_TRAILER): the user's code and main in one trip.
      let answer = await runScript(script, fresh.context, request.cacheKey, deadline);
      if (Array.isArray(answer) && answer[0] === 'pending') {
        answer = await fresh.settle.apply(undefined, [], { timeout: remaining(deadline), result: { promise: true, copy: true } });
      }
      await linesIn(state, linesWrittenOf(answer));
      return decode(answer);
    } finally {
      if (fresh) fresh.target.run = null;
      releaseFresh(fresh);
    }
  })();

  let outcome: RunOutcome;
  try {
    outcome = await Promise.race([work, wallClock]);
  } catch (error) {
    const failure = classify(error, slot, request.timeoutMs, request.memoryLimitMb);
    limitHit = failure.code !== 'SCRIPT_ERROR' || slot.isolate.isDisposed;
    outcome = { ok: false, ...failure, logsDropped: 0 };
  } finally {
    clearTimeout(timer);
    state.done = true;
    runs.delete(request.id);
    for (const resolve of state.httpWaiting.values()) resolve(JSON.stringify({ failed: 'the run ended' }));
    state.httpWaiting.clear();
  }
  work.catch(() => undefined);
  wallClock.catch(() => undefined);

  // The isolate's count is exact; when the run ended without it, say only that lines were dropped.
  const logsDropped = outcome.logsDropped > 0 ? outcome.logsDropped : state.capReached ? -1 : 0;
  // The answer goes out first; the slot stays busy until it is checked and its next context is on the way.
  void release(slot, limitHit);
  return { ...outcome, logsDropped };
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

function decode(answer: unknown): RunOutcome {
  if (Array.isArray(answer)) {
    const [kind, a, b, c] = answer as unknown[];
    if (kind === 'ok' && typeof a === 'string') {
      if (Buffer.byteLength(a, 'utf8') > config.outputMaxBytes) {
        return { ok: false, code: 'OUTPUT_TOO_LARGE', message: `the output is over ${config.outputMaxBytes} bytes`, logsDropped: count(b) };
      }
      return { ok: true, outputJson: a, logsDropped: count(b) };
    }
    if (kind === 'error' && typeof a === 'string' && typeof b === 'string') {
      const code: FailureCode = a === 'HTTP_BLOCKED' || a === 'OUTPUT_TOO_LARGE' ? a : 'SCRIPT_ERROR';
      return { ok: false, code, message: b, logsDropped: count(c) };
    }
  }
  return { ok: false, code: 'SCRIPT_ERROR', message: 'the script ended without a result', logsDropped: 0 };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/**
 * The log hook is called asynchronously, so an answer can come before its last lines: it waits
 * for them here, so that every line is sent before the result.
 */
function linesIn(state: RunState, written: number): Promise<void> | undefined {
  if (state.linesSeen >= written) return undefined;
  return new Promise((resolve) => {
    // A line lost on the way (none should be) costs at most this wait, never the run.
    const timer = setTimeout(resolve, LINES_GRACE_MS);
    state.linesAwaited = {
      count: written,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    };
  });
}

function linesWrittenOf(answer: unknown): number {
  if (!Array.isArray(answer)) return 0;
  return count(answer[0] === 'ok' ? answer[3] : answer[4]);
}

function forwardLog(state: RunState, level: unknown, message: unknown, dataJson: unknown): void {
  if (level !== 'DROPPED') state.linesSeen += 1;
  if (state.linesAwaited && state.linesSeen >= state.linesAwaited.count) {
    const { resolve } = state.linesAwaited;
    state.linesAwaited = null;
    resolve();
  }
  if (state.done) return;
  if (level === 'DROPPED' || state.linesForwarded >= config.logMaxLines) {
    state.capReached = true;
    return;
  }
  if (typeof level !== 'string' || !LEVELS.has(level)) return;
  state.linesForwarded += 1;
  let text = typeof message === 'string' ? message : String(message);
  if (text.length > config.logMaxMessageChars + 32) text = `${text.slice(0, config.logMaxMessageChars)}... [truncated]`;
  const data = typeof dataJson === 'string' && dataJson.length <= config.logMaxDataBytes ? dataJson : null;
  send({ t: 'log', id: state.id, level: level as LogLevel, message: text, dataJson: data });
}

function forwardHttp(state: RunState, requestJson: unknown): Promise<string> | string {
  if (state.done) return JSON.stringify({ failed: 'the run ended' });
  if (!state.allowNetwork) return JSON.stringify({ blocked: 'ctx.http is not allowed for this script (runtimePolicy.allowNetwork is false)' });
  let request: HttpRequestShape;
  try {
    request = JSON.parse(String(requestJson)) as HttpRequestShape;
  } catch {
    return JSON.stringify({ failed: 'ctx.http: the request could not be read' });
  }
  const reqId = state.httpNext++;
  return new Promise<string>((resolve) => {
    state.httpWaiting.set(reqId, resolve);
    send({ t: 'http', id: state.id, reqId, request });
  });
}

// ---- messages from the parent -------------------------------------------------------------------
process.on('message', (message: ParentMessage) => {
  if (message.t === 'run') {
    void execute(message).then(
      (outcome) => send({ t: 'result', id: message.id, outcome }),
      (error: unknown) =>
        send({
          t: 'result',
          id: message.id,
          outcome: { ok: false, code: 'SCRIPT_ERROR', message: `sandbox failure: ${String((error as Error)?.message ?? error)}`, logsDropped: 0 },
        }),
    );
  } else if (message.t === 'http-answer') {
    const state = runs.get(message.id);
    const resolve = state?.httpWaiting.get(message.reqId);
    if (state && resolve) {
      state.httpWaiting.delete(message.reqId);
      resolve(message.answerJson);
    }
  }
});

// ---- warm-up: isolates of the default size (two, so back-to-back runs can alternate), each with its
// bootstrap compiled, a run done, and its next context made --------------------------------------
async function warmUp(): Promise<void> {
  const isolates = Math.min(2, config.maxIsolates);
  const outcomes = await Promise.all(
    Array.from({ length: isolates }, (_, i) =>
      execute({
        t: 'run',
        id: -i,
        cacheKey: '\0warm-up',
        source: 'function main(params, input, ctx) { ctx.log.debug("warm"); return { ok: [params, input] }; }',
        paramsJson: '{}',
        inputJson: 'null',
        contextJson: '{"payload":null,"rule":null,"execution":null}',
        timeoutMs: 10_000,
        remainingMs: 10_000,
        memoryLimitMb: config.warmMemoryLimitMb,
        allowNetwork: false,
      }),
    ),
  );
  const failed = outcomes.find((outcome) => !outcome.ok);
  if (failed && !failed.ok) throw new Error(`warm-up run failed: ${failed.message}`);
  await Promise.all(slots.map((slot) => slot.preparing));
}

warmUp().then(
  () => send({ t: 'ready', package: loaded.package }),
  (error: unknown) => {
    send({ t: 'unavailable', reason: `the sandbox could not run a script: ${String((error as Error)?.message ?? error)}` });
    process.exit(1);
  },
);

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, type ScriptHttpRequest, type ScriptHttpResponse, type ScriptLogLine, type ScriptRun } from '../../src/engine/scripts/sandbox/index.js';
import { checkScriptSource } from '../../src/engine/scripts/sandbox/validateSource.js';
import { SpecError } from '../../src/engine/rules/spec/errors.js';
import { poll } from '../support/wait.js';

let sandbox: Sandbox;
let keySeq = 0;

type Overrides = Partial<Omit<ScriptRun, 'policy'>> & { policy?: Partial<ScriptRun['policy']> };

beforeAll(async () => {
  sandbox = Sandbox.create({ poolSize: 4, outputMaxBytes: 1024 * 1024, logger: pino({ level: 'silent' }), startNow: true });
  await sandbox.whenReady();
});

afterAll(async () => {
  await sandbox?.close();
});

function script(source: string, overrides: Overrides = {}): ScriptRun {
  const { policy, ...rest } = overrides;
  return {
    key: { id: `script-${++keySeq}`, updatedAt: 1 },
    source,
    params: {},
    input: null,
    context: { payload: null, rule: null, execution: null },
    onLog: () => undefined,
    onHttp: async () => ({ failed: true, message: 'no http in this test' }),
    ...rest,
    policy: { timeoutMs: 2000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [], ...policy },
  };
}

async function output(source: string, overrides: Overrides = {}): Promise<unknown> {
  const result = await sandbox.run(script(source, overrides));
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result.output;
}

async function stillServes(): Promise<void> {
  // A run's timeout counts from its call, a wait for a restarted sandbox process included.
  await sandbox.whenReady();
  const result = await sandbox.run(script('function main(params) { return { n: params.n + 1 }; }', { params: { n: 41 } }));
  expect(result).toMatchObject({ ok: true, output: { n: 42 } });
}

describe('checkScriptSource', () => {
  it('accepts the forms of main', () => {
    for (const source of [
      'function main(params, input, ctx) { return 1; }',
      'async function main() { return 1; }',
      'const main = async (params, input, ctx) => ({ ok: true });',
      'let main = function () { return 1; };',
      'var main = () => 1;\nfunction helper() {}',
    ]) {
      expect(() => checkScriptSource(source)).not.toThrow();
    }
  });

  it('refuses a syntax error with its line and column', () => {
    const error = catchSpec(() => checkScriptSource('function main() {\n  return 1;\n  const = 2;\n}'));
    expect(error.specPath).toBe('input.source');
    expect(error.message).toMatch(/syntax error at line 3, column \d+/);
  });

  it('refuses a source without a top-level main', () => {
    expect(catchSpec(() => checkScriptSource('function notMain() { return 1; }')).message).toMatch(/no top-level main/);
    expect(catchSpec(() => checkScriptSource('function outer() { function main() {} }')).message).toMatch(/no top-level main/);
    expect(catchSpec(() => checkScriptSource('const main = 42;')).message).toMatch(/no top-level main/);
  });

  it('refuses import and export declarations and import()', () => {
    expect(catchSpec(() => checkScriptSource('import fs from "node:fs";\nfunction main() {}')).message).toMatch(
      /import declarations are not allowed.*\(line 1, column 1\)/,
    );
    expect(catchSpec(() => checkScriptSource('export function main() {}')).message).toMatch(/export declarations are not allowed/);
    expect(catchSpec(() => checkScriptSource('function main() {}\nexport default main;')).message).toMatch(/export declarations are not allowed.*\(line 2/);
    expect(catchSpec(() => checkScriptSource('async function main() {\n  return await import("node:fs");\n}')).message).toMatch(
      /import\(\) is not allowed in a script \(line 2/,
    );
  });
});

function catchSpec(fn: () => void): SpecError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return error as SpecError;
  }
  throw new Error('expected a SpecError');
}

describe('Sandbox results', () => {
  it('runs a sync main with params, input and ctx', async () => {
    const result = await sandbox.run(
      script('function main(params, input, ctx) { return { params, input, payload: ctx.payload, rule: ctx.rule, execution: ctx.execution }; }', {
        params: { a: 1 },
        input: { b: [1, 2] },
        context: { payload: { p: 'x' }, rule: { id: 'r1', name: 'Rule' }, execution: { id: 'e1', cascadeId: 'c1', depth: 2 } },
      }),
    );
    expect(result).toMatchObject({
      ok: true,
      output: {
        params: { a: 1 },
        input: { b: [1, 2] },
        payload: { p: 'x' },
        rule: { id: 'r1', name: 'Rule' },
        execution: { id: 'e1', cascadeId: 'c1', depth: 2 },
      },
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs an async main (const arrow) and turns undefined into null', async () => {
    expect(await output('const main = async (params) => { await null; return params.x * 2; };', { params: { x: 21 } })).toBe(42);
    expect(await output('function main() {}')).toBeNull();
    expect(await output('function main() { return { a: undefined, b: [undefined, 1] }; }')).toEqual({ b: [null, 1] });
  });

  it('reports a thrown error with its message and line, without a host stack', async () => {
    const result = await sandbox.run(script('function main() {\n  const x = 1;\n  throw new RangeError("bad value " + x);\n}'));
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
    if (result.ok) return;
    expect(result.message).toContain('RangeError: bad value 1');
    expect(result.message).toContain('line 3');
    expect(result.message).not.toMatch(/\/work\/|node:|isolated-vm|worker\.ts/);

    const top = await sandbox.run(script('null.x;\nfunction main() {}'));
    expect(top).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
    if (!top.ok) expect(top.message).toMatch(/TypeError.*line 1/);

    const thrownObject = await sandbox.run(script('function main() { throw { reason: "nope" }; }'));
    expect(thrownObject).toMatchObject({ ok: false, code: 'SCRIPT_ERROR', message: '{"reason":"nope"}' });
  });

  it('refuses a return value that is not JSON, naming the path', async () => {
    const cases: Array<[string, RegExp]> = [
      ['return { a: { f: () => 1 } };', /output\.a\.f is a function/],
      ['return [1, Symbol("s")];', /output\[1\] is a symbol/],
      ['return { n: 10n };', /output\.n is a BigInt/],
      ['const o = { x: {} }; o.x.self = o; return o;', /output\.x\.self is a circular reference/],
      ['return { v: NaN };', /output\.v is NaN/],
      ['return { "a b": Infinity };', /output\["a b"\] is Infinity/],
      ['return { when: new Date(0) };', /output\.when is an instance of Date/],
      ['class Point { constructor() { this.x = 1; } } return new Point();', /output is an instance of Point/],
      ['return new Map();', /output is an instance of Map/],
    ];
    for (const [body, pattern] of cases) {
      const result = await sandbox.run(script(`function main() { ${body} }`));
      expect(result, body).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
      if (!result.ok) expect(result.message, body).toMatch(pattern);
    }
  });

  it('refuses an output over the cap with OUTPUT_TOO_LARGE', async () => {
    const result = await sandbox.run(script('function main() { return { big: "x".repeat(1024 * 1024) }; }'));
    expect(result).toMatchObject({ ok: false, code: 'OUTPUT_TOO_LARGE' });
    // multi-byte characters count as UTF-8 bytes
    const wide = await sandbox.run(script('function main() { return "é".repeat(600 * 1024); }'));
    expect(wide).toMatchObject({ ok: false, code: 'OUTPUT_TOO_LARGE' });
    expect(await output('function main() { return "x".repeat(1000 * 1024); }')).toHaveLength(1000 * 1024);
  });

  it('the output cap is configurable', async () => {
    const small = Sandbox.create({ poolSize: 1, outputMaxBytes: 100, logger: pino({ level: 'silent' }), startNow: true });
    try {
      expect(await small.run(script('function main() { return "x".repeat(200); }'))).toMatchObject({ ok: false, code: 'OUTPUT_TOO_LARGE' });
      expect(await small.run(script('function main() { return "x".repeat(50); }'))).toMatchObject({ ok: true });
    } finally {
      await small.close();
    }
  });
});

describe('ctx.log', () => {
  it('streams lines live, before the run ends', async () => {
    const lines: ScriptLogLine[] = [];
    let answer!: (response: ScriptHttpResponse) => void;
    let requested: ScriptHttpRequest | undefined;
    const running = sandbox.run(
      script(
        `async function main(params, input, ctx) {
           ctx.log("starting", { step: 1 });
           ctx.log.warn("about to call");
           const response = await ctx.http.request({ method: "post", url: "http://sink.test/x", headers: { "x-a": 1 }, body: { q: 1 } });
           ctx.log.debug("done");
           return response;
         }`,
        {
          policy: { allowNetwork: true },
          onLog: (line) => lines.push(line),
          onHttp: (request) => {
            requested = request;
            return new Promise((resolve) => (answer = resolve));
          },
        },
      ),
    );
    await poll(() => lines.length >= 2 && requested !== undefined, Boolean, 10_000, 'two log lines and a request', 5);
    expect(lines).toEqual([
      { level: 'INFO', message: 'starting', data: { step: 1 } },
      { level: 'WARN', message: 'about to call', data: null },
    ]);
    expect(requested).toEqual({ method: 'POST', url: 'http://sink.test/x', headers: { 'x-a': '1' }, body: { q: 1 } });
    answer({ status: 201, headers: { 'content-type': 'application/json' }, body: { created: true } });
    const result = await running;
    expect(result).toMatchObject({ ok: true, output: { status: 201, headers: { 'content-type': 'application/json' }, body: { created: true } } });
    expect(lines.map((l) => l.level)).toEqual(['INFO', 'WARN', 'DEBUG']);
  });

  it('caps lines per run and message length, and says what was dropped', async () => {
    const lines: ScriptLogLine[] = [];
    const result = await sandbox.run(
      script('function main(p, i, ctx) { ctx.log.info("x".repeat(10000)); for (let n = 0; n < 1100; n++) ctx.log("line " + n); return 1; }', {
        onLog: (line) => lines.push(line),
      }),
    );
    expect(result).toMatchObject({ ok: true });
    expect(lines).toHaveLength(1001);
    expect(lines[0]!.message.length).toBeLessThan(4200);
    expect(lines[1000]).toMatchObject({ level: 'WARN', data: { dropped: 101 } });
  });

  it('replaces log data that is not JSON with a note', async () => {
    const lines: ScriptLogLine[] = [];
    await sandbox.run(script('function main(p, i, ctx) { ctx.log("with fn", { f() {} }); console.log("via console"); }', { onLog: (l) => lines.push(l) }));
    expect(lines[0]).toMatchObject({ level: 'INFO', data: null });
    expect(lines[0]!.message).toMatch(/data omitted: data\.f is a function/);
    expect(lines[1]).toMatchObject({ level: 'INFO', message: 'via console' });
  });
});

describe('ctx.http', () => {
  it('is refused without allowNetwork: catchable, and HTTP_BLOCKED when uncaught', async () => {
    let called = false;
    const onHttp = async () => {
      called = true;
      return { status: 200, headers: {}, body: null };
    };
    const uncaught = await sandbox.run(script('async function main(p, i, ctx) { return await ctx.http.get("http://127.0.0.1/"); }', { onHttp }));
    expect(uncaught).toMatchObject({ ok: false, code: 'HTTP_BLOCKED' });
    const caught = await output(
      'async function main(p, i, ctx) { try { await ctx.http.post("http://127.0.0.1/", {}); } catch (e) { return { code: e.code, message: e.message }; } }',
      { onHttp },
    );
    expect(caught).toMatchObject({ code: 'HTTP_BLOCKED' });
    expect(called).toBe(false);
  });

  it('turns a refusal from onHttp into HTTP_BLOCKED, and a failure into a catchable error', async () => {
    const blocked = await sandbox.run(
      script('async function main(p, i, ctx) { return await ctx.http.get("http://10.0.0.1/"); }', {
        policy: { allowNetwork: true },
        onHttp: async () => ({ blocked: true, message: 'refused by the outbound guard: 10.0.0.1 is private' }),
      }),
    );
    expect(blocked).toMatchObject({ ok: false, code: 'HTTP_BLOCKED' });
    if (!blocked.ok) expect(blocked.message).toContain('refused by the outbound guard');

    const failed = await output(
      'async function main(p, i, ctx) { try { await ctx.http.get("http://x.test/"); } catch (e) { return e.code + ": " + e.message; } }',
      {
        policy: { allowNetwork: true },
        onHttp: async () => ({ failed: true, message: 'connect ECONNREFUSED' }),
      },
    );
    expect(failed).toBe('HTTP_FAILED: connect ECONNREFUSED');
  });
});

describe("quick scripts (run on the sandbox process's own thread after a quick run)", () => {
  it('give the same results, thrown errors and async answers run after run', async () => {
    const run = script(
      `async function helper(x) { return x * 2; }
       function main(params, input, ctx) {
         if (params.mode === "throw") throw new RangeError("bad " + params.n);
         if (params.mode === "async") return helper(params.n);
         return { n: params.n, input };
       }`,
    );
    for (let n = 0; n < 5; n++) {
      expect(await sandbox.run({ ...run, params: { mode: 'sync', n }, input: { i: n } })).toMatchObject({ ok: true, output: { n, input: { i: n } } });
      expect(await sandbox.run({ ...run, params: { mode: 'async', n } })).toMatchObject({ ok: true, output: n * 2 });
      const thrown = await sandbox.run({ ...run, params: { mode: 'throw', n } });
      expect(thrown).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
      expect(thrown.ok || thrown.message).toMatch(new RegExp(`RangeError: bad ${n} \\(line 3`));
    }
  });

  it('deliver every log line before the answer, in order', async () => {
    const source = 'function main(params, input, ctx) { for (let n = 0; n < params.lines; n++) ctx.log.info("line " + n, { n }); return params.lines; }';
    const key = { id: 'quick-logs', updatedAt: 1 };
    for (let round = 0; round < 5; round++) {
      const lines: ScriptLogLine[] = [];
      const result = await sandbox.run({ ...script(source, { params: { lines: 40 + round }, onLog: (line) => lines.push(line) }), key });
      expect(result).toMatchObject({ ok: true, output: 40 + round });
      expect(lines.map((l) => l.data)).toEqual(Array.from({ length: 40 + round }, (_, n) => ({ n })));
    }
  });

  it('reach ctx.http and get its answer, run after run', async () => {
    const requests: ScriptHttpRequest[] = [];
    const run = script(
      'async function main(params, input, ctx) { const r = await ctx.http.get("http://sink.test/n/" + params.n); ctx.log("got", r.body); return r.body; }',
      {
        policy: { allowNetwork: true },
        onHttp: async (request) => {
          requests.push(request);
          return { status: 200, headers: {}, body: { echo: request.url } };
        },
      },
    );
    for (let n = 0; n < 5; n++) {
      const lines: ScriptLogLine[] = [];
      const result = await sandbox.run({ ...run, params: { n }, onLog: (line) => lines.push(line) });
      expect(result).toMatchObject({ ok: true, output: { echo: `http://sink.test/n/${n}` } });
      expect(lines).toEqual([{ level: 'INFO', message: 'got', data: { echo: `http://sink.test/n/${n}` } }]);
    }
    expect(requests.map((r) => r.url)).toEqual([0, 1, 2, 3, 4].map((n) => `http://sink.test/n/${n}`));
  });

  it('end with SCRIPT_TIMEOUT when a quick script turns into an endless loop, and the pool keeps working', async () => {
    const run = script('function main(params) { if (params.loop) for (;;) {} return 1; }', { policy: { timeoutMs: 300 } });
    for (let n = 0; n < 3; n++) expect(await sandbox.run({ ...run, params: { loop: false } })).toMatchObject({ ok: true, output: 1 });
    const started = Date.now();
    expect(await sandbox.run({ ...run, params: { loop: true } })).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await sandbox.run({ ...run, params: { loop: false } })).toMatchObject({ ok: true, output: 1 });
    await stillServes();
  });
});

describe('limits', () => {
  it('ends an infinite loop with SCRIPT_TIMEOUT and the pool keeps working', async () => {
    const started = Date.now();
    const result = await sandbox.run(script('function main() { for (;;) {} }', { policy: { timeoutMs: 300 } }));
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
    await stillServes();
  });

  it('ends a loop after an await with SCRIPT_TIMEOUT', async () => {
    const result = await sandbox.run(script('async function main() { await null; for (;;) {} }', { policy: { timeoutMs: 300 } }));
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    await stillServes();
  });

  it('ends an awaited never-resolving promise with SCRIPT_TIMEOUT', async () => {
    const started = Date.now();
    const result = await sandbox.run(script('async function main() { await new Promise(() => {}); return 1; }', { policy: { timeoutMs: 300 } }));
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
    await stillServes();
  });

  it('counts awaited ctx.http time toward the timeout', async () => {
    const result = await sandbox.run(
      script('async function main(p, i, ctx) { return await ctx.http.get("http://slow.test/"); }', {
        policy: { timeoutMs: 300, allowNetwork: true },
        onHttp: () => new Promise(() => undefined),
      }),
    );
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    await stillServes();
  });

  it('ends a memory bomb with SCRIPT_MEMORY_LIMIT and keeps serving', async () => {
    const result = await sandbox.run(
      script('function main() { const hog = []; for (;;) hog.push(new Array(100000).fill(Math.random())); }', {
        policy: { memoryLimitMb: 16, timeoutMs: 10000 },
      }),
    );
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_MEMORY_LIMIT' });
    await stillServes();
    const again = await sandbox.run(script('function main() { return "ok"; }', { policy: { memoryLimitMb: 16 } }));
    expect(again).toMatchObject({ ok: true, output: 'ok' });
  });

  it('survives a crash of the sandbox process: the run in flight fails, the next works', async () => {
    const pid = sandbox.childPid;
    expect(pid).toBeTypeOf('number');
    let asked = false;
    const running = sandbox.run(
      script('async function main(p, i, ctx) { return await ctx.http.get("http://hang.test/"); }', {
        policy: { allowNetwork: true, timeoutMs: 20000 },
        onHttp: () => {
          asked = true;
          return new Promise(() => undefined);
        },
      }),
    );
    await poll(() => asked, Boolean, 10_000, 'the request', 5);
    process.kill(pid!, 'SIGKILL');
    const result = await running;
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
    if (!result.ok) expect(result.message).toMatch(/sandbox process died/);
    await stillServes();
    expect(sandbox.childPid).not.toBe(pid);
  });

  it('completes 50 concurrent runs', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        sandbox.run(
          script('async function main(params, input, ctx) { ctx.log("n", params.n); await null; return params.n * 2; }', {
            key: { id: 'concurrent', updatedAt: 1 },
            params: { n },
          }),
        ),
      ),
    );
    expect(results.map((r) => (r.ok ? r.output : r))).toEqual(Array.from({ length: 50 }, (_, n) => n * 2));
  });
});

describe('escape corpus: nothing of the host is reachable', () => {
  // Each script runs twice under one key: first on the isolate's thread, then (being quick) on
  // the sandbox process's own thread; both must give the same, host-free answer.
  async function output(source: string, overrides: Overrides = {}): Promise<unknown> {
    const run = script(source, overrides);
    const first = await sandbox.run(run);
    const second = await sandbox.run(run);
    expect(second).toMatchObject({ ok: first.ok, ...(first.ok ? { output: first.output } : { code: first.code }) });
    if (!first.ok) throw new Error(`${first.code}: ${first.message}`);
    return first.output;
  }

  const probe = `
    function probe(F) {
      try {
        return F('return [typeof process, typeof require, typeof module, typeof global, typeof Buffer, typeof ivm, typeof _ivm].join(",")')();
      } catch (e) {
        return "threw " + e.name;
      }
    }`;
  const nothing = 'undefined,undefined,undefined,undefined,undefined,undefined,undefined';

  it('constructor chains from every ctx function and from this', async () => {
    const result = await output(
      `${probe}
       const topThis = this;
       async function main(params, input, ctx) {
         const fns = { log: ctx.log, debug: ctx.log.debug, info: ctx.log.info, warn: ctx.log.warn, error: ctx.log.error,
                       request: ctx.http.request, get: ctx.http.get, post: ctx.http.post, console: console.log };
         const out = {};
         for (const [name, fn] of Object.entries(fns)) {
           out[name] = [fn.constructor === Function, probe(fn.constructor), probe(fn.constructor.constructor)];
         }
         out.this = probe(topThis.constructor.constructor);
         out.ctx = probe(ctx.constructor.constructor);
         out.sameRealm = Object.getPrototypeOf(ctx) === Object.prototype;
         return out;
       }`,
    );
    const values = result as Record<string, unknown>;
    for (const [name, value] of Object.entries(values)) {
      if (name === 'sameRealm') expect(value).toBe(true);
      else if (Array.isArray(value)) expect(value, name).toEqual([true, nothing, nothing]);
      else expect(value, name).toBe(nothing);
    }
  });

  it('ctx.log.constructor.constructor("return process")() fails inside the script', async () => {
    const result = await sandbox.run(script('function main(p, i, ctx) { return ctx.log.constructor.constructor("return process")(); }'));
    expect(result).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
    if (!result.ok) expect(result.message).toMatch(/ReferenceError: process is not defined/);
  });

  it('constructor chains from thrown errors (bridge errors and JSON failures)', async () => {
    const result = await output(
      `${probe}
       async function main(params, input, ctx) {
         const out = [];
         try { await ctx.http.get("http://x/"); } catch (e) { out.push(probe(e.constructor.constructor), Object.getPrototypeOf(e) === Error.prototype); }
         try { await ctx.http.request(null); } catch (e) { out.push(probe(e.constructor.constructor), e instanceof Error); }
         try { ctx.log({ toString() { throw new Error("inner"); } }); } catch (e) { out.push(probe(e.constructor.constructor)); }
         try { null.x; } catch (e) { out.push(probe(e.constructor.constructor)); }
         return out;
       }`,
    );
    expect(result).toEqual([nothing, true, nothing, true, nothing, nothing]);
  });

  it("Error.prepareStackTrace sees only the script's own frames", async () => {
    const result = await output(
      `async function main(params, input, ctx) {
         const seen = [];
         Error.prepareStackTrace = (error, frames) => {
           for (const f of frames) seen.push([typeof f.getThis(), typeof f.getFunction(), String(f.getFileName())]);
           return "custom";
         };
         try { ctx.log({ toString() { throw new Error("x"); } }); } catch (e) { e.stack; }
         try { await ctx.http.get("http://x/"); } catch (e) { e.stack; }
         return seen;
       }`,
    );
    const text = JSON.stringify(result);
    expect(text).not.toMatch(/\/work\/|node:|worker|index\.ts|file:/);
    for (const frame of result as string[][]) {
      if (frame[2] !== 'api-script.js') expect(frame.slice(0, 2), JSON.stringify(frame)).toEqual(['undefined', 'undefined']);
    }
  });

  it('Promise species, thenables and Symbol tricks stay inside the isolate', async () => {
    const result = await output(
      `${probe}
       async function main(params, input, ctx) {
         const out = {};
         class Evil extends Promise { static get [Symbol.species]() { out.species = probe(this.constructor); return Promise; } }
         Evil.resolve(1).then(() => 1);
         const p = ctx.http.get("http://x/");
         out.promiseCtor = probe(p.constructor.constructor);
         out.then = probe(p.then.constructor);
         p.catch(() => null);
         out.thenable = await { then(resolve) { resolve(probe(this.constructor.constructor)); } };
         out.symbols = [Object.getOwnPropertySymbols(ctx).length, Object.getOwnPropertySymbols(ctx.log).length, Object.getOwnPropertySymbols(globalThis).map(String)];
         out.inspect = typeof ctx[Symbol.for("nodejs.util.inspect.custom")];
         out.globals = Object.getOwnPropertyNames(globalThis).filter((n) => /^(_?ivm|process|require|Buffer|setTimeout|setInterval|fetch|WebAssembly|SharedArrayBuffer|Atomics)$/.test(n));
         return out;
       }`,
    );
    expect(result).toEqual({
      species: nothing,
      promiseCtor: nothing,
      // biome-ignore lint/suspicious/noThenProperty: a script's answer is checked for a then key
      then: nothing,
      thenable: nothing,
      symbols: [0, 0, []],
      inspect: 'undefined',
      globals: [],
    });
  });

  it("a Proxy as ctx arguments only sees the script's own realm", async () => {
    const result = await output(
      `${probe}
       async function main(params, input, ctx) {
         const seen = [];
         const trap = new Proxy({}, { get(target, key, receiver) { seen.push(probe(target.constructor.constructor), typeof key); return key === "url" ? "http://x/" : undefined; },
                                      ownKeys(target) { seen.push("ownKeys"); return []; } });
         try { ctx.log(trap); } catch (e) { seen.push("threw " + e.name); }
         ctx.log("data", trap);
         try { await ctx.http.request(trap); } catch (e) { seen.push(e.code); }
         const args = new Proxy([], {});
         ctx.log.apply(null, args);
         return seen.filter((s) => s !== "symbol" && s !== "string");
       }`,
    );
    for (const entry of result as string[]) expect([nothing, 'ownKeys', 'HTTP_BLOCKED', 'threw TypeError']).toContain(entry);
    expect(result).toContain('HTTP_BLOCKED');
  });

  it('process, require, fetch, timers, WebAssembly, SharedArrayBuffer and Atomics are absent', async () => {
    const result = await output(
      `function main() {
         return [typeof process, typeof require, typeof fetch, typeof setTimeout, typeof setInterval, typeof setImmediate, typeof queueMicrotask,
                 typeof WebAssembly, typeof SharedArrayBuffer, typeof Atomics, typeof module, typeof exports, typeof globalThis.global];
       }`,
    );
    expect(result).toEqual(Array(13).fill('undefined'));
    for (const source of [
      'function main() { return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000); }',
      'function main() { setTimeout(() => 1, 0); }',
      'function main() { return process.pid; }',
      'function main() { return require("fs"); }',
      'async function main() { return await fetch("http://example.com"); }',
      'async function main() { return WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); }',
    ]) {
      const r = await sandbox.run(script(source));
      expect(r, source).toMatchObject({ ok: false, code: 'SCRIPT_ERROR' });
      if (!r.ok) expect(r.message, source).toMatch(/ReferenceError/);
    }
  });

  it('import() (past the save check, through eval and Function) loads nothing', async () => {
    const result = await output(
      `async function main() {
         const out = [];
         for (const load of [() => eval('import("node:fs")'), () => Function('return import("node:child_process")')()]) {
           try { const m = await load(); out.push("loaded " + typeof m); } catch (e) { out.push("refused"); }
         }
         return out;
       }`,
    );
    expect(result).toEqual(['refused', 'refused']);
  });

  it('main.caller and arguments do not reach the bootstrap', async () => {
    const result = await output(
      `function main(params, input, ctx) {
         let caller;
         try { caller = main.caller === null ? "null" : typeof main.caller; } catch (e) { caller = "threw"; }
         return [caller, arguments.length];
       }`,
    );
    expect(result).toEqual(['null', 3]);
  });
});

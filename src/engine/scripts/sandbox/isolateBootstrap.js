// @ts-check
/**
 * The sandbox bootstrap: run in every fresh context before the user's script, while the context
 * is made ahead of time on an idle isolate. It is not a Node module: the worker compiles this
 * file's text as a script inside the isolate, and the script's value is the function below, which
 * the worker calls with the two host hooks and the options. Running first, it captures the
 * intrinsics it needs before user code can touch them, removes what must not be there, and builds
 * `ctx` around the hooks:
 *
 *   logHook  an isolated-vm Callback in "ignored" mode, (level, message, dataJson?) => void
 *   httpHook an isolated-vm Reference to the child's async (requestJson) => answerJson
 *   optionsJson  JSON text, see BootstrapOptions (bootstrap.ts)
 *
 * Neither hook is ever reachable from user code: both live only in this closure, and every ctx
 * function is an arrow function created here (its constructor chain is this context's own
 * Function). Values cross as strings only (JSON), parsed and produced by functions captured
 * before the user's script ran.
 *
 * It returns `{bind, settle}`: `bind(paramsJson, inputJson, contextJson, allowNetwork)`, which the
 * child calls once the run is known, and it leaves `start()` on the global object under
 * options.startGlobal (not writable, not configurable). The user's script is compiled with
 * SCRIPT_TRAILER after it, so that running the script also calls `start()`: one trip into the
 * isolate for the whole run. `start()` looks `main` up in the global scope, calls
 * `main(params, input, ctx)` and answers with an array of primitives: ['ok', outputJson,
 * logsDropped, linesWritten] or ['error', code, message, logsDropped, linesWritten]; when main
 * returned a thenable it answers ['pending'], and `settle()` gives a promise of the answer. A
 * script can call start() itself; that only spoils its own run.
 *
 * Type-checked (checkJs) with the names in isolateGlobals.d.ts; the isolate has none of Node's.
 */
(
  /**
   * @param {LogHook} logHook
   * @param {import('./ivmTypes.js').IvmReference<string>} httpHook
   * @param {string} optionsJson
   * @returns {{ bind: Bind, settle: () => Promise<Answer> | null }}
   */
  function bootstrap(logHook, httpHook, optionsJson) {
    'use strict';
    /** @type {import('./bootstrap.js').BootstrapOptions} */
    const options = JSON.parse(optionsJson);

    // Intrinsics, captured before any user code runs.
    /** @type {Record<string, unknown>} */
    const G = globalThis;
    const reflectApply = Reflect.apply;
    const jsonParse = JSON.parse;
    const jsonStringify = JSON.stringify;
    const getPrototypeOf = Object.getPrototypeOf;
    const objectKeys = Object.keys;
    const objectCreate = Object.create;
    const freeze = Object.freeze;
    const isArray = Array.isArray;
    const numberIsFinite = Number.isFinite;
    const ObjectPrototype = Object.prototype;
    const ArrayPrototype = Array.prototype;
    const StringCtor = String;
    const ErrorCtor = Error;
    const TypeErrorCtor = TypeError;
    const regExpExec = RegExp.prototype.exec;
    const stringSlice = String.prototype.slice;
    const stringToUpperCase = String.prototype.toUpperCase;
    const WeakSetCtor = WeakSet;
    const weakSetAdd = WeakSet.prototype.add;
    const weakSetHas = WeakSet.prototype.has;
    const referenceApply = httpHook.apply;
    const defineProperty = Object.defineProperty;

    // Nothing of the host, and no memory outside the isolate's heap limit.
    delete G.WebAssembly;
    delete G.SharedArrayBuffer;
    delete G.Atomics;
    delete G.console;

    // Set once by bind(), when the run is known.
    let allowNetwork = false;
    /** @type {unknown} */
    let params = null;
    /** @type {unknown} */
    let input = null;
    /** @type {object | null} */
    let ctx = null;

    // ---- JSON out: plain objects, arrays, strings, finite numbers, booleans, null -----------------
    const NOT_JSON = {};
    /** @type {{ tooLarge?: boolean, path?: string, reason?: string } | null} */
    let failure = null;
    const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

    /**
     * @param {string} path
     * @param {string} key
     */
    function childPath(path, key) {
      return reflectApply(regExpExec, IDENTIFIER, [key]) !== null ? `${path}.${key}` : `${path}[${jsonStringify(key)}]`;
    }

    /** @param {{ constructor: unknown }} proto */
    function className(proto) {
      try {
        const ctor = proto.constructor;
        const name = typeof ctor === 'function' ? ctor.name : undefined;
        if (typeof name === 'string' && name !== '') return name;
      } catch {}
      return 'a class';
    }

    // JSON text of value, or undefined for undefined. Throws NOT_JSON with failure set when the value
    // is not JSON ({path, reason}) or its text passes maxChars ({tooLarge: true}). A UTF-16 length
    // over the cap means a UTF-8 size over it too, so the cut is safe; the child checks bytes exactly.
    /**
     * @param {unknown} value
     * @param {string} rootPath
     * @param {number} maxChars
     * @returns {string | undefined}
     */
    function toJson(value, rootPath, maxChars) {
      let size = 0;
      /** @type {unknown[]} */
      const ancestors = [];
      /** @param {string} text */
      function count(text) {
        size += text.length;
        if (size > maxChars) {
          failure = { tooLarge: true };
          throw NOT_JSON;
        }
        return text;
      }
      /**
       * @param {string} path
       * @param {string} reason
       * @returns {never}
       */
      function refuse(path, reason) {
        failure = { path: path, reason: reason };
        throw NOT_JSON;
      }
      /**
       * @param {unknown} v
       * @param {string} path
       * @returns {string | undefined}
       */
      function walk(v, path) {
        switch (typeof v) {
          case 'undefined':
            return undefined;
          case 'string':
            return count(jsonStringify(v));
          case 'boolean':
            return count(v ? 'true' : 'false');
          case 'number':
            if (!numberIsFinite(v)) refuse(path, `is ${StringCtor(v)} (not a finite number)`);
            return count(jsonStringify(v));
          case 'bigint':
            return refuse(path, 'is a BigInt');
          case 'symbol':
            return refuse(path, 'is a symbol');
          case 'function':
            return refuse(path, 'is a function');
        }
        if (v === null) return count('null');
        for (let i = 0; i < ancestors.length; i++) if (ancestors[i] === v) refuse(path, 'is a circular reference');
        const proto = getPrototypeOf(v);
        ancestors[ancestors.length] = v;
        let out;
        if (isArray(v)) {
          if (proto !== ArrayPrototype) refuse(path, `is an instance of ${className(proto)} (only plain objects and arrays are JSON)`);
          const length = v.length;
          out = count('[');
          for (let i = 0; i < length; i++) {
            if (i > 0) out += count(',');
            const item = walk(v[i], `${path}[${i}]`);
            out += item === undefined ? count('null') : item;
          }
          out += count(']');
        } else if (proto === ObjectPrototype || proto === null) {
          const object = /** @type {Record<string, unknown>} */ (v);
          const keys = objectKeys(object);
          out = count('{');
          let first = true;
          for (let i = 0; i < keys.length; i++) {
            const key = /** @type {string} */ (keys[i]);
            const item = walk(object[key], childPath(path, key));
            if (item === undefined) continue;
            out += (first ? '' : count(',')) + count(jsonStringify(key)) + count(':') + item;
            first = false;
          }
          out += count('}');
        } else {
          refuse(path, `is an instance of ${className(proto)} (only plain objects and arrays are JSON)`);
        }
        ancestors.length = ancestors.length - 1;
        return out;
      }
      failure = null;
      return walk(value, rootPath);
    }

    function failureText() {
      if (failure === null) return 'not JSON';
      if (failure.tooLarge) return 'too large';
      return `${failure.path} ${failure.reason}`;
    }

    // ---- ctx.log -----------------------------------------------------------------------------------
    let linesWritten = 0;
    let linesDropped = 0;

    /**
     * @param {string} level
     * @param {unknown} message
     * @param {unknown} data
     */
    function writeLog(level, message, data) {
      if (linesWritten >= options.logMaxLines) {
        if (linesDropped === 0) logHook('DROPPED', '', undefined);
        linesDropped++;
        return;
      }
      let text = typeof message === 'string' ? message : StringCtor(message);
      if (text.length > options.logMaxMessageChars) {
        text = `${reflectApply(stringSlice, text, [0, options.logMaxMessageChars])}... [truncated]`;
      }
      let dataJson ;
      if (data !== undefined) {
        try {
          dataJson = toJson(data, 'data', options.logMaxDataBytes);
        } catch (e) {
          if (e !== NOT_JSON) throw e;
          text += failure?.tooLarge
            ? ` [data omitted: over ${options.logMaxDataBytes} bytes]`
            : ` [data omitted: ${failureText()}]`;
          dataJson = undefined;
        }
      }
      // Counted only once it is sent: the child waits for every counted line before it answers.
      linesWritten++;
      logHook(level, text, dataJson);
    }

    /**
     * @param {unknown} message
     * @param {unknown} [data]
     */
    const log = (message, data) => { writeLog('INFO', message, data); };
    /** @type {LogFunction} */
    log.debug = (message, data) => { writeLog('DEBUG', message, data); };
    /** @type {LogFunction} */
    log.info = (message, data) => { writeLog('INFO', message, data); };
    /** @type {LogFunction} */
    log.warn = (message, data) => { writeLog('WARN', message, data); };
    /** @type {LogFunction} */
    log.error = (message, data) => { writeLog('ERROR', message, data); };
    freeze(log);

    // console.* writes to ctx.log too, so that habit does not fail a script.
    G.console = freeze(/** @satisfies {Record<string, LogFunction>} */ ({
      log: (message, data) => { writeLog('INFO', message, data); },
      info: (message, data) => { writeLog('INFO', message, data); },
      debug: (message, data) => { writeLog('DEBUG', message, data); },
      warn: (message, data) => { writeLog('WARN', message, data); },
      error: (message, data) => { writeLog('ERROR', message, data); },
    }));

    // ---- ctx.http ----------------------------------------------------------------------------------
    const blockedErrors = new WeakSetCtor();
    let httpRequests = 0;

    /**
     * @param {string} message
     * @param {string} code
     */
    function httpError(message, code) {
      /** @type {Error & { code?: string }} */
      const error = new ErrorCtor(message);
      error.code = code;
      if (code === 'HTTP_BLOCKED') reflectApply(weakSetAdd, blockedErrors, [error]);
      return error;
    }

    /** @param {unknown} request */
    async function httpRequest(request) {
      if (!allowNetwork) {
        throw httpError('ctx.http is not allowed for this script (runtimePolicy.allowNetwork is false)', 'HTTP_BLOCKED');
      }
      if (request === null || typeof request !== 'object') {
        throw new TypeErrorCtor('ctx.http.request expects an object {method, url, headers, body}');
      }
      const fields = /** @type {{ method?: unknown, url?: unknown, headers?: unknown, body?: unknown }} */ (request);
      const rawMethod = fields.method;
      const method = rawMethod === undefined || rawMethod === null ? 'GET' : reflectApply(stringToUpperCase, StringCtor(rawMethod), []);
      const url = fields.url;
      if (typeof url !== 'string' || url === '') throw new TypeErrorCtor('ctx.http: url must be a non-empty string');
      let headersJson = '';
      const rawHeaders = fields.headers;
      if (rawHeaders !== undefined && rawHeaders !== null) {
        if (typeof rawHeaders !== 'object') throw new TypeErrorCtor('ctx.http: headers must be an object of strings');
        /** @type {Record<string, string>} */
        const headers = objectCreate(null);
        const names = objectKeys(rawHeaders);
        for (let i = 0; i < names.length; i++) {
          const name = /** @type {string} */ (names[i]);
          const value = /** @type {Record<string, unknown>} */ (rawHeaders)[name];
          if (value !== undefined) headers[name] = StringCtor(value);
        }
        headersJson = `,"headers":${jsonStringify(headers)}`;
      }
      let bodyJson = '';
      if (fields.body !== undefined) {
        let text;
        try {
          text = toJson(fields.body, 'body', options.outputMaxBytes);
        } catch (e) {
          if (e !== NOT_JSON) throw e;
          throw new TypeErrorCtor(`ctx.http: the request body is not JSON: ${failureText()}`);
        }
        if (text !== undefined) bodyJson = `,"body":${text}`;
      }
      httpRequests++;
      if (httpRequests > options.httpMaxRequests) {
        throw httpError(`ctx.http: too many requests in one run (limit ${options.httpMaxRequests})`, 'HTTP_FAILED');
      }
      const requestJson = `{"method":${jsonStringify(method)},"url":${jsonStringify(url)}${headersJson}${bodyJson}}`;
      const answerJson = await reflectApply(referenceApply, httpHook, [undefined, [requestJson], { arguments: { copy: true }, result: { promise: true, copy: true } }]);
      /** @type {{ ok?: unknown, blocked?: unknown, failed?: unknown }} */
      const answer = jsonParse(answerJson);
      if (answer.ok) return answer.ok;
      if (typeof answer.blocked === 'string') throw httpError(answer.blocked, 'HTTP_BLOCKED');
      throw httpError(typeof answer.failed === 'string' ? answer.failed : 'ctx.http failed', 'HTTP_FAILED');
    }

    const http = freeze({
      /** @param {unknown} request */
      request: (request) => httpRequest(request),
      /** @param {unknown} url */
      get: (url) => httpRequest({ method: 'GET', url: url }),
      /**
       * @param {unknown} url
       * @param {unknown} body
       */
      post: (url, body) => httpRequest({ method: 'POST', url: url, body: body }),
    });

    // ---- errors ------------------------------------------------------------------------------------
    const escapedFilename = reflectApply(String.prototype.replace, options.filename, [/[.*+?^$()|[\]\\{}]/g, '\\$&']);
    const FRAME = new RegExp(`${escapedFilename}:(\\d+):(\\d+)`);
    const MAX_MESSAGE = 4000;

    /**
     * @param {unknown} error
     * @returns {string}
     */
    function describe(error) {
      let name = '';
      /** @type {string | undefined} */
      let message;
      /** @type {unknown} */
      let stack;
      try {
        if (error !== null && (typeof error === 'object' || typeof error === 'function')) {
          const fields = /** @type {{ message?: unknown, name?: unknown, stack?: unknown }} */ (error);
          const m = fields.message;
          if (m !== undefined) {
            message = StringCtor(m);
            const n = fields.name;
            if (typeof n === 'string') name = n;
            stack = fields.stack;
          } else {
            try {
              message = toJson(error, 'error', MAX_MESSAGE);
            } catch {
              message = undefined;
            }
            if (message === undefined) message = StringCtor(error);
          }
        } else {
          message = typeof error === 'string' ? error : StringCtor(error);
        }
      } catch {
        message = 'the script threw a value that cannot be described';
        name = '';
      }
      if (message.length > MAX_MESSAGE) message = `${reflectApply(stringSlice, message, [0, MAX_MESSAGE])}... [truncated]`;
      let text = name !== '' ? `${name}: ${message}` : message;
      if (typeof stack === 'string') {
        const match = reflectApply(regExpExec, FRAME, [stack]);
        if (match !== null) text += ` (line ${match[1]}, column ${match[2]})`;
      }
      return text;
    }

    // Answers: ['ok', outputJson, linesDropped, linesWritten], ['error', code, message, linesDropped,
    // linesWritten], or PENDING when main returned a thenable (settle() then gives the answer).
    /** @type {Answer} */
    const PENDING = ['pending'];

    /**
     * @param {unknown} e
     * @returns {Answer}
     */
    function thrown(e) {
      const blocked = e !== null && typeof e === 'object' && reflectApply(weakSetHas, blockedErrors, [e]);
      return ['error', blocked ? 'HTTP_BLOCKED' : 'SCRIPT_ERROR', describe(e), linesDropped, linesWritten];
    }

    /**
     * @param {unknown} result
     * @returns {Answer}
     */
    function answer(result) {
      try {
        const json = toJson(result, 'output', options.outputMaxBytes);
        return ['ok', json === undefined ? 'null' : json, linesDropped, linesWritten];
      } catch (e) {
        if (e !== NOT_JSON) return ['error', 'SCRIPT_ERROR', describe(e), linesDropped, linesWritten];
        if (failure?.tooLarge) {
          return ['error', 'OUTPUT_TOO_LARGE', `the output is over ${options.outputMaxBytes} bytes`, linesDropped, linesWritten];
        }
        return ['error', 'SCRIPT_ERROR', `main returned a value that is not JSON: ${failureText()}`, linesDropped, linesWritten];
      }
    }

    /** @type {Promise<Answer> | null} */
    let pending = null;

    /**
     * @param {unknown} thenable
     * @returns {Promise<Answer>}
     */
    async function settleLater(thenable) {
      let result;
      try {
        result = await thenable;
      } catch (e) {
        return thrown(e);
      }
      return answer(result);
    }

    let started = false;
    // Synchronous when main is, so that a quick script needs no trip through the event loop.
    /** @returns {Answer} */
    function start() {
      if (started || ctx === null) return ['error', 'SCRIPT_ERROR', 'start called out of turn', 0, linesWritten];
      started = true;
      let fn;
      try {
        fn = main;
      } catch {
        fn = undefined;
      }
      if (typeof fn !== 'function') {
        return ['error', 'SCRIPT_ERROR', 'the script declares no top-level main function', linesDropped, linesWritten];
      }
      let result;
      let then;
      try {
        result = fn(params, input, ctx);
        then = result !== null && (typeof result === 'object' || typeof result === 'function') ? result.then : undefined;
      } catch (e) {
        return thrown(e);
      }
      if (typeof then !== 'function') return answer(result);
      pending = settleLater(result);
      return PENDING;
    }

    function settle() {
      return pending;
    }
    defineProperty(G, options.startGlobal, { value: start, writable: false, enumerable: false, configurable: false });

    let bound = false;
    /** @type {Bind} */
    function bind(paramsJson, inputJson, contextJson, network) {
      if (bound) throw new ErrorCtor('bind called twice');
      bound = true;
      allowNetwork = network === true;
      params = jsonParse(paramsJson);
      input = jsonParse(inputJson);
      /** @type {{ payload?: unknown, rule?: unknown, execution?: unknown }} */
      const context = jsonParse(contextJson);
      ctx = freeze({
        log: log,
        http: http,
        payload: context.payload === undefined ? null : context.payload,
        rule: context.rule === undefined ? null : context.rule,
        execution: context.execution === undefined ? null : context.execution,
      });
    }
    return { bind: bind, settle: settle };
  }
);

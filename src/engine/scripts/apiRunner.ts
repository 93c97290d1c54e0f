import type { ValidateFunction } from 'ajv';
import type { ApiDefinition, ApiExecution, LogLevelValue } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Clock } from '../../shared/clock.js';
import type { BusMessage, EventBus } from '../bus/eventBus.js';
import { writeThenPublish } from '../bus/eventBus.js';
import { CompiledRuleCache } from '../rules/conditions/index.js';
import { OutboundError, type OutboundHttpClient } from '../outbound/client.js';
import type { ActionContext } from '../actions/types.js';
import type { LogSinkFactory } from '../runs/logSink.js';
import { compileParamSchema } from '../rules/spec/index.js';
import type { ApiExecutionStore } from '../store/apiExecutionStore.js';
import { runHttpApi } from './httpApi.js';
import type { ScriptHttpRequest, ScriptHttpResponse, ScriptResult, ScriptRunner } from './scriptRunner.js';
import { newId } from '../../shared/ids.js';
import { storableJson, storableText } from '../../shared/storable.js';
import { STORE_FAILED, storeErrorFields, writeUntilTaken } from '../store/storeError.js';
import { Redactor } from '../secrets/redactor.js';
import type { SecretReader } from '../secrets/vault.js';
import { literalCredentials } from '../../shared/credentials.js';
import { bindToActive } from '../../observability/spans.js';
import { runFields } from '../runs/runFields.js';

export interface LogLine {
  level: LogLevelValue;
  message: string;
  data: unknown;
}

export interface ApiRunRequest {
  api: ApiDefinition;
  params: unknown;
  input: unknown;
  executedBy: string;
  /** Set when a rule's api_script action runs it; its lines then go to the rule execution's log. */
  fromRule: Pick<ActionContext, 'rule' | 'execution' | 'payload' | 'log' | 'redactor'> | null;
  /** Hears of the RUNNING row once it is written; must not throw (the run would stay RUNNING). */
  started?: (execution: ApiExecution) => Promise<void>;
}

export interface ApiRunOutcome {
  execution: ApiExecution;
  /** The lines the run wrote, in order. */
  lines: LogLine[];
}

export interface ApiRunnerOptions {
  store: ApiExecutionStore;
  scripts: ScriptRunner;
  http: OutboundHttpClient;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  logSinks: LogSinkFactory;
  secrets: SecretReader;
}

type Failure = { code: string; message: string };

/** An API run's ids for the service log: its own, and those of the rule's run that called it (if one did). */
const apiRunFields = (run: ApiExecution) =>
  run.executionId === null
    ? { apiExecutionId: run.id }
    : { apiExecutionId: run.id, ...runFields({ id: run.executionId, cascadeId: run.cascadeId, ruleId: run.ruleId }) };

/** ajv's errors as `params/path: message` lines. */
function describeParamErrors(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `params${e.instancePath || ''}: ${e.message ?? 'is invalid'}`).join('; ');
}

/**
 * Runs API definitions, direct (executeApi) or from a rule: every run leaves one ApiExecution,
 * written RUNNING first, then finished with its outcome.
 */
export class ApiRunner {
  private readonly paramSchemas = new CompiledRuleCache<ValidateFunction | null>();

  constructor(private readonly options: ApiRunnerOptions) {}

  async run(request: ApiRunRequest): Promise<ApiRunOutcome> {
    const { store, clock, logger } = this.options;
    const { api, fromRule } = request;
    const started = clock.now();
    // Lines, output and failure hide the secrets the run read and its spec's literal credentials
    // (from a rule, those of the rule's action too: its params and input are stored as shown).
    const redactor = fromRule?.redactor ?? new Redactor();
    if (api.httpSpec) redactor.addAll(literalCredentials(api.httpSpec));
    const running: ApiExecution = {
      id: newId(),
      apiId: api.id,
      status: 'RUNNING',
      params: redactor.apply(request.params ?? null),
      input: redactor.apply(request.input ?? null),
      output: null,
      errorCode: null,
      errorMessage: null,
      durationMs: null,
      executedBy: request.executedBy,
      startedAt: started,
      finishedAt: null,
      executionId: fromRule?.execution.id ?? null,
      ruleId: fromRule?.rule.id ?? null,
      cascadeId: fromRule?.execution.cascadeId ?? null,
    };
    await store.insert(running);
    if (request.started) await request.started(running);

    const lines: LogLine[] = [];
    const sink = fromRule ? null : this.options.logSinks({ executionId: running.id, cascadeId: null, ruleId: null }, redactor);
    // Lines, output and failures of a run are text from outside (script logs, answers).
    const log = (level: LogLevelValue, rawMessage: string, rawData: unknown) => {
      const message = storableText(redactor.text(rawMessage));
      const data = storableJson(redactor.apply(rawData));
      lines.push({ level, message, data: data ?? null });
      if (fromRule) fromRule.log(level, message, data, running.id);
      else sink!.add(level, message, data, running.id);
    };

    let output: unknown = null;
    let failure: Failure | null = null;
    try {
      const result = await this.execute(request, log, redactor);
      output = storableJson(redactor.apply(result.output));
      failure = result.failure && { code: result.failure.code, message: storableText(redactor.text(result.failure.message)) };
    } catch (error) {
      const reason = redactor.text(error instanceof Error ? error.message : String(error));
      logger.error({ ...apiRunFields(running), reason }, 'API run failed unexpectedly');
      failure = { code: 'SCRIPT_ERROR', message: 'the run failed unexpectedly' };
    }
    if (failure) log('ERROR', `${api.name} failed: ${failure.code}: ${failure.message}`, { code: failure.code });

    const finishedAt = clock.now();
    let final: ApiExecution = {
      ...running,
      status: failure ? 'FAILED' : 'SUCCESS',
      output,
      errorCode: failure?.code ?? null,
      errorMessage: failure?.message ?? null,
      durationMs: Math.max(0, finishedAt.getTime() - started.getTime()),
      finishedAt,
    };
    const rest = sink ? await sink.close() : [];
    const messages: BusMessage[] = rest.map((message) => ({ topic: 'log' as const, message }));
    try {
      await writeThenPublish(this.options.bus, messages, (notify) => store.finish(final, rest, notify));
    } catch (error) {
      final = await this.finishStoreFailed(final, error);
    }
    return { execution: final, lines };
  }

  /**
   * The final write the database refused, made as small as it can be: FAILED with STORE_FAILED,
   * no output, no last lines, so that the run does not stay RUNNING while this process lives.
   */
  private async finishStoreFailed(refused: ApiExecution, refusal: unknown): Promise<ApiExecution> {
    const { store, logger } = this.options;
    const failed: ApiExecution = { ...refused, status: 'FAILED', output: null, errorCode: STORE_FAILED.code, errorMessage: STORE_FAILED.message };
    logger.error(
      { ...apiRunFields(failed), ...storeErrorFields(refusal) },
      'the database refused the final write of an API run; it is written FAILED with STORE_FAILED',
    );
    await writeUntilTaken(
      () => store.finish(failed, []),
      (error, attempt) =>
        logger.warn({ ...apiRunFields(failed), attempt, ...storeErrorFields(error) }, 'could not write an API run FAILED with STORE_FAILED yet; trying again'),
    );
    return failed;
  }

  private paramValidator(api: ApiDefinition): ValidateFunction | null {
    return this.paramSchemas.get(api.id, api.updatedAt, () => (api.paramSchema ? compileParamSchema(api.paramSchema) : null));
  }

  private async execute(
    request: ApiRunRequest,
    log: (level: LogLevelValue, message: string, data: unknown) => void,
    redactor: Redactor,
  ): Promise<{ output: unknown; failure: Failure | null }> {
    const { api } = request;
    if (!api.active) return { output: null, failure: { code: 'API_INACTIVE', message: `API ${api.name} (${api.id}) is inactive` } };
    const validate = this.paramValidator(api);
    if (validate && !validate(request.params ?? {})) {
      return { output: null, failure: { code: 'PARAMS_INVALID', message: describeParamErrors(validate) } };
    }
    if (api.kind === 'HTTP') {
      const spec = api.httpSpec;
      if (!spec) throw new Error(`API ${api.name} (${api.id}) is an HTTP definition without an httpSpec`);
      const result = await runHttpApi(this.options.http, spec, request.params ?? {}, request.input ?? null, api.timeoutMs, {
        reader: this.options.secrets,
        redactor,
      });
      if (result.ok) log('INFO', `${spec.method ?? 'GET'} answered ${(result.output as { status: number }).status}`, null);
      return result.ok ? { output: result.output, failure: null } : { output: result.output, failure: { code: result.code, message: result.message } };
    }
    // ctx.http shares the run's deadline, counted from here as the sandbox counts it (the wait for
    // a free isolate included). A request cut by that deadline is left unanswered until the run
    // ends, so the sandbox's limit ends the run (SCRIPT_TIMEOUT) instead of the script seeing a
    // rejection.
    const scriptStarted = this.options.clock.now().getTime();
    let ended!: () => void;
    const runEnded = new Promise<void>((resolve) => (ended = resolve));
    const result: ScriptResult = await this.options.scripts
      .run({
        key: { id: api.id, updatedAt: api.updatedAt.getTime() },
        source: api.source ?? '',
        params: request.params ?? {},
        input: request.input ?? null,
        context: request.fromRule
          ? { payload: request.fromRule.payload, rule: request.fromRule.rule, execution: request.fromRule.execution }
          : { payload: null, rule: null, execution: null },
        policy: { timeoutMs: api.timeoutMs, memoryLimitMb: api.memoryLimitMb, allowNetwork: api.allowNetwork, allowedHosts: api.allowedHosts },
        onLog: (line) => log(line.level, line.message, line.data),
        // Answered on the sandbox's messages: bound to the run's span, so the call's span goes under it.
        onHttp: bindToActive((req: ScriptHttpRequest) => this.scriptHttp(api, req, scriptStarted, runEnded)),
      })
      .finally(() => ended());
    return result.ok ? { output: result.output, failure: null } : { output: null, failure: { code: result.code, message: result.message } };
  }

  /** ctx.http: only with allowNetwork, only to allowedHosts, always through the guard. */
  private async scriptHttp(api: ApiDefinition, req: ScriptHttpRequest, scriptStarted: number, runEnded: Promise<void>): Promise<ScriptHttpResponse> {
    if (!api.allowNetwork) return { blocked: true, message: 'ctx.http is not allowed: runtimePolicy.allowNetwork is false' };
    const remaining = Math.max(1, api.timeoutMs - (this.options.clock.now().getTime() - scriptStarted));
    const headers: Record<string, string> = { ...req.headers };
    let body: string | undefined;
    if (req.body !== undefined && req.body !== null) {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      if (typeof req.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    try {
      const response = await this.options.http.request({
        method: (req.method ?? 'GET').toUpperCase(),
        url: req.url,
        headers,
        body,
        timeoutMs: remaining,
        allowedHosts: api.allowedHosts,
      });
      return { status: response.status, headers: response.headers, body: response.body };
    } catch (error) {
      if (error instanceof OutboundError && error.kind === 'blocked') return { blocked: true, message: error.message };
      if (error instanceof OutboundError && error.kind === 'timeout') {
        // The run's time is up: its own limit, a moment away, ends it with SCRIPT_TIMEOUT.
        await runEnded;
      }
      return { failed: true, message: error instanceof Error ? error.message : String(error) };
    }
  }
}

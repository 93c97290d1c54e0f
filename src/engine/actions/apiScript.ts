import { isUuid } from '../../shared/ids.js';
import type { ApiExecutionStore } from '../store/apiExecutionStore.js';
import type { ApiRunner } from '../scripts/apiRunner.js';
import type { ApiScriptActionSpec } from '../rules/spec/index.js';
import type { Action, ActionContext, ActionOutcome } from './types.js';

/**
 * Runs an API definition's script (SCRIPT definitions only) with `input` defaulting to the
 * trigger payload; the run is an ApiExecution with executedBy "rule", and its log lines are also
 * lines of the rule's execution.
 */
export class ApiScriptAction implements Action<ApiScriptActionSpec> {
  readonly type = 'api_script';

  constructor(
    private readonly definitions: ApiExecutionStore,
    private readonly runner: ApiRunner,
  ) {}

  async run(spec: ApiScriptActionSpec, ctx: ActionContext): Promise<ActionOutcome> {
    const references: Record<string, unknown> = { action_type: 'api_script', api_id: spec.api_id, api_execution_id: null, duration_ms: null };
    const fail = (code: string, message: string): ActionOutcome => {
      ctx.log('ERROR', `api_script ${spec.api_id} failed: ${message}`, { apiId: spec.api_id, code });
      return { status: 'FAILED', result: null, references, error: { code, message } };
    };
    const api = isUuid(spec.api_id) ? await this.definitions.getDefinition(spec.api_id) : null;
    if (!api) return fail('API_NOT_FOUND', `no API definition with id ${spec.api_id}`);
    if (api.kind !== 'SCRIPT') return fail('API_NOT_SCRIPT', `API ${api.name} (${api.id}) is an ${api.kind} definition, not a script`);

    const { execution, lines } = await this.runner.run({
      api,
      params: spec.params ?? {},
      input: 'input' in spec && spec.input !== undefined ? spec.input : ctx.payload,
      executedBy: 'rule',
      fromRule: ctx,
    });
    references.api_execution_id = execution.id;
    references.duration_ms = execution.durationMs;
    const result = {
      output: execution.output,
      logs: lines,
      references: { api_id: api.id, api_execution_id: execution.id, duration_ms: execution.durationMs },
    };
    if (execution.status !== 'SUCCESS') {
      return {
        status: 'FAILED',
        result,
        references,
        error: { code: execution.errorCode ?? 'SCRIPT_ERROR', message: execution.errorMessage ?? 'the script failed' },
      };
    }
    return { status: 'SUCCESS', result, references };
  }
}

import type { ApiScriptActionSpec } from '../spec/index.js';
import type { Action, ActionContext, ActionOutcome } from './types.js';

/**
 * Runs an API definition's script in the sandbox. Until the sandbox is wired in, every run fails
 * with SANDBOX_UNAVAILABLE (SPEC.md error codes), which is also what it does on a Node version
 * without an isolated-vm build.
 */
export class ApiScriptAction implements Action {
  readonly type = 'api_script';

  /** `unavailable`: why isolated-vm could not be loaded, or null when it loaded. */
  constructor(private readonly unavailable: string | null) {}

  async run(raw: Record<string, unknown>, ctx: ActionContext): Promise<ActionOutcome> {
    const spec = raw as unknown as ApiScriptActionSpec;
    const message = this.unavailable ?? 'script runs are not wired to the sandbox on this server yet';
    ctx.log('ERROR', `api_script ${spec.api_id} failed: ${message}`, { apiId: spec.api_id });
    return {
      status: 'FAILED',
      result: null,
      references: { action_type: 'api_script', api_id: spec.api_id, api_execution_id: null, duration_ms: 0 },
      error: { code: 'SANDBOX_UNAVAILABLE', message },
    };
  }
}

import type { ScriptResult, ScriptRun } from './sandbox/index.js';

export type { ScriptHttpRequest, ScriptHttpResponse, ScriptResult, ScriptRun } from './sandbox/index.js';

/** What the API runner needs of the sandbox (the Sandbox class implements it). */
export interface ScriptRunner {
  run(run: ScriptRun): Promise<ScriptResult>;
}

/** The runner used when no isolated-vm build loads on this Node: every script run fails cleanly. */
export function unavailableScriptRunner(reason: string): ScriptRunner {
  return { run: async () => ({ ok: false, code: 'SANDBOX_UNAVAILABLE', message: reason, durationMs: 0 }) };
}

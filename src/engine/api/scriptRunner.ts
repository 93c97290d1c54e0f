import type { LogLevelValue } from '../../entities/index.js';

/** What the API runner needs of the sandbox (src/engine/sandbox implements it). */
export interface ScriptHttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export type ScriptHttpResponse = { status: number; headers: Record<string, string>; body: unknown } | { blocked: true; message: string } | { failed: true; message: string };

export interface ScriptRun {
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
  onLog(line: { level: LogLevelValue; message: string; data: unknown }): void;
  onHttp(request: ScriptHttpRequest): Promise<ScriptHttpResponse>;
}

export type ScriptResult =
  | { ok: true; output: unknown; durationMs: number }
  | { ok: false; code: 'SCRIPT_ERROR' | 'SCRIPT_TIMEOUT' | 'SCRIPT_MEMORY_LIMIT' | 'OUTPUT_TOO_LARGE' | 'HTTP_BLOCKED' | 'SANDBOX_UNAVAILABLE'; message: string; durationMs: number };

export interface ScriptRunner {
  run(run: ScriptRun): Promise<ScriptResult>;
}

/** The runner used when no isolated-vm build loads on this Node: every script run fails cleanly. */
export function unavailableScriptRunner(reason: string): ScriptRunner {
  return { run: async () => ({ ok: false, code: 'SANDBOX_UNAVAILABLE', message: reason, durationMs: 0 }) };
}

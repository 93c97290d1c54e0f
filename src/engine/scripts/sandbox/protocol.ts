/**
 * Messages between the Sandbox (parent) and the sandbox child process (worker.ts), over the
 * fork IPC channel (JSON serialization). Values that belong to scripts (params, input, payload,
 * output, log data, HTTP bodies) travel as JSON text, parsed on the side that uses them.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export type FailureCode = 'SCRIPT_ERROR' | 'SCRIPT_TIMEOUT' | 'SCRIPT_MEMORY_LIMIT' | 'OUTPUT_TOO_LARGE' | 'HTTP_BLOCKED';

/** Limits the child applies; the parent sends them at fork (argv[2], JSON). */
export interface WorkerConfig {
  /** Isolates alive at once in the child (idle ones of other memory sizes are evicted). */
  maxIsolates: number;
  outputMaxBytes: number;
  logMaxLines: number;
  logMaxMessageChars: number;
  logMaxDataBytes: number;
  httpMaxRequests: number;
  /** memoryLimitMb of the isolate warmed at start. */
  warmMemoryLimitMb: number;
}

export interface RunRequest {
  t: 'run';
  id: number;
  /** Cache key of the compiled script: definition id and updatedAt (plus the source length). */
  cacheKey: string;
  source: string;
  paramsJson: string;
  inputJson: string;
  /** {payload, rule, execution} as JSON. */
  contextJson: string;
  /** runtimePolicy.timeoutMs, as the messages name it. */
  timeoutMs: number;
  /** What is left of it once the run got an isolate (the wait counts): the run's wall clock. */
  remainingMs: number;
  memoryLimitMb: number;
  allowNetwork: boolean;
}

export type HttpAnswer = { ok: { status: number; headers: Record<string, string>; body: unknown } } | { blocked: string } | { failed: string };

export interface HttpAnswerMessage {
  t: 'http-answer';
  id: number;
  reqId: number;
  /** HttpAnswer as JSON: the child hands the text to the isolate unchanged. */
  answerJson: string;
}

export type ParentMessage = RunRequest | HttpAnswerMessage;

export interface HttpRequestShape {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export type RunOutcome = { ok: true; outputJson: string; logsDropped: number } | { ok: false; code: FailureCode; message: string; logsDropped: number };

export type ChildMessage =
  | { t: 'ready'; package: string }
  | { t: 'unavailable'; reason: string }
  | { t: 'fatal'; message: string }
  | { t: 'log'; id: number; level: LogLevel; message: string; dataJson: string | null }
  | { t: 'http'; id: number; reqId: number; request: HttpRequestShape }
  | { t: 'result'; id: number; outcome: RunOutcome };

import type { ActionLog, LogLevelValue } from '../entities/index.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import { writeThenPublish, type BusMessage, type EventBus } from './bus/eventBus.js';
import type { ExecutionStore } from './store/executionStore.js';

export const MAX_LOG_LINES = 1000;
export const MAX_LOG_MESSAGE = 8 * 1024;
/** Lines are stored and streamed at most this long after they are written. */
export const LOG_FLUSH_MS = 20;

export interface LogOwner {
  executionId: string;
  cascadeId: string | null;
  ruleId: string | null;
}

/**
 * The log lines of one execution (or of a direct API run). Lines are written to the database and
 * published within LOG_FLUSH_MS; lines still pending when the run ends go into its final write
 * instead, so a short action costs no extra statement.
 */
export class LogSink {
  private seq = 0;
  private pending: ActionLog[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly owner: LogOwner,
    private readonly clock: Clock,
    private readonly write: (lines: ActionLog[]) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(level: LogLevelValue, message: string, data?: unknown, apiExecutionId: string | null = null) {
    if (this.closed) return;
    if (this.seq >= MAX_LOG_LINES) return;
    this.pending.push({
      ...this.owner,
      seq: ++this.seq,
      apiExecutionId,
      at: this.clock.now(),
      level,
      message: message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}…` : message,
      data: data === undefined ? null : data,
    });
    this.timer ??= setTimeout(() => this.flush(), LOG_FLUSH_MS);
  }

  private flush() {
    this.timer = null;
    const lines = this.pending;
    this.pending = [];
    if (lines.length === 0) return;
    this.flushing = this.flushing.then(() => this.write(lines)).catch(this.onError);
  }

  /** Stops the timer, waits for writes in flight, and hands back what is still pending. */
  async close(): Promise<ActionLog[]> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
    const rest = this.pending;
    this.pending = [];
    return rest;
  }
}

export type LogSinkFactory = (owner: LogOwner) => LogSink;

/** Sinks whose lines are stored through the execution store and published on the bus. */
export function createLogSinkFactory(deps: { store: ExecutionStore; bus: EventBus; clock: Clock; logger: Logger }): LogSinkFactory {
  const { store, bus, clock, logger } = deps;
  return (owner) =>
    new LogSink(
      owner,
      clock,
      async (lines) => {
        const messages: BusMessage[] = lines.map((message) => ({ topic: 'log' as const, message }));
        await writeThenPublish(bus, messages, (notify) => store.appendLogs(lines, notify));
      },
      (error) => logger.error({ err: error, executionId: owner.executionId }, 'could not write log lines'),
    );
}

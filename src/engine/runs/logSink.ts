import type { ActionLog, LogLevelValue } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Clock } from '../../shared/clock.js';
import { writeThenPublish, type BusMessage, type EventBus } from '../bus/eventBus.js';
import type { ExecutionStore } from '../store/executionStore.js';
import { storeErrorFields } from '../store/storeError.js';
import { storableJson, storableText } from '../../shared/storable.js';
import { Redactor } from '../secrets/redactor.js';

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
 * One timer for every sink of a process: a sink with lines waiting is flushed LOG_FLUSH_MS after
 * its first one. Most runs end sooner and hand their lines to their final write, so a timer per
 * run would mostly be set only to be cleared.
 */
class FlushTimer {
  /** Sinks with lines waiting, with when they are due; in the order their first line came, so in due order. */
  private readonly waiting = new Map<LogSink, number>();
  private timer: NodeJS.Timeout | null = null;

  add(sink: LogSink) {
    if (this.waiting.has(sink)) return;
    this.waiting.set(sink, performance.now() + LOG_FLUSH_MS);
    this.timer ??= setTimeout(() => this.tick(), LOG_FLUSH_MS);
  }

  remove(sink: LogSink) {
    this.waiting.delete(sink);
  }

  private tick() {
    this.timer = null;
    const now = performance.now();
    for (const [sink, due] of this.waiting) {
      if (due > now) {
        this.timer = setTimeout(() => this.tick(), Math.ceil(due - now));
        return;
      }
      this.waiting.delete(sink);
      sink.flush();
    }
  }
}

/**
 * The log lines of one execution (or of a direct API run). Lines are written to the database and
 * published within LOG_FLUSH_MS; lines still pending when the run ends go into its final write
 * instead, so a short action costs no extra statement.
 */
export class LogSink {
  private pending: ActionLog[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly owner: LogOwner,
    private readonly clock: Clock,
    private readonly timer: FlushTimer,
    private readonly write: (lines: ActionLog[]) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    /** The run's redactor: lines never hold the secrets (or literal credentials) the run used. */
    private readonly redactor: Redactor,
    /** Lines the execution already has (an attempt after its first continues their seq). */
    private seq = 0,
  ) {}

  add(level: LogLevelValue, rawMessage: string, rawData?: unknown, apiExecutionId: string | null = null) {
    if (this.closed) return;
    if (this.seq >= MAX_LOG_LINES) return;
    const message = this.redactor.text(rawMessage);
    const data = this.redactor.apply(rawData);
    this.pending.push({
      ...this.owner,
      seq: ++this.seq,
      apiExecutionId,
      at: this.clock.now(),
      level,
      // Lines carry text from outside (script logs, answers); a cut may also split a surrogate pair.
      message: storableText(message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}…` : message),
      data: data === undefined ? null : storableJson(data),
    });
    this.timer.add(this);
  }

  /** Writes the lines waiting (called by the flush timer). */
  flush() {
    const lines = this.pending;
    this.pending = [];
    if (lines.length === 0) return;
    this.flushing = this.flushing.then(() => this.write(lines)).catch(this.onError);
  }

  /** Stops flushing, waits for writes in flight, and hands back what is still pending. */
  async close(): Promise<ActionLog[]> {
    this.closed = true;
    this.timer.remove(this);
    await this.flushing;
    const rest = this.pending;
    this.pending = [];
    return rest;
  }
}

/** A run's ids for the service log; a direct API run (no cascade, no rule) is named by its apiExecutionId. */
const ownerFields = (owner: LogOwner) => (owner.cascadeId === null && owner.ruleId === null ? { apiExecutionId: owner.executionId } : { ...owner });

export type LogSinkFactory = (owner: LogOwner, redactor?: Redactor, lastSeq?: number) => LogSink;

/** Sinks whose lines are stored through the execution store and published on the bus. */
export function createLogSinkFactory(deps: { store: ExecutionStore; bus: EventBus; clock: Clock; logger: Logger }): LogSinkFactory {
  const { store, bus, clock, logger } = deps;
  const timer = new FlushTimer();
  return (owner, redactor = new Redactor(), lastSeq = 0) =>
    new LogSink(
      owner,
      clock,
      timer,
      async (lines) => {
        const messages: BusMessage[] = lines.map((message) => ({ topic: 'log' as const, message }));
        await writeThenPublish(bus, messages, (notify) => store.appendLogs(lines, notify));
      },
      (error) => logger.error({ ...ownerFields(owner), ...storeErrorFields(error) }, 'could not write log lines'),
      redactor,
      lastSeq,
    );
}

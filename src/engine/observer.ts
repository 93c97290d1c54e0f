import type { Execution } from '../entities/index.js';

/** What a webhook attempt led to: the status its execution took from it. */
export type WebhookAttemptOutcome = 'SUCCESS' | 'RETRYING' | 'FAILED';

/** What became of a published event: it met at least one rule, none, or it was refused. */
export type EventOutcome = 'MATCHED' | 'UNMATCHED' | 'REFUSED';

/**
 * What the engine tells whoever watches it (the service's metrics), as things happen. Every call
 * is synchronous and cheap: it is made on the path of each run, so it may count, never wait.
 */
export interface EngineObserver {
  /** An execution reached a final status (once per execution, by the instance that wrote it). */
  executionFinished(execution: Execution): void;
  /** A webhook attempt was sent (or could not be), and what it led to. */
  webhookAttempt(outcome: WebhookAttemptOutcome): void;
  /** `count` published events ended with `outcome`. */
  eventsPublished(outcome: EventOutcome, count: number): void;
  /** A rule's condition (or stream form) matched an event, throttled matches included, as Rule.stats.matched counts. */
  ruleMatched(): void;
  /** A script run in the sandbox ended: SUCCESS or its failure code. */
  sandboxRun(outcome: string): void;
}

/** The observer of an engine nobody watches. */
export const UNOBSERVED: EngineObserver = {
  executionFinished: () => undefined,
  webhookAttempt: () => undefined,
  eventsPublished: () => undefined,
  ruleMatched: () => undefined,
  sandboxRun: () => undefined,
};

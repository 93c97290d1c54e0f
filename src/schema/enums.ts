import { builder } from './builder.js';

export const TriggerTypeEnum = builder.enumType('TriggerType', {
  values: {
    EVENT: { description: 'Evaluated against every published event, and on triggerRule.' },
    SCHEDULE: { description: 'Fired by the scheduler on a cron expression or an interval.' },
    METRIC: { description: 'Polls an HTTP endpoint and compares a value found in its answer.' },
  } as const,
});

export const ActionTypeEnum = builder.enumType('ActionType', { values: ['WEBHOOK', 'API_SCRIPT', 'TRIGGER_RULE'] as const });

export const ExecutionStatusEnum = builder.enumType('ExecutionStatus', {
  values: {
    RUNNING: { description: 'Started, not finished yet.' },
    QUEUED: { description: 'Waiting for its turn (a rule whose concurrency mode is queue).' },
    SUCCESS: { description: 'Condition met and the action ran without error.' },
    FAILED: { description: 'The run ended in an error (see error): the action failed, a METRIC poll failed, or the process running it stopped.' },
    SKIPPED: { description: 'Not run: the rule was already running, its queue was full, or the cascade depth was exceeded (see skipReason).' },
    NOT_MATCHED: { description: 'The condition was evaluated and not met; the action did not run.' },
    RETRYING: { description: "A webhook attempt failed and another is due at nextAttemptAt (SPEC.md, 'Delivery')." },
  } as const,
});

export const ApiKindEnum = builder.enumType('ApiKind', {
  values: {
    SCRIPT: { description: 'JavaScript run in a sandboxed V8 isolate: main(params, input, ctx).' },
    HTTP: { description: 'A templated outbound HTTP request.' },
  } as const,
});

export const LogLevelEnum = builder.enumType('LogLevel', { values: ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const });

export const CascadeEventKindEnum = builder.enumType('CascadeEventKind', {
  values: {
    RULE_STARTED: {},
    CONDITION_EVALUATED: {},
    ACTION_STARTED: {},
    ACTION_FINISHED: {},
    RULE_SKIPPED: {},
    RULE_FINISHED: {},
    CASCADE_FINISHED: {},
    ACTION_RETRYING: { description: 'A webhook attempt failed and another is scheduled; message names the attempt and when.' },
  } as const,
});

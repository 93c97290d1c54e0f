import { describe, expect, it } from 'vitest';
import type { Execution } from '../../src/entities/index.js';
import { fromExecution } from '../../src/engine/store/rows.js';

/** What the store writes of an execution (store/rows.ts). */

const at = new Date('2026-11-27T08:00:00.000Z');
const execution = (over: Partial<Execution>): Execution => ({
  id: '00000000-0000-4000-8000-000000000001',
  ruleId: '00000000-0000-4000-8000-000000000002',
  ruleName: 'rule',
  status: 'RUNNING',
  conditionMet: true,
  executedBy: 'manual',
  payload: null,
  actionType: 'WEBHOOK',
  result: null,
  references: {},
  errorCode: null,
  errorMessage: null,
  skipReason: null,
  durationMs: null,
  startedAt: at,
  finishedAt: null,
  cascadeId: '00000000-0000-4000-8000-000000000001',
  parentId: null,
  depth: 0,
  lockKey: null,
  instanceId: null,
  attempts: null,
  nextAttemptAt: null,
  redeliveryOf: null,
  webhookId: null,
  delivery: null,
  attemptOwner: null,
  ...over,
});

describe('fromExecution', () => {
  it.each([
    ['RUNNING', null],
    ['QUEUED', null],
    ['SUCCESS', at],
    ['FAILED', at],
    ['SKIPPED', at],
    ['NOT_MATCHED', at],
  ] as const)('writes a %s row with finishedAt %s', (status, finishedAt) => {
    expect(fromExecution(execution({ status, finishedAt })).finished_at).toBe(finishedAt?.toISOString() ?? null);
  });

  it.each([
    ['RUNNING', at],
    ['QUEUED', at],
    ['SUCCESS', null],
    ['FAILED', null],
    ['SKIPPED', null],
    ['NOT_MATCHED', null],
  ] as const)('refuses a %s row with finishedAt %s: an execution has one exactly when it is not RUNNING or QUEUED', (status, finishedAt) => {
    expect(() => fromExecution(execution({ status, finishedAt }))).toThrow(`is ${status} with ${finishedAt ? 'a' : 'no'} finishedAt`);
  });
});

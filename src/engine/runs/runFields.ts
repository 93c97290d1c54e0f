import type { Execution } from '../../entities/index.js';

/**
 * The fields every log line about a run carries, so that one cascade can be followed with a
 * grep: `executionId`, `cascadeId` and `ruleId`.
 */
export const runFields = (execution: { id: string; cascadeId: string | null; ruleId: string | null }) => ({
  executionId: execution.id,
  cascadeId: execution.cascadeId,
  ruleId: execution.ruleId,
});

/** The fields of a line about several executions: their cascade (or cascades) and their ids. */
export function runsFields(executions: readonly Pick<Execution, 'id' | 'cascadeId'>[]) {
  const cascadeIds = [...new Set(executions.map((e) => e.cascadeId))];
  return {
    ...(cascadeIds.length === 1 ? { cascadeId: cascadeIds[0] } : { cascadeIds }),
    executionIds: executions.map((e) => e.id),
  };
}

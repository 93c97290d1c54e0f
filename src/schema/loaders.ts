import DataLoader from 'dataloader';
import type { ActionLog, Execution, Rule } from '../entities/index.js';
import type { RuleStats } from '../engine/stats.js';
import type { Services } from './context.js';

/** Per-request batching, so a page of executions costs one query per field, not one per row. */
export interface Loaders {
  rule: DataLoader<string, Rule | null>;
  children: DataLoader<string, Execution[]>;
  logs: DataLoader<string, ActionLog[]>;
  apiLogs: DataLoader<string, ActionLog[]>;
  stats: DataLoader<string, RuleStats>;
}

export function createLoaders(services: Services): Loaders {
  return {
    rule: new DataLoader((ids) => services.rules.getMany(ids)),
    children: new DataLoader(async (ids) => {
      const byParent = await services.executions.childrenOf(ids);
      return ids.map((id) => byParent.get(id) ?? []);
    }),
    logs: new DataLoader(async (ids) => {
      const byExecution = await services.executions.logsOf(ids);
      return ids.map((id) => byExecution.get(id) ?? []);
    }),
    stats: new DataLoader(async (ids) => {
      const byRule = await services.executions.statsOf(ids);
      return ids.map((id) => byRule.get(id) ?? { matched: 0, ran: 0, held: 0, failed: 0 });
    }),
    apiLogs: new DataLoader(async (ids) => {
      const byRun = await services.apiRuns.logsOf(ids);
      return ids.map((id) => byRun.get(id) ?? []);
    }),
  };
}

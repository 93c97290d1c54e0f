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

/** A loader over a batch fetch that returns a map by key; a key the map lacks gets fallback(). */
function mapLoader<V>(fetch: (ids: readonly string[]) => Promise<Map<string, V>>, fallback: () => V): DataLoader<string, V> {
  return new DataLoader(async (ids) => {
    const byId = await fetch(ids);
    return ids.map((id) => byId.get(id) ?? fallback());
  });
}

export function createLoaders(services: Services): Loaders {
  return {
    rule: new DataLoader((ids) => services.rules.getMany(ids)),
    children: mapLoader((ids) => services.executions.childrenOf(ids), () => []),
    logs: mapLoader((ids) => services.executions.logsOf(ids), () => []),
    stats: mapLoader((ids) => services.executions.statsOf(ids), () => ({ matched: 0, ran: 0, held: 0, failed: 0 })),
    apiLogs: mapLoader((ids) => services.apiRuns.logsOf(ids), () => []),
  };
}

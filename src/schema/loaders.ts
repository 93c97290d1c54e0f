import DataLoader from 'dataloader';
import type { ActionLog, Execution, Rule } from '../entities/index.js';
import type { RuleStats } from '../engine/index.js';
import type { ApiRunService } from '../services/apiRuns.js';
import type { ExecutionService } from '../services/executions.js';
import type { RuleService } from '../services/rules.js';

/** Per-request batching, so a page of executions costs one query per field, not one per row. */
export interface Loaders {
  rule: DataLoader<string, Rule | null>;
  children: DataLoader<string, Execution[]>;
  logs: DataLoader<string, ActionLog[]>;
  apiLogs: DataLoader<string, ActionLog[]>;
  stats: DataLoader<string, RuleStats>;
}

/** The batch reads behind the loaders, as the services offer them. */
export interface LoaderSources {
  rules: Pick<RuleService, 'getMany'>;
  executions: Pick<ExecutionService, 'childrenOf' | 'logsOf' | 'statsOf'>;
  apiRuns: Pick<ApiRunService, 'logsOf'>;
}

/** A loader over a batch fetch that returns a map by key; a key the map lacks gets fallback(). */
function mapLoader<V>(fetch: (ids: readonly string[]) => Promise<Map<string, V>>, fallback: () => V): DataLoader<string, V> {
  return new DataLoader(async (ids) => {
    const byId = await fetch(ids);
    return ids.map((id) => byId.get(id) ?? fallback());
  });
}

/** A request's loaders, each made the first time a resolver asks for it (most requests need none). */
class RequestLoaders implements Loaders {
  private ruleLoader?: Loaders['rule'];
  private childrenLoader?: Loaders['children'];
  private logsLoader?: Loaders['logs'];
  private apiLogsLoader?: Loaders['apiLogs'];
  private statsLoader?: Loaders['stats'];

  constructor(private readonly services: LoaderSources) {}

  get rule() {
    this.ruleLoader ??= new DataLoader((ids) => this.services.rules.getMany(ids));
    return this.ruleLoader;
  }

  get children() {
    this.childrenLoader ??= mapLoader(
      (ids) => this.services.executions.childrenOf(ids),
      () => [],
    );
    return this.childrenLoader;
  }

  get logs() {
    this.logsLoader ??= mapLoader(
      (ids) => this.services.executions.logsOf(ids),
      () => [],
    );
    return this.logsLoader;
  }

  get apiLogs() {
    this.apiLogsLoader ??= mapLoader(
      (ids) => this.services.apiRuns.logsOf(ids),
      () => [],
    );
    return this.apiLogsLoader;
  }

  get stats() {
    this.statsLoader ??= mapLoader(
      (ids) => this.services.executions.statsOf(ids),
      () => ({ matched: 0, ran: 0, held: 0, failed: 0 }),
    );
    return this.statsLoader;
  }
}

export function createLoaders(services: LoaderSources): Loaders {
  return new RequestLoaders(services);
}

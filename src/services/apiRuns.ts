import type { ActionLog, ApiExecution } from '../entities/index.js';
import type { EngineRuntime } from '../engine/runtime.js';
import { notFound } from '../errors.js';
import { checkExecutedBy } from './names.js';
import { isUuid, parsePage, toConnection, type Connection, type PageArgs } from './pagination.js';

/** Direct runs of API definitions (executeApi) and the history of every run. */
export class ApiRunService {
  constructor(private readonly runtime: EngineRuntime) {}

  /** Unknown API: NOT_FOUND. Otherwise always an ApiExecution, FAILED with API_INACTIVE or PARAMS_INVALID when those apply. */
  async execute(apiId: string, params: unknown, input: unknown, executedBy: string | null | undefined): Promise<ApiExecution> {
    const api = isUuid(apiId) ? await this.runtime.apiStore.getDefinition(apiId) : null;
    if (!api) throw notFound(`No API definition with id ${JSON.stringify(apiId)}`);
    const by = checkExecutedBy(executedBy, 'api');
    const { execution } = await this.runtime.apiRunner.run({ api, params: params ?? {}, input: input ?? null, executedBy: by, fromRule: null });
    return execution;
  }

  async list(apiId: string, pageArgs: PageArgs): Promise<Connection<ApiExecution>> {
    const page = parsePage(pageArgs);
    const { rows, total } = await this.runtime.apiStore.page(apiId, page.limit, page.after);
    return toConnection(rows, page, total, (e) => ({ at: e.startedAt, id: e.id }));
  }

  logsOf(apiExecutionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    return this.runtime.store.logsOfApiExecutions(apiExecutionIds);
  }
}

import type { Admit } from '../access/rateLimit/index.js';
import type { ActionLog, ApiExecution } from '../entities/index.js';
import type { Engine } from '../engine/index.js';
import { notFound } from '../errors.js';
import { checkExecutedBy } from './names.js';
import { findOrRefuse } from './records.js';
import { parsePage, toConnection, type Connection, type PageArgs } from './pagination.js';

/** Direct runs of API definitions (executeApi) and the history of every run. */
export class ApiRunService {
  constructor(private readonly engine: Engine) {}

  /**
   * Unknown API: NOT_FOUND. Otherwise always an ApiExecution, FAILED with API_INACTIVE or
   * PARAMS_INVALID when those apply; `admit` (a rate limit) is spent just before it is written.
   */
  async execute(
    apiId: string,
    params: unknown,
    input: unknown,
    executedBy: string | null | undefined,
    admit?: Admit,
    started?: (execution: ApiExecution) => Promise<void>,
  ): Promise<ApiExecution> {
    const api = await findOrRefuse('API definition', apiId, () => this.engine.apiDefinition(apiId));
    const by = checkExecutedBy(executedBy, 'api');
    if (admit) await admit(1);
    const { execution } = await this.engine.executeApi({ api, params: params ?? {}, input: input ?? null, executedBy: by, fromRule: null, started });
    return execution;
  }

  /** A direct run that must exist (the answer remembered for an idempotency key). */
  async existing(id: string): Promise<ApiExecution> {
    const execution = await this.engine.apiExecution(id);
    if (!execution) throw notFound(`The API execution ${id} that this idempotency key answered no longer exists`);
    return execution;
  }

  async list(apiId: string, pageArgs: PageArgs): Promise<Connection<ApiExecution>> {
    const page = parsePage(pageArgs);
    const { rows, total } = await this.engine.apiExecutions(apiId, page.limit, page.after);
    return toConnection(rows, page, total, (e) => ({ at: e.startedAt, id: e.id }));
  }

  logsOf(apiExecutionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    return this.engine.logsOfApiExecutions(apiExecutionIds);
  }
}

import type { EntityManager } from '@mikro-orm/postgresql';
import { restoreCredentials } from '../shared/credentials.js';
import { checkScriptSource, validateHttpSpec, validateParamSchema, validateRuntimePolicy, type HttpSpec, type SpecLimits } from '../engine/index.js';
import { ApiDefinitionSchema, type ApiDefinition, type ApiKindValue } from '../entities/index.js';
import { badInput } from '../errors.js';
import { nextTimestamp, systemClock, type Clock } from '../shared/clock.js';
import { checkDescription, checkName, checkWellFormed } from './names.js';
import { newestFirstPage, isUuid, parsePage, type Connection, type PageArgs } from './pagination.js';
import { newId } from '../shared/ids.js';
import { withOpaqueJson } from '../db/jsonValues.js';
import { deleteOrRefuse, findOrRefuse, writeNamed } from './records.js';

export interface RuntimePolicyInput {
  timeoutMs?: number | null;
  memoryLimitMb?: number | null;
  allowNetwork?: boolean | null;
  allowedHosts?: string[] | null;
}

export interface CreateApiInput {
  name: string;
  description?: string | null;
  kind?: ApiKindValue | null;
  source?: string | null;
  httpSpec?: unknown;
  paramSchema?: unknown;
  runtimePolicy?: RuntimePolicyInput | null;
  active?: boolean | null;
  createdBy?: string | null;
}

export type UpdateApiInput = Omit<Partial<CreateApiInput>, 'kind' | 'createdBy' | 'name'> & { name?: string | null };

const KINDS: readonly ApiKindValue[] = ['SCRIPT', 'HTTP'];
export const MAX_SOURCE_BYTES = 256 * 1024;

function basicSourceCheck(source: string, path: string) {
  if (source.trim() === '') throw badInput(`${path}: a SCRIPT definition needs its source`, { field: path });
  if (Buffer.byteLength(source) > MAX_SOURCE_BYTES) throw badInput(`${path}: at most ${MAX_SOURCE_BYTES} bytes`, { field: path });
  checkWellFormed(source, path);
}

export class ApiDefinitionService {
  constructor(
    private readonly fork: () => EntityManager,
    private readonly limits: SpecLimits,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(id: string): Promise<ApiDefinition | null> {
    if (!isUuid(id)) return null;
    return this.fork().findOne(ApiDefinitionSchema, { id }, { disableIdentityMap: true });
  }

  async list(pageArgs: PageArgs): Promise<Connection<ApiDefinition>> {
    const page = parsePage(pageArgs);
    return newestFirstPage(this.fork(), ApiDefinitionSchema, {}, page, 'createdAt');
  }

  /** Validates the parts that depend on the kind; returns the normalised columns. */
  private checkBody(
    kind: ApiKindValue,
    source: string | null | undefined,
    httpSpec: unknown,
    paramSchema: unknown,
    policy: RuntimePolicyInput | null | undefined,
  ) {
    let checkedSource: string | null = null;
    let checkedHttp: HttpSpec | null = null;
    if (kind === 'SCRIPT') {
      if (source == null) throw badInput('input.source: a SCRIPT definition needs its source', { field: 'input.source' });
      if (httpSpec != null) throw badInput('input.httpSpec: only an HTTP definition has an httpSpec', { field: 'input.httpSpec', specPath: 'input.httpSpec' });
      basicSourceCheck(source, 'input.source');
      checkScriptSource(source);
      checkedSource = source;
    } else {
      if (httpSpec == null) throw badInput('input.httpSpec: an HTTP definition needs its httpSpec', { field: 'input.httpSpec', specPath: 'input.httpSpec' });
      if (source != null) throw badInput('input.source: only a SCRIPT definition has a source', { field: 'input.source' });
      checkedHttp = validateHttpSpec(httpSpec);
    }
    const runtimePolicy = validateRuntimePolicy(policy ?? {}, this.limits);
    const schema = paramSchema == null ? null : (validateParamSchema(paramSchema) as Record<string, unknown>);
    return {
      source: checkedSource,
      httpSpec: checkedHttp,
      paramSchema: schema,
      timeoutMs: runtimePolicy.timeoutMs,
      memoryLimitMb: runtimePolicy.memoryLimitMb,
      allowNetwork: runtimePolicy.allowNetwork,
      allowedHosts: runtimePolicy.allowedHosts,
    };
  }

  async create(input: CreateApiInput): Promise<ApiDefinition> {
    const name = checkName(input.name);
    const kind = input.kind ?? 'SCRIPT';
    if (!KINDS.includes(kind)) throw badInput(`input.kind: expected one of ${KINDS.join(', ')}`, { field: 'input.kind' });
    const body = this.checkBody(kind, input.source, input.httpSpec, input.paramSchema, input.runtimePolicy);
    const now = this.clock.now();
    const api: ApiDefinition = {
      id: newId(),
      name,
      description: checkDescription(input.description),
      kind,
      ...body,
      active: input.active ?? true,
      createdBy: checkWellFormed(input.createdBy ?? null, 'input.createdBy'),
      createdAt: now,
      updatedAt: now,
    };
    await writeNamed('API definition', name, () => this.fork().insert(ApiDefinitionSchema, withOpaqueJson(api)));
    return api;
  }

  /**
   * Fields given replace the stored ones; a runtimePolicy given is merged key by key over the
   * stored policy (keys left out keep their value). The result is validated as a whole.
   */
  async update(id: string, input: UpdateApiInput): Promise<ApiDefinition> {
    const em = this.fork();
    const current = await findOrRefuse('API definition', id, () => em.findOne(ApiDefinitionSchema, { id }));
    const name = input.name != null ? checkName(input.name) : current.name;
    const policy: RuntimePolicyInput = {
      timeoutMs: input.runtimePolicy?.timeoutMs ?? current.timeoutMs,
      memoryLimitMb: input.runtimePolicy?.memoryLimitMb ?? current.memoryLimitMb,
      allowNetwork: input.runtimePolicy?.allowNetwork ?? current.allowNetwork,
      allowedHosts: input.runtimePolicy?.allowedHosts ?? current.allowedHosts,
    };
    const body = this.checkBody(
      current.kind,
      input.source !== undefined && input.source !== null ? input.source : current.source,
      // A literal credential read back as [redacted] and sent again keeps its stored value.
      input.httpSpec != null ? restoreCredentials(input.httpSpec, current.httpSpec) : current.httpSpec,
      input.paramSchema !== undefined ? input.paramSchema : current.paramSchema,
      policy,
    );
    const changes: Partial<ApiDefinition> = {
      name,
      description: input.description !== undefined ? checkDescription(input.description) : current.description,
      ...body,
      active: input.active ?? current.active,
      updatedAt: nextTimestamp(this.clock, current.updatedAt),
    };
    await writeNamed('API definition', name, () => em.nativeUpdate(ApiDefinitionSchema, { id }, withOpaqueJson(changes)));
    const updated = { ...current, ...changes } as ApiDefinition;
    return updated;
  }

  delete(id: string): Promise<string> {
    return deleteOrRefuse('API definition', id, () => this.fork().nativeDelete(ApiDefinitionSchema, { id }));
  }
}

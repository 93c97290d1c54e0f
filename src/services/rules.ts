import type { EntityManager } from '@mikro-orm/postgresql';
import { restoreCredentials } from '../shared/credentials.js';
import { validateActionSpec, validateTriggerSpec, type TriggerType } from '../engine/index.js';
import { RuleSchema, type Rule } from '../entities/index.js';
import { badInput } from '../errors.js';
import { nextTimestamp, systemClock, type Clock } from '../shared/clock.js';
import { checkDescription, checkName, checkWellFormed } from './names.js';
import { newestFirstPage, isUuid, parsePage, type Connection, type PageArgs } from './pagination.js';
import { newId } from '../shared/ids.js';
import { withOpaqueJson } from '../db/jsonValues.js';
import { deleteOrRefuse, findOrRefuse, writeNamed } from './records.js';

export interface RuleFilter {
  active?: boolean | null;
  triggerType?: TriggerType | null;
  search?: string | null;
}

export interface CreateRuleInput {
  name: string;
  description?: string | null;
  triggerType?: TriggerType | null;
  triggerSpec?: unknown;
  actionSpec?: unknown;
  active?: boolean | null;
  createdBy?: string | null;
}

export type UpdateRuleInput = Omit<Partial<CreateRuleInput>, 'createdBy' | 'name'> & { name?: string | null };

/** Told every time a rule is written, so compiled caches and matchers can follow. */
export type RuleChangeListener = (change: { id: string; rule: Rule | null }) => void;

const TRIGGER_TYPES: readonly TriggerType[] = ['EVENT', 'SCHEDULE', 'METRIC'];

function checkTriggerType(value: unknown): TriggerType {
  if (!TRIGGER_TYPES.includes(value as TriggerType))
    throw badInput(`input.triggerType: expected one of ${TRIGGER_TYPES.join(', ')}`, { field: 'input.triggerType' });
  return value as TriggerType;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export class RuleService {
  private readonly listeners = new Set<RuleChangeListener>();

  constructor(
    private readonly fork: () => EntityManager,
    private readonly clock: Clock = systemClock,
  ) {}

  onChange(listener: RuleChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(id: string, rule: Rule | null) {
    for (const listener of this.listeners) listener({ id, rule });
  }

  async get(id: string): Promise<Rule | null> {
    if (!isUuid(id)) return null;
    return this.fork().findOne(RuleSchema, { id }, { disableIdentityMap: true });
  }

  async getMany(ids: readonly string[]): Promise<(Rule | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.fork().find(RuleSchema, { id: { $in: valid } }, { disableIdentityMap: true }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async list(filter: RuleFilter | null | undefined, pageArgs: PageArgs): Promise<Connection<Rule>> {
    const page = parsePage(pageArgs);
    const where: Record<string, unknown> = {};
    if (filter?.active != null) where.active = filter.active;
    if (filter?.triggerType != null) where.triggerType = checkTriggerType(filter.triggerType);
    if (filter?.search) where.name = { $ilike: `%${escapeLike(filter.search)}%` };
    return newestFirstPage(this.fork(), RuleSchema, where, page, 'createdAt');
  }

  async create(input: CreateRuleInput): Promise<Rule> {
    const name = checkName(input.name);
    const triggerType = checkTriggerType(input.triggerType ?? 'EVENT');
    const triggerSpec = validateTriggerSpec(triggerType, input.triggerSpec);
    const { spec: actionSpec, actionType } = validateActionSpec(input.actionSpec);
    const now = this.clock.now();
    const rule: Rule = {
      id: newId(),
      name,
      description: checkDescription(input.description),
      triggerType,
      triggerSpec,
      actionSpec,
      actionType,
      active: input.active ?? true,
      createdBy: checkWellFormed(input.createdBy ?? null, 'input.createdBy'),
      createdAt: now,
      updatedAt: now,
    };
    await writeNamed('rule', name, () => this.fork().insert(RuleSchema, withOpaqueJson(rule)));
    this.changed(rule.id, rule);
    return rule;
  }

  /** Each field given replaces the stored one whole; the resulting rule is validated as a whole. */
  async update(id: string, input: UpdateRuleInput): Promise<Rule> {
    const em = this.fork();
    const current = await findOrRefuse('rule', id, () => em.findOne(RuleSchema, { id }));
    const name = input.name != null ? checkName(input.name) : current.name;
    const triggerType = input.triggerType != null ? checkTriggerType(input.triggerType) : current.triggerType;
    // A literal credential read back as [redacted] and sent again keeps its stored value.
    const triggerSpec = validateTriggerSpec(triggerType, restoreCredentials(input.triggerSpec ?? current.triggerSpec, current.triggerSpec));
    const { spec: actionSpec, actionType } = validateActionSpec(restoreCredentials(input.actionSpec ?? current.actionSpec, current.actionSpec));
    const changes: Partial<Rule> = {
      name,
      description: input.description !== undefined ? checkDescription(input.description) : current.description,
      triggerType,
      triggerSpec,
      actionSpec,
      actionType,
      active: input.active ?? current.active,
      updatedAt: nextTimestamp(this.clock, current.updatedAt),
    };
    await writeNamed('rule', name, () => em.nativeUpdate(RuleSchema, { id }, withOpaqueJson(changes)));
    const updated = { ...current, ...changes } as Rule;
    this.changed(id, updated);
    return updated;
  }

  /** Deletes the rule; its executions, logs and cascade events stay. */
  async delete(id: string): Promise<string> {
    await deleteOrRefuse('rule', id, () => this.fork().nativeDelete(RuleSchema, { id }));
    this.changed(id, null);
    return id;
  }
}

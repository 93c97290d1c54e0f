import type { EntityManager } from '@mikro-orm/postgresql';
import { withOpaqueJson } from '../db/jsonValues.js';
import { AuditEntrySchema, type AuditEntry } from '../entities/index.js';
import type { Logger } from '../logger.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { checkWellFormed } from './names.js';
import { newestFirstPage, parsePage, type Connection, type PageArgs } from './pagination.js';

export interface AuditRecord {
  actor: string;
  action: string;
  targetId: string | null;
  /** The arguments as they may be kept: secret values, key secrets and literal credentials already removed. */
  detail: unknown;
}

export interface AuditFilter {
  actor?: string | null;
  targetId?: string | null;
}

/** The audit trail of configuration changes (SPEC.md, 'Access'). */
export class AuditService {
  constructor(
    private readonly fork: () => EntityManager,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Writes one entry. The change it describes is already stored, so a refused write is logged
   * (what, on which target, never the arguments) rather than reported as the change failing.
   */
  async record(record: AuditRecord): Promise<void> {
    const entry: AuditEntry = { id: newId(), at: this.clock.now(), ...record };
    try {
      await this.fork().insert(AuditEntrySchema, withOpaqueJson(entry));
    } catch (error) {
      this.logger.error({ err: error, action: record.action, targetId: record.targetId, actor: record.actor }, 'writing an audit entry failed');
    }
  }

  /** Newest first. */
  async list(filter: AuditFilter, pageArgs: PageArgs): Promise<Connection<AuditEntry>> {
    const page = parsePage(pageArgs);
    const where: Record<string, unknown> = {};
    if (filter.actor != null) where.actor = checkWellFormed(filter.actor, 'actor');
    if (filter.targetId != null) where.targetId = checkWellFormed(filter.targetId, 'targetId');
    return newestFirstPage(this.fork(), AuditEntrySchema, where, page, 'at');
  }
}

import { RuleStatsSchema, type RuleStatsRow } from '../../entities/index.js';
import { uuidArray } from './columns.js';
import { entityTable } from './entityTable.js';
import type { Sql } from './sqlClient.js';

/** A rule's counts, as added to or read from its `rule_stats` row. */
export type RuleCounts = Pick<RuleStatsRow, 'ruleId' | 'matched' | 'ran' | 'held' | 'failed'>;

const RULE_STATS = entityTable(RuleStatsSchema);

/** The rows of `rule_stats`: per-rule counters that every instance adds to. */
export class RuleStatsStore {
  constructor(private readonly sql: Sql) {}

  /** Adds the counts to the stored ones, creating rows as needed, in one statement. */
  async add(counts: readonly RuleCounts[]): Promise<void> {
    const rows = counts.map(({ ruleId, ...s }) => ({ rule_id: ruleId, ...s }));
    await this.sql.query(
      `INSERT INTO rule_stats (rule_id, matched, ran, held, failed)
       SELECT rule_id, matched, ran, held, failed FROM jsonb_to_recordset(?::jsonb) AS r(rule_id uuid, matched bigint, ran bigint, held bigint, failed bigint)
       ON CONFLICT (rule_id) DO UPDATE SET
         matched = rule_stats.matched + excluded.matched, ran = rule_stats.ran + excluded.ran,
         held = rule_stats.held + excluded.held, failed = rule_stats.failed + excluded.failed, updated_at = now()`,
      [JSON.stringify(rows)],
    );
  }

  /** The stored rows of the rules that have one. */
  async read(ruleIds: readonly string[]): Promise<RuleStatsRow[]> {
    const rows = await this.sql.query('SELECT * FROM rule_stats WHERE rule_id = ANY(?::uuid[])', [uuidArray(ruleIds)]);
    return rows.map(RULE_STATS.toEntity);
  }
}

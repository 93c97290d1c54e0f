import type { Rule } from '../../entities/index.js';
import { toRule } from './rows.js';
import type { Sql } from './sqlClient.js';

/** The engine's reads of `rules` (the service layer writes them through the ORM). */
export class RuleStore {
  constructor(private readonly sql: Sql) {}

  /** The rule as stored now, or null when there is none. */
  async get(id: string): Promise<Rule | null> {
    const [row] = await this.sql.query('SELECT * FROM rules WHERE id = ?', [id]);
    return row ? toRule(row) : null;
  }

  /** The active EVENT rules, oldest first. */
  async activeEventRules(): Promise<Rule[]> {
    const rows = await this.sql.query(`SELECT * FROM rules WHERE active AND trigger_type = 'EVENT' ORDER BY created_at, id`);
    return rows.map(toRule);
  }
}

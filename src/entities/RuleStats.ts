import { EntitySchema } from '@mikro-orm/core';

/** A rule's counters, summed over instances (each adds what it counted every few seconds). */
export interface RuleStatsRow {
  ruleId: string;
  matched: number;
  ran: number;
  held: number;
  failed: number;
  updatedAt: Date;
}

export const RuleStatsSchema = new EntitySchema<RuleStatsRow>({
  name: 'RuleStats',
  tableName: 'rule_stats',
  properties: {
    ruleId: { type: 'uuid', primary: true },
    // bigint in the table; PostgreSQL returns it as text, read as a number.
    matched: { type: 'bigint', default: 0 },
    ran: { type: 'bigint', default: 0 },
    held: { type: 'bigint', default: 0 },
    failed: { type: 'bigint', default: 0 },
    updatedAt: { type: 'Date', columnType: 'timestamptz(3)', defaultRaw: 'now()' },
  },
});

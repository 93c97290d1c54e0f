import { EntitySchema } from '@mikro-orm/core';

/**
 * The lease of one active SCHEDULE or METRIC rule: its next due run, who holds it (until when),
 * and, for METRIC, whether the rule is armed (edge trigger).
 */
export interface ScheduleLease {
  ruleId: string;
  kind: string;
  timing: string;
  ruleUpdatedAt: Date;
  dueAt: Date;
  owner: string | null;
  leaseUntil: Date | null;
  takenOver: boolean;
  lastFiredDue: Date | null;
  lastFiredAt: Date | null;
  metricArmed: boolean;
  updatedAt: Date;
}

export const ScheduleLeaseSchema = new EntitySchema<ScheduleLease>({
  name: 'ScheduleLease',
  tableName: 'schedule_leases',
  properties: {
    ruleId: { type: 'uuid', primary: true },
    kind: { type: 'text' },
    timing: { type: 'text' },
    ruleUpdatedAt: { type: 'Date', columnType: 'timestamptz(3)' },
    dueAt: { type: 'Date', columnType: 'timestamptz(3)' },
    owner: { type: 'uuid', nullable: true },
    leaseUntil: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    takenOver: { type: 'boolean', default: false },
    lastFiredDue: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    lastFiredAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    metricArmed: { type: 'boolean', default: true },
    updatedAt: { type: 'Date', columnType: 'timestamptz(3)', defaultRaw: 'now()' },
  },
});

import { EntitySchema } from '@mikro-orm/core';
import type { ActionSpec, TriggerSpec } from '../engine/rules/spec/types.js';

export type TriggerTypeValue = 'EVENT' | 'SCHEDULE' | 'METRIC';
export type ActionTypeValue = 'WEBHOOK' | 'API_SCRIPT' | 'TRIGGER_RULE';

export interface Rule {
  id: string;
  name: string;
  description: string | null;
  triggerType: TriggerTypeValue;
  triggerSpec: TriggerSpec;
  actionSpec: ActionSpec;
  actionType: ActionTypeValue;
  active: boolean;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const RuleSchema = new EntitySchema<Rule>({
  name: 'Rule',
  tableName: 'rules',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text', unique: 'rules_name_unique' },
    description: { type: 'text', nullable: true },
    triggerType: { type: 'text' },
    triggerSpec: { type: 'json' },
    actionSpec: { type: 'json' },
    actionType: { type: 'text' },
    active: { type: 'boolean', default: true },
    createdBy: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz(3)' },
    updatedAt: { type: 'Date', columnType: 'timestamptz(3)' },
  },
  indexes: [{ name: 'rules_created_at_id_index', properties: ['createdAt', 'id'] }],
});

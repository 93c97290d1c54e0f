import { EntitySchema } from '@mikro-orm/core';
import type { HttpSpec } from '../engine/rules/spec/types.js';

export type ApiKindValue = 'SCRIPT' | 'HTTP';

export interface ApiDefinition {
  id: string;
  name: string;
  description: string | null;
  kind: ApiKindValue;
  source: string | null;
  httpSpec: HttpSpec | null;
  paramSchema: Record<string, unknown> | null;
  timeoutMs: number;
  memoryLimitMb: number;
  allowNetwork: boolean;
  allowedHosts: string[];
  active: boolean;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const ApiDefinitionSchema = new EntitySchema<ApiDefinition>({
  name: 'ApiDefinition',
  tableName: 'api_definitions',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text', unique: 'api_definitions_name_unique' },
    description: { type: 'text', nullable: true },
    kind: { type: 'text' },
    source: { type: 'text', nullable: true },
    httpSpec: { type: 'json', nullable: true },
    paramSchema: { type: 'json', nullable: true },
    timeoutMs: { type: 'integer' },
    memoryLimitMb: { type: 'integer' },
    allowNetwork: { type: 'boolean', default: false },
    allowedHosts: { type: 'json', defaultRaw: `'[]'` },
    active: { type: 'boolean', default: true },
    createdBy: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz(3)' },
    updatedAt: { type: 'Date', columnType: 'timestamptz(3)' },
  },
  indexes: [{ name: 'api_definitions_created_at_id_index', properties: ['createdAt', 'id'] }],
});

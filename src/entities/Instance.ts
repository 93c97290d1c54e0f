import { EntitySchema } from '@mikro-orm/core';

/** A running service instance and its heartbeat, so any instance can sweep the runs of a dead one. */
export interface Instance {
  id: string;
  hostname: string;
  pid: number;
  startedAt: Date;
  heartbeatAt: Date;
}

export const InstanceSchema = new EntitySchema<Instance>({
  name: 'Instance',
  tableName: 'instances',
  properties: {
    id: { type: 'uuid', primary: true },
    hostname: { type: 'text' },
    pid: { type: 'integer' },
    startedAt: { type: 'Date', columnType: 'timestamptz(3)', defaultRaw: 'now()' },
    heartbeatAt: { type: 'Date', columnType: 'timestamptz(3)', defaultRaw: 'now()' },
  },
  indexes: [{ name: 'instances_heartbeat_index', properties: ['heartbeatAt'] }],
});

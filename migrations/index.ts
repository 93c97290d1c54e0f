import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126000000_initial } from './Migration20261126000000_initial.js';
import { Migration20261126010000_instances } from './Migration20261126010000_instances.js';
import { Migration20261126020000_rule_stats_and_queue } from './Migration20261126020000_rule_stats_and_queue.js';
import { Migration20261126030000_schedule_leases } from './Migration20261126030000_schedule_leases.js';
import { Migration20261127000000_execution_finish } from './Migration20261127000000_execution_finish.js';
import { Migration20261127010000_drop_execution_rows } from './Migration20261127010000_drop_execution_rows.js';
import { Migration20261127020000_cascade_event_runs } from './Migration20261127020000_cascade_event_runs.js';
import { Migration20261127030000_drop_execution_finished_check } from './Migration20261127030000_drop_execution_finished_check.js';
import { Migration20261207000000_access } from './Migration20261207000000_access.js';
import { Migration20261207100000_delivery } from './Migration20261207100000_delivery.js';

/** Every migration, oldest first. A new migration is a new file here and a new line below. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261126000000_initial', class: Migration20261126000000_initial },
  { name: 'Migration20261126010000_instances', class: Migration20261126010000_instances },
  { name: 'Migration20261126020000_rule_stats_and_queue', class: Migration20261126020000_rule_stats_and_queue },
  { name: 'Migration20261126030000_schedule_leases', class: Migration20261126030000_schedule_leases },
  { name: 'Migration20261127000000_execution_finish', class: Migration20261127000000_execution_finish },
  { name: 'Migration20261127010000_drop_execution_rows', class: Migration20261127010000_drop_execution_rows },
  { name: 'Migration20261127020000_cascade_event_runs', class: Migration20261127020000_cascade_event_runs },
  { name: 'Migration20261127030000_drop_execution_finished_check', class: Migration20261127030000_drop_execution_finished_check },
  { name: 'Migration20261207000000_access', class: Migration20261207000000_access },
  { name: 'Migration20261207100000_delivery', class: Migration20261207100000_delivery },
];

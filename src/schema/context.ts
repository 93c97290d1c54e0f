import type { ApiDefinitionService } from '../services/apis.js';
import type { RuleService } from '../services/rules.js';

/** What resolvers reach: services only, never the ORM or the engine internals directly. */
export interface Services {
  rules: RuleService;
  apis: ApiDefinitionService;
}

export interface GraphQLContext {
  services: Services;
}

import type { Principal } from '../access/principal.js';
import type { RateLimits } from '../access/rateLimit/index.js';
import type { ApiKeyService } from '../services/apiKeys.js';
import type { ApiDefinitionService } from '../services/apis.js';
import type { AuditService } from '../services/audit.js';
import type { ApiRunService } from '../services/apiRuns.js';
import type { ExecutionService } from '../services/executions.js';
import type { IdempotencyService } from '../services/idempotency.js';
import type { RuleService } from '../services/rules.js';
import type { SecretService } from '../services/secrets.js';
import type { Loaders } from './loaders.js';

/** What resolvers reach: services only, never the ORM or the engine internals directly. */
export interface Services {
  rules: RuleService;
  apis: ApiDefinitionService;
  executions: ExecutionService;
  apiRuns: ApiRunService;
  apiKeys: ApiKeyService;
  audit: AuditService;
  /** RATE_LIMIT_RUNS and RATE_LIMIT_EVENTS: what run-starting and publishing fields spend. */
  rateLimits: RateLimits;
  secrets: SecretService;
  /** Calls made with an idempotency key run at most once (SPEC.md, 'Idempotency'). */
  idempotency: IdempotencyService;
}

export interface GraphQLContext {
  services: Services;
  loaders: Loaders;
  /** Who the request acts as (SPEC.md, 'Access'). */
  viewer: Principal;
  /** The client's IP address (rate limits of OPEN mode). */
  clientAddress: string;
}

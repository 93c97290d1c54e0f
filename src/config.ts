import { z } from 'zod';
import { parseAllowlistEntry } from './engine/outbound/guard.js';

/** Thrown when the environment holds a setting the service cannot start with. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid setting ${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v.trim());
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number, got "${v}"` });
        return z.NEVER;
      }
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a number from ${min} to ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a URL' });
        return z.NEVER;
      }
      if (!protocols.includes(url.protocol)) {
        ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL, got ${url.protocol}` });
        return z.NEVER;
      }
      return v;
    });

const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** OUTBOUND_ALLOWLIST: every entry must be a host name, `*.suffix`, IP address or CIDR. */
const allowlist = list.superRefine((entries, ctx) => {
  for (const entry of entries) {
    try {
      parseAllowlistEntry(entry);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^OUTBOUND_ALLOWLIST /, '') });
      return;
    }
  }
});

/** Every setting of the service: environment variable name -> parsed value. */
const envSchema = z.object({
  PORT: int(4000, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  DATABASE_POOL_MAX: int(10, 1, 1000),
  EMBEDDED_DATA_DIR: z.string().min(1).default('.data/pglite'),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  OUTBOUND_ALLOWLIST: allowlist,
  MAX_CASCADE_DEPTH: int(8, 0, 1000),
  SCRIPT_MAX_TIMEOUT_MS: int(30000, 1, 600_000),
  SCRIPT_MAX_MEMORY_MB: int(256, 8, 8192),
  SCRIPT_OUTPUT_MAX_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  GRAPHIQL: bool(true),
  MAX_REQUEST_BYTES: int(1_048_576, 1024, 256 * 1_048_576),
  MAX_QUERY_DEPTH: int(12, 1, 100),
  MAX_QUERY_COST: int(20000, 100, 10_000_000),
  MAX_ALIASES: int(30, 1, 1000),
  MAX_TOKENS: int(2000, 100, 1_000_000),
  HEARTBEAT_INTERVAL_MS: int(5000, 100, 600_000),
  HEARTBEAT_STALE_MS: int(30000, 500, 3_600_000),
  SHUTDOWN_GRACE_MS: int(10000, 0, 600_000),
  SCHEDULER_TICK_MS: int(1000, 20, 60_000),
  METRIC_POLL_TIMEOUT_MS: int(10000, 100, 120_000),
  EXECUTION_RETENTION_DAYS: int(30, 0, 36_500),
  EXECUTION_RETENTION_INTERVAL_MS: int(300_000, 1000, 86_400_000),
  EXECUTION_RETENTION_BATCH: int(500, 1, 100_000),
  STREAM_MAX_GROUPS: int(100_000, 1, 100_000_000),
  EVENTS_MAX_BYTES: int(16 * 1_048_576, 1024, 1024 * 1_048_576),
  SCRIPT_MAX_QUEUED: int(1000, 0, 1_000_000),
  WS_MAX_SUBSCRIPTIONS: int(100, 1, 100_000),
  WS_MAX_CONNECTIONS: int(10_000, 1, 1_000_000),
  SUBSCRIPTION_BUFFER: int(10_000, 1, 10_000_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['auto', 'true', 'false']).default('auto'),
});

type Env = z.output<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databasePoolMax: number;
  embeddedDataDir: string;
  redisUrl: string | undefined;
  outboundAllowlist: string[];
  maxCascadeDepth: number;
  scriptMaxTimeoutMs: number;
  scriptMaxMemoryMb: number;
  scriptOutputMaxBytes: number;
  graphiql: boolean;
  maxRequestBytes: number;
  limits: { depth: number; cost: number; aliases: number; tokens: number };
  heartbeatIntervalMs: number;
  heartbeatStaleMs: number;
  shutdownGraceMs: number;
  /** How often the scheduler reloads SCHEDULE/METRIC rules and claims due runs. */
  schedulerTickMs: number;
  /** Deadline of one METRIC poll (also bounded by the rule's pollIntervalSeconds). */
  metricPollTimeoutMs: number;
  /** Executions (with logs, cascade events, API runs) older than this are deleted; 0 keeps them. */
  executionRetentionDays: number;
  executionRetentionIntervalMs: number;
  /** Cascades (or direct API runs) deleted per statement. */
  executionRetentionBatch: number;
  streamMaxGroups: number;
  eventsMaxBytes: number;
  /** Script runs that may wait for a free isolate; one more fails at once with SANDBOX_BUSY. */
  scriptMaxQueued: number;
  /** graphql-ws: subscriptions per connection, connections per instance, messages a subscriber may lag. */
  wsMaxSubscriptions: number;
  wsMaxConnections: number;
  subscriptionBuffer: number;
  logLevel: Env['LOG_LEVEL'];
  logPretty: boolean;
}

/** The names of every variable the service reads, for docs and .env.example checks. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

/**
 * Reads and checks every setting. Empty strings count as unset, so `PORT=` in an
 * .env file means "use the default" rather than "port zero".
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const value = source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const detail = issue.code === 'invalid_value' ? `expected one of ${issue.values.join(', ')}, got "${raw[variable]}"` : issue.message;
    throw new ConfigError(variable, detail);
  }
  const env = parsed.data;
  return {
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    embeddedDataDir: env.EMBEDDED_DATA_DIR,
    redisUrl: env.REDIS_URL,
    outboundAllowlist: env.OUTBOUND_ALLOWLIST,
    maxCascadeDepth: env.MAX_CASCADE_DEPTH,
    scriptMaxTimeoutMs: env.SCRIPT_MAX_TIMEOUT_MS,
    scriptMaxMemoryMb: env.SCRIPT_MAX_MEMORY_MB,
    scriptOutputMaxBytes: env.SCRIPT_OUTPUT_MAX_BYTES,
    graphiql: env.GRAPHIQL,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    limits: { depth: env.MAX_QUERY_DEPTH, cost: env.MAX_QUERY_COST, aliases: env.MAX_ALIASES, tokens: env.MAX_TOKENS },
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    heartbeatStaleMs: env.HEARTBEAT_STALE_MS,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    schedulerTickMs: env.SCHEDULER_TICK_MS,
    metricPollTimeoutMs: env.METRIC_POLL_TIMEOUT_MS,
    executionRetentionDays: env.EXECUTION_RETENTION_DAYS,
    executionRetentionIntervalMs: env.EXECUTION_RETENTION_INTERVAL_MS,
    executionRetentionBatch: env.EXECUTION_RETENTION_BATCH,
    streamMaxGroups: env.STREAM_MAX_GROUPS,
    eventsMaxBytes: env.EVENTS_MAX_BYTES,
    scriptMaxQueued: env.SCRIPT_MAX_QUEUED,
    wsMaxSubscriptions: env.WS_MAX_SUBSCRIPTIONS,
    wsMaxConnections: env.WS_MAX_CONNECTIONS,
    subscriptionBuffer: env.SUBSCRIPTION_BUFFER,
    logLevel: env.LOG_LEVEL,
    logPretty: env.LOG_PRETTY === 'auto' ? Boolean(process.stdout.isTTY) : env.LOG_PRETTY === 'true',
  };
}

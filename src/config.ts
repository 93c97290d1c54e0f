import { z } from 'zod';
import { parseAllowlistEntry } from './engine/outbound/guard.js';
import { SIGNING_SECRET_FORMAT, parseSigningSecret } from './engine/delivery/signing.js';
import type { TracingSettings } from './observability/tracing.js';

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

/** CORS_ORIGINS: each entry an origin (scheme, host and optional port), kept as URL.origin writes it. */
const originList = list.transform((entries, ctx) => {
  const origins: string[] = [];
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not an origin such as https://console.example.com` });
      return z.NEVER;
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.origin === 'null' || url.pathname.length > 1 || url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not an origin such as https://console.example.com (scheme, host and port only)` });
      return z.NEVER;
    }
    origins.push(url.origin);
  }
  return origins;
});

/** SECRETS_KEY(_PREVIOUS): 32 bytes as 64 hex digits or base64. */
const secretsKey = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const text = v.trim();
    const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
    if (key?.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'expected 32 bytes, as 64 hex digits or base64 (openssl rand -hex 32)' });
      return z.NEVER;
    }
    return key;
  });

/** WEBHOOK_SIGNING_SECRET: a Standard Webhooks secret; the message never holds the value. */
const signingSecret = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const secret = parseSigningSecret(v);
    if (secret === null) {
      ctx.addIssue({ code: 'custom', message: `expected ${SIGNING_SECRET_FORMAT}` });
      return z.NEVER;
    }
    return secret;
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
  METRICS: bool(true),
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
  AUTH_MODE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const mode = v.trim().toLowerCase();
      if (mode !== 'open' && mode !== 'keys') {
        ctx.addIssue({ code: 'custom', message: `expected open or keys, got "${v}"` });
        return z.NEVER;
      }
      return mode;
    }),
  ADMIN_KEY: z
    .string()
    .regex(/^[\x21-\x7e]{32,512}$/, 'expected 32 to 512 visible ASCII characters, without spaces (openssl rand -hex 32)')
    .optional(),
  CORS_ORIGINS: originList,
  ALLOWED_HOSTS: list.superRefine((names, ctx) => {
    const withPort = names.find((name) => /:\d*$/.test(name) && !/^\[.*\]$/.test(name));
    if (withPort) ctx.addIssue({ code: 'custom', message: `"${withPort}" has a port; list host names without ports` });
  }),
  SECRETS_KEY: secretsKey,
  SECRETS_KEY_PREVIOUS: secretsKey,
  WEBHOOK_SIGNING_SECRET: signingSecret,
  RATE_LIMIT_RUNS: int(0, 0, 1_000_000),
  RATE_LIMIT_EVENTS: int(0, 0, 100_000_000),
  IDEMPOTENCY_TTL_SECONDS: int(86_400, 1, 31_536_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['auto', 'true', 'false']).default('auto'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(['http:', 'https:']),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl(['http:', 'https:']),
  OTEL_SERVICE_NAME: z.string().min(1).default('cepheus'),
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
  /** Serve Prometheus metrics at GET /metrics. */
  metrics: boolean;
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
  /** OPEN: every request acts as ADMIN `local`; KEYS: every request presents an API key. */
  authMode: 'OPEN' | 'KEYS';
  /** A key with role ADMIN and name `admin` that is not stored (KEYS mode). */
  adminKey: string | undefined;
  /** Origins besides the service's own that browsers may call it from. */
  corsOrigins: string[];
  /** Host names besides localhost, 127.0.0.1 and [::1] that a loopback-bound service answers. */
  allowedHosts: string[];
  /** AES-256 keys of stored secrets: the current one, and the one values may still be under. */
  secretsKey: Buffer | undefined;
  secretsKeyPrevious: Buffer | undefined;
  /** Signs every webhook whose spec has no signingSecret of its own (Standard Webhooks `whsec_...`). */
  webhookSigningSecret: string | undefined;
  /** Per key (per client address in OPEN mode), per second; 0 is no limit. */
  rateLimitRuns: number;
  rateLimitEvents: number;
  /** How long a call made with an idempotency key is remembered. */
  idempotencyTtlSeconds: number;
  logLevel: Env['LOG_LEVEL'];
  logPretty: boolean;
  /** Where spans are sent (OTLP/HTTP); null: tracing is off and its SDK is never loaded. */
  tracing: TracingSettings | null;
}

/** 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 or localhost (SPEC.md, 'Access'). */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) && v4.split('.').every((part) => Number(part) <= 255);
}

/** The access mode the settings ask for, or a ConfigError naming what to set. */
function authModeOf(env: Env): 'OPEN' | 'KEYS' {
  if (env.ADMIN_KEY !== undefined && env.AUTH_MODE === 'open')
    throw new ConfigError('ADMIN_KEY', 'an admin key cannot be used with AUTH_MODE=open; unset one of them');
  if (env.ADMIN_KEY !== undefined || env.AUTH_MODE === 'keys') return 'KEYS';
  if (env.AUTH_MODE === 'open' || isLoopbackHost(env.HOST)) return 'OPEN';
  throw new ConfigError(
    'HOST',
    `${env.HOST} is not a loopback address and no API keys are set up; set ADMIN_KEY (at least 32 characters) or AUTH_MODE=keys, or AUTH_MODE=open to serve without keys`,
  );
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
    metrics: env.METRICS,
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
    authMode: authModeOf(env),
    adminKey: env.ADMIN_KEY,
    corsOrigins: env.CORS_ORIGINS,
    allowedHosts: env.ALLOWED_HOSTS.map((host) => host.toLowerCase()),
    secretsKey: env.SECRETS_KEY,
    secretsKeyPrevious: env.SECRETS_KEY_PREVIOUS,
    webhookSigningSecret: env.WEBHOOK_SIGNING_SECRET,
    rateLimitRuns: env.RATE_LIMIT_RUNS,
    rateLimitEvents: env.RATE_LIMIT_EVENTS,
    idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
    logLevel: env.LOG_LEVEL,
    logPretty: env.LOG_PRETTY === 'auto' ? Boolean(process.stdout.isTTY) : env.LOG_PRETTY === 'true',
    tracing: tracingSettings(env),
  };
}

/**
 * The traces URL as the OTLP exporters read the standard variables: the traces endpoint as
 * given, else the base endpoint with `v1/traces` added.
 */
function tracingSettings(env: Env): TracingSettings | null {
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  return url === undefined ? null : { url, serviceName: env.OTEL_SERVICE_NAME };
}

import { DriverException } from '@mikro-orm/core';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Fields that may hold request bodies, statement parameters or header values; whatever logs
 * them, the line shows `[redacted]` instead.
 */
const REDACTED_PATHS = [
  'req.headers',
  'res.headers',
  'headers',
  '*.headers',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'body',
  '*.body',
  'req.body',
  'params',
  '*.params',
  'parameters',
  '*.parameters',
  'bindings',
  '*.bindings',
  'variables',
  '*.variables',
];

/** What a database error may say in the log: never its message (statements, parameters, values), detail or where. */
const DATABASE_ERROR_FIELDS = ['code', 'constraint', 'table', 'column', 'schema', 'routine'] as const;

const isDatabaseError = (error: Error): boolean =>
  error instanceof DriverException ||
  ('severity' in error && typeof error.severity === 'string') ||
  ('sqlState' in error && typeof error.sqlState === 'string');

/**
 * The `err` of a log line. A database error (pg's DatabaseError, whose message knex prefixes
 * with the statement and its bound values; MikroORM's DriverException, which copies it) keeps
 * only its code, constraint and table; any other error its type, message, code, stack and cause.
 */
export function serializeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  // A GraphQLError repeats its original error's message: say only what the original may say.
  const original = (error as { originalError?: unknown }).originalError;
  if (original instanceof Error && depth < 3) return serializeError(original, depth + 1);
  if (isDatabaseError(error)) {
    const safe: Record<string, unknown> = { type: error.name };
    for (const field of DATABASE_ERROR_FIELDS) {
      const value: unknown = Reflect.get(error, field);
      if (typeof value === 'string') safe[field] = value;
    }
    return safe;
  }
  const code = (error as { code?: unknown }).code;
  const serialized: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  if (typeof code === 'string' || typeof code === 'number') serialized.code = code;
  if (error.cause !== undefined && depth < 3) serialized.cause = serializeError(error.cause, depth + 1);
  return serialized;
}

/**
 * JSON lines by default; human-readable when writing to a terminal (or LOG_PRETTY=true).
 * `destination` (tests) receives the JSON lines instead of stdout.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'cepheus' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  return pino({
    ...options,
    ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}

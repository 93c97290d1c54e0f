/**
 * Errors that cross the API. `code` becomes `extensions.code`; the message is meant for the
 * caller and never carries a stack trace, SQL or a secret.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'RULE_INACTIVE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'SLOW_CONSUMER'
  | 'INTERNAL_SERVER_ERROR';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badInput = (message: string, extensions: Record<string, unknown> = {}) => new AppError('BAD_USER_INPUT', message, extensions);

export const notFound = (message: string) => new AppError('NOT_FOUND', message);

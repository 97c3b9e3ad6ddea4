/** Postgres's unique_violation (23505), from node-postgres, Neon and PGlite alike. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, constraint: name } = error as { code?: unknown; constraint?: unknown };
  return code === '23505' && (constraint === undefined || name === constraint);
}

/** Thrown when a connection that already failed is used again (see lib/db/database.ts). */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** Socket-level failures: the database could not be reached or the connection broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * SQLSTATEs that mean "cannot serve now", not "this request is wrong": connection exceptions (08),
 * insufficient resources (53), operator intervention (57: 57014 query_canceled is our statement_timeout,
 * 57P01–57P05 shutdowns and restarts), lock_not_available (55P03) and the server ending a transaction left
 * idle too long (25P03).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)|^55P03$|^25P03$/;

/**
 * The driver's own messages, which carry no code: node-postgres and Neon's embedded copy of it
 * (connection lost, client-side `query_timeout`, `connectionTimeoutMillis` while connecting or while
 * waiting for a pool slot, a client used after its connection failed).
 */
const DRIVER_MESSAGES =
  /Connection terminated|Query read timeout|timeout exceeded when trying to connect|timeout expired|is not queryable|connect ECONNREFUSED|WebSocket was closed/i;

/** True when the database could not be reached, broke or timed out; such failures are 503s, not 500s. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if (error instanceof DatabaseUnavailableError) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/**
 * How long a request may wait on the database. Every bound is here so that the sum stays under the
 * 2 seconds in which API.md promises a 503 when the database is down or frozen.
 */
export interface DatabaseTimeouts {
  /** Getting a connection: waiting for a free pool slot plus opening (TCP, TLS, startup) a new one. */
  readonly connectMs: number;
  /**
   * One statement. Server-side it is `statement_timeout` (SET LOCAL in every transaction; the server
   * cancels with 57014 and the connection stays usable). Client-side the driver gives up
   * `READ_TIMEOUT_MARGIN_MS` later (pg's `query_timeout`), which is what bounds a frozen or unreachable
   * server and statements outside a transaction.
   */
  readonly statementMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { connectMs: 1500, statementMs: 1000 };

/** The server's own cancel should win while the server is alive: its error is cleaner and keeps the connection. */
export const READ_TIMEOUT_MARGIN_MS = 500;

/**
 * A transaction left open by a client that stalled or vanished (a frozen serverless instance, a network
 * partition) holds its row locks until the server ends it. This backstop is far above any pause our
 * own code makes inside a transaction (a bcrypt hash at the highest allowed cost).
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;

/** Migrations (`exec`) may legitimately wait on the migration lock or build an index. */
export const SCRIPT_TIMEOUT_MS = 300_000;

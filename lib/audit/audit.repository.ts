import type { Actor } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { JsonValue } from '../db/tables.js';

export interface AuditEntry {
  readonly tenantId: string | null;
  readonly action: string;
  readonly target?: { readonly type: string; readonly id: string };
  readonly metadata?: Record<string, JsonValue>;
}

/** The row of one audit event (recordAudit writes it; insertLogin writes it inside its one statement). */
export function auditRow(actor: Actor, entry: AuditEntry, at: Date) {
  return {
    tenant_id: entry.tenantId,
    action: entry.action,
    actor_type: actor.type,
    actor_id: actor.id,
    target_type: entry.target?.type ?? null,
    target_id: entry.target?.id ?? null,
    ip: actor.ip,
    request_id: actor.requestId,
    metadata: JSON.stringify(entry.metadata ?? {}) as unknown as JsonValue,
    created_at: at,
  };
}

/**
 * Appends one audit event. Call it with the transaction that makes the change, so the change and
 * its record commit (or roll back) together. Never put a secret into `metadata`.
 */
export async function recordAudit(executor: Db, actor: Actor, entry: AuditEntry, at: Date): Promise<void> {
  await executor
    .insertInto('audit_events')
    .values(auditRow(actor, entry, at))
    .execute();
}

/** A page of a tenant's audit events, newest first. */
export function listAuditEvents(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(executor.selectFrom('audit_events').selectAll().where('tenant_id', '=', tenantId), page);
}

import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database, JsonValue } from '../db/tables.js';

export type InvoiceRow = Selectable<Database['invoices']>;

export interface NewInvoice {
  readonly tenantId: string;
  readonly number: string;
  readonly body: JsonValue;
  readonly idempotencyKey: string | null;
  readonly requestHash: string;
  readonly at: Date;
}

/**
 * Inserts the invoice unless the tenant already used its Idempotency-Key: then nothing is inserted
 * and `undefined` comes back. The unique index decides, so of concurrent requests with one key exactly
 * one inserts; the others wait for its commit and find its row (findInvoiceByIdempotencyKey).
 */
export function insertInvoice(trx: Db, invoice: NewInvoice): Promise<InvoiceRow | undefined> {
  return trx
    .insertInto('invoices')
    .values({
      tenant_id: invoice.tenantId,
      number: invoice.number,
      body: JSON.stringify(invoice.body) as unknown as JsonValue,
      idempotency_key: invoice.idempotencyKey,
      request_hash: invoice.requestHash,
      created_at: invoice.at,
    })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
}

export function findInvoiceByIdempotencyKey(executor: Db, tenantId: string, key: string) {
  return executor
    .selectFrom('invoices')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

export function findInvoice(executor: Db, tenantId: string, id: string) {
  return executor
    .selectFrom('invoices')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findInvoiceTenant(executor: Db, id: string): Promise<string | undefined> {
  const row = await executor
    .selectFrom('invoices')
    .select('tenant_id')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.tenant_id;
}

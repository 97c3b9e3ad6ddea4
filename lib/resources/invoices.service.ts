import { recordAudit } from '../audit/audit.repository.js';
import { sha256Hex } from '../auth/secrets.js';
import type { JsonValue } from '../db/tables.js';
import { ValidationError } from '../errors.js';
import { findInvoiceByIdempotencyKey, type InvoiceRow, insertInvoice } from './invoices.repository.js';
import type { Change } from './settings.service.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * Accepts an invoice, once per Idempotency-Key (docs/decisions/0025): the first request with a key
 * inserts; a later one with the same validated body gets the same invoice (`replayed`); with another
 * body, 422. The body's hash is taken over the validated, re-serialised body, so key order and
 * white space do not make two equal invoices differ.
 */
export async function receiveInvoice(
  change: Change,
  body: { readonly number: string } & Record<string, unknown>,
  idempotencyKey: string | null,
): Promise<{ invoice: InvoiceRow; replayed: boolean }> {
  const json = JSON.stringify(body);
  const requestHash = sha256Hex(json);
  return change.db.transaction().execute(async (trx) => {
    const inserted = await insertInvoice(trx, {
      tenantId: change.tenantId,
      number: body.number,
      body: JSON.parse(json) as JsonValue,
      idempotencyKey,
      requestHash,
      at: change.at,
    });
    if (inserted) {
      await recordAudit(
        trx,
        change.actor,
        {
          tenantId: change.tenantId,
          action: 'invoice.received',
          target: { type: 'invoice', id: inserted.id },
          metadata: { number: body.number, idempotency_key: idempotencyKey !== null },
        },
        change.at,
      );
      return { invoice: inserted, replayed: false };
    }
    // Only reached with a key: the conflict target is the (tenant, key) index.
    const existing = await findInvoiceByIdempotencyKey(trx, change.tenantId, idempotencyKey ?? '');
    if (!existing) throw new Error('idempotency conflict without a row');
    if (existing.request_hash !== requestHash) {
      throw new ValidationError(
        [
          {
            path: `headers.${IDEMPOTENCY_HEADER}`,
            message: 'This Idempotency-Key was used with another request body.',
            code: 'idempotency_key_reused',
          },
        ],
        'Idempotency-Key reused with a different body.',
      );
    }
    return { invoice: existing, replayed: true };
  });
}

import * as z from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import { defineEndpoint, Reply } from '../http/endpoint.js';
import type { HeaderReader } from '../http/exchange.js';
import { lazy } from '../lazy.js';
import { findInvoice, findInvoiceTenant, type InvoiceRow } from './invoices.repository.js';
import { IDEMPOTENCY_HEADER, receiveInvoice } from './invoices.service.js';

const tags = ['Invoices'];
const invoiceKeys = { apiKey: { scopes: ['invoices'] } } as const;
const text = (max: number) => z.string().trim().min(1).max(max);
const isoDate = lazy(() => z.iso.date());

export const invoiceBody = lazy(() =>
  z.strictObject({
    number: z
      .string()
      .trim()
      .regex(/^[\w./-]{1,64}$/, '1–64 letters, digits and . / - _'),
    issue_date: isoDate(),
    due_date: isoDate().optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code (NGN)'),
    invoice_type_code: z
      .string()
      .regex(/^\d{3}$/, 'a UNCL 1001 code (380)')
      .optional(),
    buyer: z
      .strictObject({
        name: text(200),
        tin: z
          .string()
          .regex(/^\d[\d-]{7,19}$/)
          .optional(),
        email: z.email().optional(),
      })
      .optional(),
    note: text(1000).optional(),
    lines: z
      .array(
        z.strictObject({
          description: text(500),
          quantity: z.number().positive().max(1e9),
          unit_price: z.number().nonnegative().max(1e12),
          tax_category: z
            .string()
            .regex(/^[A-Z0-9_-]{1,30}$/, 'a FIRS tax category code')
            .optional(),
        }),
      )
      .min(1)
      .max(500),
  }),
);

const invoiceView = lazy(() =>
  z.object({
    id: z.uuid(),
    status: z.enum(['received']),
    created_at: z.string(),
    invoice: invoiceBody(),
  }),
);

function toInvoiceView(row: InvoiceRow) {
  return { id: row.id, status: row.status, created_at: row.created_at.toISOString(), invoice: row.body };
}

/** `Idempotency-Key`: 1–255 printable ASCII characters, as Stripe's; absent → no idempotency. */
function idempotencyKeyOf(headers: HeaderReader): string | null {
  const value = headers.get(IDEMPOTENCY_HEADER);
  if (value === null) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new ValidationError([
      { path: `headers.${IDEMPOTENCY_HEADER}`, message: '1–255 printable ASCII characters without spaces.' },
    ]);
  }
  return value;
}

export const createInvoiceEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/invoices',
  summary: "Submit an invoice for the key's tenant (Idempotency-Key as Stripe's)",
  tags,
  auth: invoiceKeys,
  tenant: 'caller',
  body: invoiceBody,
  response: {
    status: 202,
    description: 'Received; a retry with the same Idempotency-Key and body answers the same',
    schema: () => z.object({ id: z.uuid(), status: z.enum(['received']) }),
  },
  handler: async (ctx, { body }) => {
    const key = idempotencyKeyOf(ctx.headers);
    const { invoice, replayed } = await receiveInvoice(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      body,
      key,
    );
    return new Reply(
      202,
      { id: invoice.id, status: invoice.status },
      replayed ? { 'idempotent-replayed': 'true' } : {},
    );
  },
});

export const getInvoiceEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/invoices/{id}',
  summary: 'An invoice of the tenant',
  tags,
  auth: invoiceKeys,
  tenant: { ownerOf: 'id', lookup: findInvoiceTenant },
  params: () => z.object({ id: z.uuid() }),
  response: { status: 200, description: 'The invoice', schema: invoiceView },
  handler: async (ctx, { params }) => {
    const row = await findInvoice(ctx.db, ctx.tenantId, params.id);
    if (!row) throw new NotFoundError();
    return toInvoiceView(row);
  },
});

export const invoiceEndpoints = [createInvoiceEndpoint, getInvoiceEndpoint];
